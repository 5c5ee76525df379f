"""The whole bot on either backend: the same commands, the same check, the same alerts delivered once."""

from __future__ import annotations

from datetime import date

from bot.core.messages import Alert, AlertKind
from tests.conftest import ANALYST, DEMO_DATA, ny
from tests.storage_contract.conftest import outbox_rows

FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)


async def test_the_deepseek_monday_alerts_the_same_on_both_backends(make_harness, target: str, storage: object) -> None:
    # `storage`: the database starts empty (on PostgreSQL, the module's database emptied)
    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17), db=target)
    await chat.say("/setlevel NVDA entry 125", user=ANALYST)
    await chat.say("/watch NVDA")
    await chat.say("/alert NVDA move 10")
    await chat.say("/alert NVDA below 120")
    await chat.at(ny(FRIDAY, 17, 30))
    alerts = await chat.at(ny(MONDAY, 16, 5))
    assert sorted(a.kind.value for _, a in alerts) == ["analyst_level", "daily_move", "price_below", "selloff"]
    assert await chat.at(ny(MONDAY, 16, 6)) == []  # delivered once
    counts = await chat.app.storage.outbox.counts()
    assert (counts.pending, counts.sent, counts.dead) == (0, 1, 0)  # one check's alerts to a chat go as one grouped message
    (row,) = await outbox_rows(chat.app.storage)
    grouped = Alert.from_json(row["payload"])
    assert grouped.kind is AlertKind.GROUP and sorted(a.kind.value for a in grouped.items) == ["analyst_level", "daily_move", "price_below", "selloff"]
    assert "NVDA" in await chat.say("/alerts")
