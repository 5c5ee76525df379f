"""Alert lifecycle: once / every, until DATE / for Nd, shown in /alerts, removed quietly when due."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.errors import UserError
from bot.core.lifecycle import parse_alert_options
from tests.conftest import ALICE, DEMO_DATA, Harness, ny

FRIDAY, MONDAY, TUESDAY = date(2025, 1, 24), date(2025, 1, 27), date(2025, 1, 28)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=("lifecycle",))


async def test_a_once_alert_is_removed_after_it_fires(chat: Harness) -> None:
    reply = await chat.say("/alert NVDA below 130 once")
    assert "This alert is not kept: it fires once and is then removed." in reply
    await chat.say("/alert AVGO below 220")  # every, the default
    assert "#1 NVDA below $130.00 · armed · once" in await chat.say("/alerts")
    fired = await chat.at(ny(MONDAY, 10))
    assert sorted(a.ticker for _, a in fired) == ["AVGO", "NVDA"]
    assert [r.ticker for r in await chat.app.storage.rules.all()] == ["AVGO"]
    assert [r.ticker for r in await chat.app.rules.member_rules(ALICE)] == ["AVGO"]
    assert chat.app.rules.rules_of("NVDA") == []  # gone from the engine's index too
    listed = await chat.say("/alerts")
    assert "NVDA" not in listed and "#2 AVGO below $220.00" in listed


async def test_an_expiring_alert_is_shown_and_removed_quietly_before_the_next_session(chat: Harness) -> None:
    reply = await chat.say("/alert NVDA below 130 until 2025-01-24")
    assert "it runs through 2025-01-24 and is then removed" in reply
    await chat.say("/alert AVGO below 220 for 3d")  # through Monday 2025-01-27
    listed = await chat.say("/alerts")
    assert "#1 NVDA below $130.00 · armed · until 2025-01-24" in listed
    assert "#2 AVGO below $220.00 · armed · until 2025-01-27" in listed
    timer = chat.app.timer()
    chat.clock.set(ny(MONDAY, 10))
    await timer.tick()  # the daily job first (NVDA's last day was Friday), then the check
    await chat.app.dispatcher.drain_once()
    assert [a.ticker for _, a in chat.out.alerts] == ["AVGO"]  # NVDA fell below 130 but was gone, quietly
    assert [r.ticker for r in await chat.app.storage.rules.all()] == ["AVGO"]
    chat.clock.set(ny(TUESDAY, 7))
    await timer.tick()
    assert await chat.app.storage.rules.all() == []
    assert "You have no alerts." in await chat.say("/alerts")


async def test_what_expired_while_the_bot_was_stopped_is_removed_at_start(make_harness, tmp_path) -> None:
    first = await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=("lifecycle",), db=tmp_path / "keep.sqlite3")
    await first.say("/alert NVDA below 130 until 2025-01-24")
    await first.app.close()
    again = await make_harness(DEMO_DATA, ny(TUESDAY, 12), features=("lifecycle",), db=tmp_path / "keep.sqlite3")
    assert await again.app.storage.rules.all() == []


def test_options_parse_in_any_order() -> None:
    today = FRIDAY
    options = parse_alert_options("once for 2w DOWN", today=today)
    assert (options.once, options.expires_on, options.direction, options.preview) == (True, date(2025, 2, 7), "down", False)
    assert parse_alert_options(None, today=today).once is False
    assert parse_alert_options("every until 2025-03-31", today=today).expires_on == date(2025, 3, 31)
    for bad, said in [
        ("until 2025-01-23", "2025-01-23 has passed"),
        ("until tomorrow", "'until' needs a date like 2025-03-31"),
        ("for 0d", "'for' needs a length like 5d"),
        ("for", "'for' needs a length"),
        ("once every", "Say once or every, not both."),
        ("for 5d until 2025-03-31", "Give one expiry"),
        ("sometimes", "'sometimes' is not an alert option"),
        ("for 9999m", "at most ten years"),
    ]:
        with pytest.raises(UserError) as problem:
            parse_alert_options(bad, today=today)
        assert said in problem.value.message, bad
