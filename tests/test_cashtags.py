"""Cashtags: $NVDA in ordinary messages, off by default, at most five, once per ticker per chat per 30 s."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from bot.core.market import MarketDataError
from bot.core.models import ChatKind, ChatRef
from bot.features.cashtags import cashtags
from tests.conftest import ALICE, BOB, CHAT, DEMO_DATA, Harness, ny

SESSION = date(2025, 1, 24)
OTHER = ChatRef("console", "chat-2", ChatKind.GROUP)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(SESSION, 17), features=("cashtags",))


async def talk(chat: Harness, text: str, where: ChatRef = CHAT) -> str:
    router = chat.app.router
    if not router.hears(where, text):
        return ""
    replies = await router.handle_chatter(text, chat=where, user=BOB)
    return "\n".join(r.text for r in replies)


def test_cashtags_are_found_the_way_people_write_them() -> None:
    assert cashtags("what about $NVDA and $avgo? also $BRK.B, $BRK-B") == ["NVDA", "AVGO", "BRK.B", "BRK-B"]
    assert cashtags("it cost $100 or US$5, $$ and a$b, not $ NVDA") == []
    assert cashtags("$NVDA. $NVDA again") == ["NVDA"]
    assert cashtags("$A $B $C $D $E $F $G") == ["A", "B", "C", "D", "E"]


async def test_cashtags_are_off_by_default_and_on_per_chat(chat: Harness) -> None:
    assert await talk(chat, "what about $NVDA?") == ""
    assert "Cashtags are off in this chat." in await chat.say("/cashtags")
    refused = await chat.say("/cashtags on", user=BOB, manager=False)
    assert "only a chat admin can do that here" in refused
    assert "Cashtags are on in this chat." in await chat.say("/cashtags on", user=ALICE, manager=True)
    assert await talk(chat, "what about $NVDA and $TSM?") == "NVDA $142.60, −1.74% (close of 2025-01-24)\nTSM $221.90, −0.01% (close of 2025-01-24)"
    assert await talk(chat, "$NVDA", where=OTHER) == ""  # another chat keeps them off
    assert "Cashtags are off in this chat." in await chat.say("/cashtags off")
    chat.clock.set(chat.clock.now() + timedelta(minutes=5))
    assert await talk(chat, "$NVDA") == ""


async def test_the_setting_survives_a_restart(make_harness, tmp_path) -> None:
    first = await make_harness(DEMO_DATA, ny(SESSION, 17), features=("cashtags",), db=tmp_path / "keep.sqlite3")
    await first.say("/cashtags on")
    await first.app.close()
    again = await make_harness(DEMO_DATA, ny(SESSION, 17), features=("cashtags",), db=tmp_path / "keep.sqlite3")
    assert (await talk(again, "$NVDA")).startswith("NVDA $142.60")


async def test_a_wall_of_cashtags_gets_each_ticker_once_per_30_seconds(chat: Harness) -> None:
    await chat.say("/cashtags on")
    first = await talk(chat, "$NVDA $AVGO $TSM $MSFT $META $GOOG $ANET")
    assert [line.split()[0] for line in first.splitlines()] == ["NVDA", "AVGO", "TSM", "MSFT", "META"]  # five at most
    assert await talk(chat, "$NVDA $AVGO $TSM $MSFT $META") == ""  # all answered in the last 30 s
    chat.clock.set(chat.clock.now() + timedelta(seconds=20))
    assert await talk(chat, "$NVDA $GOOG") == "GOOG $201.90, −0.35% (close of 2025-01-24)"
    chat.clock.set(chat.clock.now() + timedelta(seconds=11))
    assert (await talk(chat, "$NVDA $GOOG")).splitlines()[0].startswith("NVDA")  # 31 s after NVDA's answer
    assert "GOOG" not in await talk(chat, "$GOOG")  # 11 s after GOOG's


async def test_unknown_cashtags_and_outages_are_ignored_silently(chat: Harness) -> None:
    await chat.say("/cashtags on")
    assert await talk(chat, "$YOLO $MOON") == ""
    assert (await talk(chat, "$YOLO $NVDA")).startswith("NVDA $142.60")

    async def down(*_: object) -> dict:
        raise MarketDataError("cannot reach Yahoo Finance")

    chat.app.context.market.quotes = down  # type: ignore[method-assign]
    assert await talk(chat, "$AVGO") == ""


async def test_the_console_answers_cashtags_once_they_are_on(chat: Harness) -> None:
    out = StringIO()
    console = ConsoleAdapter(chat.app.router, describer=chat.app.describer(), output=Console(file=out, width=200), prompt=False)
    assert await console.run_line("how is $NVDA doing") == []
    assert "Commands start with /" in out.getvalue()
    await console.run_line("/cashtags on")
    [reply] = await console.run_line("how is $NVDA doing")
    assert reply.title == "NVDA $142.60, −1.74% (close of 2025-01-24)"
    assert "NVDA $142.60" in out.getvalue()
