"""The whole bot on either backend: the same commands, the same check, the same alerts delivered once."""

from __future__ import annotations

from datetime import date

from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatRef
from tests.conftest import ANALYST, BOB, CHAT, DEMO_DATA, ny
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


async def test_issue_14s_commands_on_both_backends(make_harness, target: str, storage: object) -> None:
    """An alert that fires once and is then gone, one that expires, /history (in the chat, and the
    member's own from elsewhere), a catalyst and cashtags: the same answers on both backends."""
    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17), db=target, features=("history", "lifecycle", "catalysts", "cashtags"))
    assert "fires once and is then removed" in await chat.say("/alert NVDA below 120 once")
    assert "runs through 2025-03-31" in await chat.say("/alert NVDA above 500 until 2025-03-31")
    assert "#1 NVDA below $120.00 · armed · once" in await chat.say("/alerts")
    alerts = await chat.at(ny(MONDAY, 16, 5))
    assert [(a.kind.value, a.rule_id) for _, a in alerts] == [("price_below", 1)]
    mine = await chat.say("/alerts")
    assert "#1" not in mine and "#2 NVDA above $500.00 · armed · until 2025-03-31" in mine  # the once alert is gone
    fired = "2025-01-27 16:00 ET · NVDA fell below $120.00 · $118.36, −17.00%"
    assert fired in await chat.say("/history") and fired in await chat.say("/history NVDA")
    assert "NVDA fell below" not in await chat.say("/history AMD")
    assert fired in await chat.say("/history", chat=ChatRef("console", "alice"))  # the member's own, found by the mention from their DM
    assert "NVDA fell below" not in await chat.say("/history", user=BOB, chat=ChatRef("console", "bob"))
    assert "Set NVDA's catalyst on Tue 2025-03-18: GTC keynote" in await chat.say("/setcatalyst NVDA 2025-03-18 GTC keynote", user=ANALYST)
    assert "Tue 2025-03-18 · NVDA · GTC keynote" in await chat.say("/catalysts NVDA")
    assert "Cashtags are on in this chat." in await chat.say("/cashtags on")
    assert await chat.app.storage.cashtags.enabled_chats() == {CHAT.key}
