"""/metrics, /healthz and /status, read as an operator would: over HTTP from the running app."""

from __future__ import annotations

from datetime import date, timedelta

import aiohttp

from bot.app import App
from tests.conftest import ANALYST, DEMO_DATA, ny

SESSION = date(2025, 1, 27)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(trust_env=False) as session, session.get(url) as response:
        return response.status, await response.text()


async def served(app: App):
    monitor = app.monitor(host="127.0.0.1", port=0)
    await monitor.start()
    return monitor, f"http://127.0.0.1:{monitor.port}"


def metric(text: str, name: str) -> float:
    """The value of one sample line, `name` with its labels exactly as written."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics:\n{text}")


async def test_metrics_count_checks_alerts_and_deliveries(make_harness) -> None:
    desk = await make_harness(DEMO_DATA, ny(SESSION, 9, 0))
    monitor, base = await served(desk.app)
    try:
        await desk.say("/alert NVDA move 5", user=ANALYST)
        await desk.say("/watch CRDO")
        _, before = await get(base + "/metrics")
        assert metric(before, "tickerbell_checks_total") == 0
        await desk.at(ny(SESSION, 9, 31))  # the DeepSeek open: NVDA and CRDO fall
        status, text = await get(base + "/metrics")
        assert status == 200
        assert metric(text, "tickerbell_checks_total") == 1
        assert metric(text, "tickerbell_check_duration_seconds_count") == 1
        assert metric(text, 'tickerbell_alerts_fired_total{kind="daily_move"}') == 1
        assert metric(text, 'tickerbell_alerts_fired_total{kind="selloff"}') == 1
        assert metric(text, 'tickerbell_deliveries_total{outcome="sent",platform="console"}') == 1  # both in one message (one per chat per check)
        assert metric(text, "tickerbell_outbox_pending") == 0
        assert metric(text, "tickerbell_rules") == 3  # the member's move, CRDO's sell-off and drawdown watch rules
        assert metric(text, "tickerbell_provider_errors_total") == 0
    finally:
        await monitor.stop()


async def test_a_provider_error_is_counted_and_shown_in_status(make_harness) -> None:
    desk = await make_harness(DEMO_DATA, ny(SESSION, 9, 0))
    monitor, base = await served(desk.app)
    try:
        await desk.say("/alert NVDA below 100", user=ANALYST)
        market = desk.app.price_check.market

        async def down(tickers):
            from bot.core.market import MarketDataError

            raise MarketDataError("cannot reach Yahoo Finance: DNS lookup failed")

        market.quotes = down  # type: ignore[method-assign]
        await desk.at(ny(SESSION, 9, 31))
        _, text = await get(base + "/metrics")
        assert metric(text, "tickerbell_provider_errors_total") == 1
        status = await desk.say("/status", user=ANALYST)
        assert "Last data error 2025-01-27 09:31 ET" in status and "DNS lookup failed" in status
        assert "Market: open, until 16:00 ET." in status
        assert "/status is for the bot's admins" in await desk.say("/status")
    finally:
        await monitor.stop()


async def test_healthz_is_503_until_ready_then_503_when_checks_go_stale_in_a_session(make_harness) -> None:
    desk = await make_harness(DEMO_DATA, ny(SESSION, 9, 31))
    vitals = desk.app.vitals
    monitor, base = await served(desk.app)
    try:
        assert await get(base + "/healthz") == (503, "starting\n")
        vitals.ready = True
        await desk.say("/alert NVDA below 100", user=ANALYST)
        await desk.at(ny(SESSION, 9, 32))
        assert await get(base + "/healthz") == (200, "ok\n")
        desk.clock.set(ny(SESSION, 9, 32) + timedelta(seconds=3 * vitals.poll_seconds - 1))
        assert (await get(base + "/healthz"))[0] == 200
        desk.clock.set(ny(SESSION, 9, 32) + timedelta(seconds=3 * vitals.poll_seconds + 1))
        status, reason = await get(base + "/healthz")
        assert status == 503 and "no good price check in a session for over 180 s" in reason
        desk.clock.set(ny(SESSION, 17, 0))  # after the close nothing is expected
        assert (await get(base + "/healthz"))[0] == 200
    finally:
        await monitor.stop()


async def test_status_says_what_an_admin_needs(make_harness) -> None:
    desk = await make_harness(DEMO_DATA, ny(date(2025, 1, 25), 12, 0))  # a Saturday
    desk.app.vitals.version = "9.9.9"
    await desk.say("/watch NVDA")
    await desk.say("/alert AVGO above 300", user=ANALYST)
    text = await desk.say("/status", user=ANALYST)
    assert "tickerbell 9.9.9" in text
    assert "Market: closed; next open Mon 2025-01-27 09:30 ET." in text
    assert "Prices: no good check yet" in text
    assert "Platforms: console connected." in text
    assert "Outbox: 0 waiting; 0 given up in the last 24 h." in text
    assert "Rules 3 (stored 3) · watches 1 · chats 1." in text

