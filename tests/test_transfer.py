"""/export (CSV or JSON file) and /import (analyst levels, checked entry by entry, all or nothing)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from io import StringIO

import pytest
from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from bot.core.models import ChatKind, ChatRef
from bot.features.transfer import split_entries
from tests.conftest import ALICE, ANALYST, DEMO_DATA, Harness, ny

FRIDAY = date(2025, 1, 24)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(FRIDAY, 17), features=("earnings", "baskets", "transfer"))


async def reply_of(chat: Harness, text: str, user=ANALYST):
    [reply] = await chat.app.router.handle_text(text, chat=ChatRef("console", "chat-1", ChatKind.GROUP), user=user, is_chat_manager=True)
    return reply


async def test_export_holds_levels_watches_subscriptions_baskets_and_alerts(chat: Harness) -> None:
    await chat.say("/setlevel NVDA entry 120 buy the dip", user=ANALYST)
    await chat.say("/setlevel AVGO exit pe 45", user=ANALYST)
    await chat.say("/watch NVDA")
    await chat.say("/subscribe MSFT 2")
    await chat.say("/setbasket ai NVDA AVGO", user=ANALYST)
    await chat.say("/watchbasket ai")
    await chat.say("/alert TSM below 200 once", user=ALICE)
    assert "/export is for the bot's admins" in await chat.say("/export", user=ALICE)
    reply = await reply_of(chat, "/export json")
    assert reply.title == "Export (JSON): 2 levels, 1 watches, 1 subscriptions, 1 baskets, 1 alerts"
    assert reply.document is not None and reply.document.filename == "tickerbell-export-2025-01-24.json"
    data = json.loads(reply.document.data)
    assert data["levels"][1] == {"ticker": "NVDA", "level": "entry", "value": "120", "price": 120.0, "note": "buy the dip"}
    assert data["levels"][0]["value"] == "pe 45"
    assert data["watches"] == [{"chat": "console:chat-1", "ticker": "NVDA"}]
    assert data["subscriptions"] == [{"chat": "console:chat-1", "ticker": "MSFT", "days_before": 2}]
    assert data["baskets"] == [{"name": "ai", "tickers": ["NVDA", "AVGO"], "chats": ["console:chat-1"]}]
    [alert] = data["alerts"]
    assert (alert["member"], alert["rule"]) == ("console:alice", "TSM below $200.00 · once")
    rows = list(csv.reader(io.StringIO((await reply_of(chat, "/export")).document.data.decode())))
    assert rows[0] == ["section", "ticker", "what", "value", "note", "chat", "member"]
    assert ["level", "NVDA", "entry", "120", "buy the dip", "", ""] in rows
    assert ["alert", "TSM", "below", "200", "TSM below $200.00 · once", "console:chat-1", "console:alice"] in rows


async def test_an_indicator_alert_is_exported_with_what_it_watches(chat: Harness) -> None:
    await chat.say("/alert NVDA below sma50", user=ALICE)
    await chat.say("/alert AVGO move -10 over 5d", user=ALICE)
    data = json.loads((await reply_of(chat, "/export json")).document.data)
    assert [(a["ticker"], a["kind"], a["indicator"], a["period"]) for a in data["alerts"]] == [("NVDA", "ma", "sma", 50), ("AVGO", "change", None, 5)]
    rows = list(csv.reader(io.StringIO((await reply_of(chat, "/export")).document.data.decode())))
    assert [row[2] for row in rows if row[0] == "alert"] == ["ma sma50", "change 5d"]


async def test_import_sets_every_level_or_none(chat: Harness) -> None:
    done = await chat.say("/import NVDA entry 120 buy the dip AVGO exit pe 45 TSM stop 150", user=ANALYST)
    assert "Imported 3 levels" in done and "NVDA entry $120.00" in done and "TSM stop $150.00" in done
    levels = {(r.ticker, str(r.level_name)): r for r in await chat.app.rules.analyst_levels()}
    assert levels[("NVDA", "entry")].note == "buy the dip" and levels[("AVGO", "exit")].multiple == 45
    before = await chat.app.storage.rules.all()
    refused = await chat.say("/import NVDA exit 170 MSFT entry abc CRDO stop -3 NVDA exit 180", user=ANALYST)
    assert refused.startswith("Nothing was imported:")
    assert "Entry 2 (MSFT entry abc): The price must be a number" in refused
    assert "Entry 3 (CRDO stop -3): the price must be above 0." in refused
    assert "Entry 4: NVDA exit is also entry 1" in refused
    assert "Unknown ticker XYZZ" in await chat.say("/import NVDA exit 170 XYZZ entry 5", user=ANALYST)
    assert await chat.app.storage.rules.all() == before  # nothing half-applied
    assert "/import is for the bot's admins" in await chat.say("/import NVDA exit 170", user=ALICE)


async def test_an_export_csv_imports_back(chat: Harness) -> None:
    await chat.say("/setlevel NVDA entry 120 buy the dip, slowly", user=ANALYST)
    await chat.say("/setlevel AVGO exit 260", user=ANALYST)
    exported = (await reply_of(chat, "/export")).document.data.decode()
    assert split_entries(exported) == [["AVGO", "exit", "260"], ["NVDA", "entry", "120", "buy the dip, slowly"]]
    assert split_entries("ticker,level,price,note NVDA,entry,121,dip") == [["NVDA", "entry", "121", "dip"]]
    done = await chat.say("/import ticker,level,price,note NVDA,entry,121,dip CRDO,exit,99", user=ANALYST)
    assert "Imported 2 levels" in done


async def test_the_console_saves_an_export_file(chat: Harness, tmp_path) -> None:
    out = StringIO()
    console = ConsoleAdapter(chat.app.router, describer=chat.app.describer(), output=Console(file=out, width=200), prompt=False,
                             user="analyst", charts_dir=tmp_path / "charts")
    await console.run_line("/export")
    saved = tmp_path / "exports" / "tickerbell-export-2025-01-24.csv"
    assert saved.read_text().startswith("section,ticker,what,value,note,chat,member")
    assert str(saved) in out.getvalue().replace("\n", "")


async def test_the_console_sends_a_file_with_import(chat: Harness, tmp_path) -> None:
    out = StringIO()
    console = ConsoleAdapter(chat.app.router, describer=chat.app.describer(), output=Console(file=out, width=200), prompt=False, user="analyst")
    levels = tmp_path / "levels.csv"
    levels.write_text("ticker,level,price,note\nNVDA,entry,100,buy the dip\nAVGO,stop,150\n")
    [reply] = await console.run_line(f"/import @{levels}")
    assert reply.title == "Imported 2 levels"
    [missing] = await console.run_line(f"/import @{tmp_path / 'nope.csv'}")
    assert "Cannot read" in out.getvalue() and "Nothing to import" in missing.title
