"""The analyst's levels by their meaning: an entry and a stop fire when the price falls to them,
an exit when it rises to it; a level set on the far side says so and waits; alerts say how far
through the level the price went, and a sell-off names the nearest level; notes show their age."""

from __future__ import annotations

from datetime import date

from bot.core.handlers import note_age
from bot.core.models import Direction
from tests.conftest import ANALYST, CHAT, DEMO_DATA, DESCRIBER, ny

FRIDAY, MONDAY, TUESDAY = date(2025, 1, 24), date(2025, 1, 27), date(2025, 1, 28)  # demo NVDA: 142.60, 118.36, 127.83


async def test_an_exit_set_below_the_price_waits_for_a_rise_and_a_stop_fires_on_the_fall(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await bot.say("/watch NVDA")
    reply = await bot.say("/setlevel NVDA exit 120 trim", user=ANALYST)
    assert "already above it, so the condition holds now: it alerts at the next rise to $120.00" in reply
    assert "an exit fires on a rise" in reply
    stop = await bot.say("/setlevel NVDA stop 130", user=ANALYST)
    assert "already" not in stop  # 142.60 is above a stop: it waits for the fall
    levels = {r.level_name.value: r for r in await bot.app.rules.analyst_levels("NVDA") if r.level_name}
    assert levels["exit"].direction is Direction.UP and levels["stop"].direction is Direction.DOWN

    monday = await bot.at(ny(MONDAY, 16, 0))  # 142.60 -> 118.36: through the stop, and past the exit the wrong way
    fired = [a for _, a in monday if a.kind.value == "analyst_level"]
    assert [(a.level_name, a.direction) for a in fired] == [("stop", "down")]
    text = DESCRIBER.describe(fired[0]).text
    assert "NVDA fell to the analyst's stop level of $130.00" in text
    assert "It is 9.0% below the $130.00 stop." in text

    tuesday = await bot.at(ny(TUESDAY, 16, 0))  # 118.36 -> 127.83: the exit's rise
    fired = [a for _, a in tuesday if a.kind.value == "analyst_level"]
    assert [(a.level_name, a.direction) for a in fired] == [("exit", "up")]
    assert "It is 6.5% above the $120.00 exit." in DESCRIBER.describe(fired[0]).text


async def test_a_sell_off_names_the_nearest_analyst_level(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await bot.say("/watch NVDA")
    await bot.say("/setlevel NVDA entry 125", user=ANALYST)
    await bot.say("/setlevel NVDA stop 97", user=ANALYST)
    alerts = await bot.at(ny(MONDAY, 16, 0))
    selloff = next(a for _, a in alerts if a.kind.value == "selloff")
    assert selloff.extra["nearest_level"] == ["entry", 125.0]
    assert "Nearest analyst level: 5.3% below the $125.00 entry." in DESCRIBER.describe(selloff).text


async def test_levels_show_when_their_note_was_written_and_call_old_notes_stale(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await bot.say("/setlevel NVDA entry 125 the December lows", user=ANALYST)
    assert "NVDA entry: $125.00" in (text := await bot.say("/levels NVDA"))
    assert "· the December lows · written 2025-01-24, today" in text
    bot.clock.set(ny(TUESDAY, 17))
    assert "written 2025-01-24, 4 days ago" in await bot.say("/levels NVDA")
    assert note_age(date(2024, 10, 1), date(2025, 1, 28)) == "written 2024-10-01, 119 days ago (stale: older than 90 days)"
    assert note_age(date(2024, 10, 30), date(2025, 1, 28)) == "written 2024-10-30, 90 days ago"




async def test_setlevel_warns_of_a_level_far_from_the_price_and_offers_what_was_likely_meant(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))  # NVDA 142.60
    [reply] = await bot.app.router.handle_text("/setlevel NVDA exit 14 trim", chat=CHAT, user=ANALYST, is_chat_manager=True)
    assert reply.title == "NVDA exit level set at $14.00, as typed, but check it"
    assert reply.lines[0] == "⚠ $14.00 is 90% from the price ($142.60). Did you mean $140.00?"
    assert [(a.label, a.command, a.args) for a in reply.actions] == [("Use $140.00", "setlevel", ("NVDA", "exit", "140", "trim"))]
    [fixed] = await bot.app.router.handle_text("/setlevel NVDA exit 140 trim", chat=CHAT, user=ANALYST, is_chat_manager=True)
    assert fixed.title == "NVDA exit level set at $140.00" and not fixed.actions


async def test_setlevel_warns_when_the_levels_are_out_of_order(make_harness) -> None:
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await bot.say("/setlevel NVDA entry 125", user=ANALYST)
    reply = await bot.say("/setlevel NVDA stop 130", user=ANALYST)
    assert "as typed, but check it" in reply
    assert "⚠ The levels are out of order: the stop ($130.00) should be below the entry ($125.00): stop < entry < exit." in reply
    assert (await bot.app.rules.analyst_levels("NVDA"))[-1].threshold == 130.0  # saved as typed
    assert "check it" not in await bot.say("/setlevel NVDA stop 97", user=ANALYST)
