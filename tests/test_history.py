"""/history: what fired for this member and in this chat, newest first, from the outbox."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.models import ChatKind, ChatRef
from tests.conftest import ALICE, BOB, DEMO_DATA, Harness, ny

FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)
ALICE_DM = ChatRef("console", "alice-private", ChatKind.PRIVATE)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=("history", "earnings"))


async def test_history_lists_what_fired_with_price_change_and_time(chat: Harness) -> None:
    assert "Nothing has fired in this chat yet." in await chat.say("/history")
    await chat.say("/alert NVDA below 130", user=ALICE)
    await chat.say("/alert AVGO move 10", user=BOB)
    await chat.say("/alert TSM below 1", user=ALICE, chat=ALICE_DM)  # never fires
    await chat.say("/watch CRDO")
    fired = await chat.at(ny(MONDAY, 10))
    assert {a.ticker for _, a in fired} >= {"NVDA", "AVGO", "CRDO"}
    reply = await chat.say("/history", user=BOB)
    lines = reply.splitlines()
    assert lines[0].startswith("What fired in this chat (newest first, last ")
    nvda = next(line for line in lines if "NVDA" in line)
    assert nvda.startswith("2025-01-27 10:00 ET · NVDA fell below $130.00 · $") and "−" in nvda
    assert any(line.startswith("2025-01-27 10:00 ET · AVGO down") for line in lines)
    assert any("Sell-off: CRDO down" in line for line in lines)
    only = await chat.say("/history AVGO")
    assert "What fired for AVGO in this chat" in only and "NVDA" not in only
    assert "Nothing has fired for TSM" in await chat.say("/history TSM")


async def test_a_private_chat_shows_the_members_own_alerts_wherever_they_fired(chat: Harness) -> None:
    await chat.say("/alert NVDA below 130", user=ALICE)  # in the group
    await chat.say("/alert AVGO move 10", user=BOB)
    await chat.at(ny(MONDAY, 10))
    mine = await chat.say("/history", user=ALICE, chat=ALICE_DM)
    assert "What fired for you and this chat" in mine and "NVDA fell below $130.00" in mine
    assert "AVGO" not in mine  # Bob's alert in the group is not Alice's
    other = ChatRef("console", "chat-elsewhere", ChatKind.GROUP)
    assert "Nothing has fired in this chat yet." in await chat.say("/history", user=ALICE, chat=other)


async def test_undelivered_alerts_say_so(chat: Harness) -> None:
    await chat.say("/alert NVDA below 130", user=ALICE)
    chat.out.fail_with = RuntimeError("platform down")
    chat.clock.set(ny(MONDAY, 10))
    await chat.app.price_check.run_once()  # queued, not sent
    assert "(waiting to be delivered)" in await chat.say("/history")


async def test_the_console_lists_the_history(chat: Harness) -> None:
    from io import StringIO

    from rich.console import Console

    from bot.adapters.console import ConsoleAdapter
    from bot.adapters.console.adapter import CONSOLE_CHAT

    await chat.say("/alert NVDA below 130", user=ALICE, chat=CONSOLE_CHAT)
    await chat.at(ny(MONDAY, 10))
    out = StringIO()
    console = ConsoleAdapter(chat.app.router, describer=chat.app.describer(), output=Console(file=out, width=200), prompt=False, user="alice")
    [reply] = await console.run_line("/history")
    assert reply.title.startswith("What fired for you and this chat")
    assert "2025-01-27 10:00 ET · NVDA fell below $130.00" in out.getvalue()
