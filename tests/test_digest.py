"""/digest: a brief before the open and a wrap after the close, each trading day, at the chat's time."""

from __future__ import annotations

from datetime import date, time

from bot.core.messages import AlertKind
from bot.features.digest.desk import brief_slot
from tests.conftest import ANALYST, CHAT, DEMO_DATA, DESCRIBER, ny

FRIDAY, MONDAY, TUESDAY = date(2025, 1, 24), date(2025, 1, 27), date(2025, 1, 28)


async def _day(bot, day: date) -> list:
    """A trading day as the market timer runs it: morning jobs, the open's check, the close's, the evening jobs."""
    before = len(bot.out.alerts)
    for hour, minute in ((7, 0), (7, 30), (8, 0), (9, 31), (16, 5), (16, 30)):
        bot.clock.set(ny(day, hour, minute))
        await bot.app.timer().tick()
        await bot.app.dispatcher.drain_once()
    return bot.out.alerts[before:]


async def test_a_brief_and_a_wrap_each_trading_day_with_what_the_chat_follows(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=None)
    for line in ("/watch NVDA", "/watch AVGO", "/subscribe MSFT", "/alert NVDA below 120"):
        await bot.say(line)
    await bot.say("/setlevel NVDA entry 125", user=ANALYST)
    assert "Digests on: a brief at 07:30 and a wrap at 16:30" in await bot.say("/digest on 07:20")
    monday = await _day(bot, MONDAY)
    digests = [a for _, a in monday if a.kind is AlertKind.DIGEST]
    assert [(a.extra["part"], a.at.astimezone(DESCRIBER.zone).time()) for a in digests] == [("brief", time(7, 30)), ("wrap", time(16, 30))]
    brief, wrap = (DESCRIBER.describe(a).text for a in digests)
    assert brief.startswith("Before the open, Mon 2025-01-27")
    assert "Yesterday: AVGO −0.8% · MSFT" in brief and "NVDA −1.7%" in brief
    assert "Levels within 5%: none" in brief  # 125 is 12 % under Friday's 142.60
    wrap_lines = wrap.splitlines()
    assert "Today: AVGO −17.0% · MSFT −2.0% · NVDA −17.0%" in wrap_lines[1]
    assert wrap_lines[2].startswith("Alerts today (") and "NVDA analyst level" in wrap_lines[2] and "NVDA price below" in wrap_lines[2]
    assert "Reporting next session (Tue 2025-01-28): none of yours" in wrap
    tuesday = [DESCRIBER.describe(a).text for _, a in await _day(bot, TUESDAY) if a.kind is AlertKind.DIGEST]
    assert "Levels within 5%: NVDA entry $125.00 (+5.6%)" not in tuesday[0] and "NVDA entry $125.00" not in tuesday[0]
    assert "Reporting next session (Wed 2025-01-29): MSFT (after the close)" in tuesday[1]


async def test_no_digest_on_a_holiday_none_twice_and_none_when_off(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=None)
    await bot.say("/watch NVDA")
    await bot.say("/digest on")
    saturday = await _day(bot, date(2025, 1, 25))
    assert not [a for _, a in saturday if a.kind is AlertKind.DIGEST]
    first = await _day(bot, MONDAY)
    bot.clock.set(ny(MONDAY, 16, 45))
    await bot.app.run_daily_jobs(MONDAY)  # a restart re-runs the day's jobs: nothing twice
    await bot.app.dispatcher.drain_once()
    assert len([a for _, a in bot.out.alerts if a.kind is AlertKind.DIGEST]) == len([a for _, a in first if a.kind is AlertKind.DIGEST]) == 2
    assert "Digests off" in await bot.say("/digest off")
    assert not [a for _, a in await _day(bot, TUESDAY) if a.kind is AlertKind.DIGEST]
    await bot.say("/digest on")
    await bot.say("/settings digest off")  # the kind off in /settings: not delivered either
    assert not [a for _, a in await _day(bot, date(2025, 1, 29)) if a.kind is AlertKind.DIGEST]
    assert CHAT


def test_the_brief_goes_at_the_quarter_hour_at_or_after_the_time() -> None:
    assert brief_slot(None) == time(8, 0)
    assert brief_slot(time(7, 20)) == time(7, 30)
    assert brief_slot(time(6, 0)) == time(6, 0)
    assert brief_slot(time(9, 15)) == time(9, 15)


async def test_what_a_chat_was_told_is_read_by_moment_whatever_the_clocks_offset(tmp_path) -> None:
    from datetime import UTC, datetime

    from bot.core.messages import Alert, Envelope
    from storage.sqlite import SqliteStorage

    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        early = datetime(2025, 1, 27, 14, 0, tzinfo=UTC)  # 09:00 ET
        late = ny(MONDAY, 16, 0)  # written with New York's offset
        for n, moment in enumerate((early, late)):
            alert = Alert(kind=AlertKind.SELLOFF, ticker=f"T{n}", at=moment)
            await storage.outbox.enqueue([Envelope(CHAT, alert, f"k{n}")], now=moment)
        told = await storage.outbox.delivered_to(CHAT, since=ny(MONDAY, 12, 0))
        assert [a.ticker for a in told] == ["T1"]
        assert [a.ticker for a in await storage.outbox.delivered_to(CHAT, since=ny(MONDAY, 8, 0))] == ["T0", "T1"]
    finally:
        await storage.close()
