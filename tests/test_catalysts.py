"""Catalysts: /setcatalyst, /catalysts, /clearcatalyst; the subscribers' reminder, day-of note and recap; /primer."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.core.describe import AlertDescriber
from bot.core.messages import AlertKind
from bot.features.catalysts.describe import CATALYST_KINDS
from tests.conftest import ANALYST, CHAT, DEMO_DATA, DESCRIBER, Harness, ny

FRIDAY, MONDAY, TUESDAY = date(2025, 1, 24), date(2025, 1, 27), date(2025, 1, 28)
DESCRIBER_WITH = AlertDescriber(DESCRIBER.zone, {**DESCRIBER.kinds, **CATALYST_KINDS})


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=("primer", "earnings", "catalysts"))


def desk(chat: Harness):
    return next(f for f in chat.app.features if f.name == "catalysts").desk


async def run_at(chat: Harness, day: date, at: time) -> list:
    before = len(chat.out.alerts)
    chat.clock.set(ny(day, at.hour, at.minute))
    await desk(chat).run(day)
    await chat.app.dispatcher.drain_once()
    return chat.out.alerts[before:]


async def test_subscribers_get_a_reminder_the_days_note_and_a_recap(chat: Harness) -> None:
    assert "/setcatalyst is for the bot's admins" in await chat.say("/setcatalyst NVDA 2025-01-28 GTC keynote")
    set_reply = await chat.say("/setcatalyst NVDA 2025-01-28 GTC keynote", user=ANALYST)
    assert "Set NVDA's catalyst on Tue 2025-01-28: GTC keynote" in set_reply
    await chat.say("/subscribe NVDA")
    assert await run_at(chat, FRIDAY, time(17, 30)) == []  # one trading day before is Monday
    [(where, reminder)] = await run_at(chat, MONDAY, time(8, 5))
    assert where == CHAT and reminder.kind is AlertKind.CATALYST_REMINDER
    assert DESCRIBER_WITH.describe(reminder).title == "NVDA: GTC keynote tomorrow"
    assert await run_at(chat, MONDAY, time(16, 35)) == []  # the reminder goes once
    [(_, note)] = await run_at(chat, TUESDAY, time(8, 5))
    assert DESCRIBER_WITH.describe(note).title == "NVDA: GTC keynote today"
    [(_, recap)] = await run_at(chat, TUESDAY, time(16, 35))
    text = DESCRIBER_WITH.describe(recap)
    assert (recap.prev_close, recap.extra["open"], recap.price) == (118.36, 124.04, 127.83)  # the demo's Monday close, Tuesday's bar
    assert text.title == "NVDA after GTC keynote: +8.00%"
    assert "first session on the news: Tue 2025-01-28" in text.lines[0]
    assert await run_at(chat, date(2025, 1, 29), time(8, 5)) == []  # nothing repeats


async def test_listing_clearing_and_the_primer(chat: Harness) -> None:
    await chat.say("/setcatalyst NVDA 2025-01-28 GTC keynote", user=ANALYST)
    await chat.say("/setcatalyst AVGO 2025-03-06 AI day", user=ANALYST)
    week = await chat.say("/catalysts week")
    assert "Tue 2025-01-28 · NVDA · GTC keynote (in 2 trading days)" in week and "AVGO" not in week
    assert "Thu 2025-03-06 · AVGO · AI day" in await chat.say("/catalysts")
    assert "NVDA" not in await chat.say("/catalysts AVGO")
    assert "Next catalyst: GTC keynote, Tue 2025-01-28 (in 2 trading days)." in await chat.say("/primer NVDA")
    assert "2025-01-20 has passed" in await chat.say("/setcatalyst NVDA 2025-01-20 old news", user=ANALYST)
    assert "Removed 1 catalyst of NVDA on 2025-01-28." in await chat.say("/clearcatalyst NVDA 2025-01-28", user=ANALYST)
    assert "NVDA has no catalyst" in await chat.say("/clearcatalyst NVDA", user=ANALYST)
    assert "No catalysts for NVDA." in await chat.say("/catalysts NVDA")


