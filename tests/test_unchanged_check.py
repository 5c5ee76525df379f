"""A check that sees the same quotes as the last recorded one writes nothing (a replay checks every
15 minutes between a session's open and its close, on the open's prices); any change writes again."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from tests.conftest import DEMO_DATA, ny

MONDAY = date(2025, 1, 27)


def updated_at(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT ticker, updated_at FROM ticker_state").fetchall())


async def test_the_same_quotes_again_write_nothing_and_a_new_price_writes_the_state(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    chat = await make_harness(DEMO_DATA, ny(MONDAY, 9, 35), db=db)
    await chat.say("/alert NVDA below 1")
    await chat.app.price_check.run_once()  # the open's quote: recorded
    first = updated_at(db)
    assert set(first) == {"NVDA"}
    chat.clock.set(ny(MONDAY, 9, 50))
    summary = await chat.app.price_check.run_once()  # the demo data has one price until the close: the same quote
    assert summary.checked == 1
    assert updated_at(db) == first  # nothing written
    chat.clock.set(ny(MONDAY, 16, 5))
    await chat.app.price_check.run_once()  # the close: a new price
    assert updated_at(db)["NVDA"] > first["NVDA"]


async def test_an_alert_set_between_two_checks_on_the_same_quotes_fires_at_the_next_new_price(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(MONDAY, 9, 35))
    await chat.say("/alert NVDA below 1")
    assert await chat.at(ny(MONDAY, 9, 35)) == []
    await chat.say("/alert NVDA below 120")  # NVDA opened at 125.63
    assert await chat.at(ny(MONDAY, 9, 50)) == []  # the same quote: nothing crossed, nothing written
    alerts = await chat.at(ny(MONDAY, 16, 5))  # closed at 118.36
    assert [(a.ticker, a.kind.value, a.level) for _, a in alerts] == [("NVDA", "price_below", 120.0)]
    assert await chat.at(ny(MONDAY, 16, 20)) == []  # once
