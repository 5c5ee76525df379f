"""Chats going inactive settle their deliveries; a check, a split and their deliveries commit together."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Rule, RuleKind, RuleSource, TickerState, UserRef, direct_chat
from bot.core.routing import fallback_key
from storage.factory import AnyStorage
from tests.storage_contract.conftest import outbox_rows

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
ANN = UserRef("telegram", "101", "Ann")


def fired(n: int, chat: ChatRef = GROUP, fallback: ChatRef | None = None, ticker: str = "NVDA") -> Envelope:
    alert = Alert(kind=AlertKind.DAILY_MOVE, ticker=ticker, at=NOW + timedelta(seconds=n), price=118.42, change_pct=-16.97, rule_id=n)
    return Envelope(chat, alert, f"fire:{n}", fallback)


class Boom(Exception):
    pass


async def test_a_chat_is_active_until_marked_otherwise(storage: AnyStorage) -> None:
    assert await storage.chats.is_active(GROUP) is True
    assert await storage.chats.set_active(GROUP, True, now=NOW) is False  # it already was
    assert await storage.chats.set_active(GROUP, False, now=NOW, reason="kicked") is True
    assert await storage.chats.is_active(GROUP) is False
    assert await storage.chats.set_active(GROUP, False, now=NOW, reason="kicked") is False
    assert await storage.chats.set_active(GROUP, True, now=NOW) is True
    assert await storage.chats.is_active(GROUP) is True


async def test_a_chat_going_inactive_gives_up_its_deliveries_and_reroutes_those_with_a_fallback(storage: AnyStorage) -> None:
    dm = direct_chat(ANN)
    await storage.checks.record_check(states=[], armed_changes={}, envelopes=[fired(1, dm, GROUP), fired(2, dm), fired(3, GROUP)], now=NOW)
    later = NOW + timedelta(minutes=1)
    assert await storage.chats.set_active(dm, False, now=later, reason="blocked the bot") is True
    rows = await outbox_rows(storage)
    assert [(r["id"], r["chat_id"], r["status"], r["dedupe_key"]) for r in rows] == [
        (1, dm.chat_id, "dead", "fire:1"),
        (2, dm.chat_id, "dead", "fire:2"),
        (3, "-100", "pending", "fire:3"),
        (4, "-100", "pending", fallback_key(1)),
    ]
    assert rows[0]["last_error"] == "chat inactive: blocked the bot" and rows[0]["dead_at"] == later.isoformat()
    assert rows[3]["payload"] == rows[0]["payload"]  # the same alert, serialized alike
    assert Alert.from_json(rows[3]["payload"]) == fired(1).alert


async def test_a_check_stores_states_arming_and_its_deliveries_together(storage: AnyStorage) -> None:
    rule = await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 150.0, RuleSource.MEMBER, owner=ANN, chat=GROUP, armed=None), now=NOW)
    other = await storage.rules.add(Rule(0, "AMD", RuleKind.BELOW, 100.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    state = TickerState("NVDA", last_price=118.42, session=date(2025, 1, 27), max_up_pct=0.5, max_down_pct=-16.97, peak=149.43, max_drawdown_pct=-20.75)
    queued = await storage.checks.record_check(states=[state], armed_changes={rule.id: False, other.id: None}, envelopes=[fired(1), fired(2)], now=NOW)
    assert queued == 2
    assert await storage.checks.ticker_states() == {"NVDA": state}
    assert [(r.id, r.armed) for r in await storage.rules.all()] == [(rule.id, False), (other.id, None)]
    # the same deliveries again are not queued twice; a new state replaces the old
    moved = TickerState("NVDA", last_price=120.0, session=date(2025, 1, 28))
    assert await storage.checks.record_check(states=[moved], armed_changes={rule.id: True}, envelopes=[fired(1), fired(3)], now=NOW) == 1
    assert await storage.checks.ticker_states() == {"NVDA": moved}
    assert [r["dedupe_key"] for r in await outbox_rows(storage)] == ["fire:1", "fire:2", "fire:3"]
    assert Alert.from_json((await outbox_rows(storage))[0]["payload"]) == fired(1).alert


async def test_an_empty_check_is_fine(storage: AnyStorage) -> None:
    assert await storage.checks.record_check(states=[], armed_changes={}, envelopes=[], now=NOW) == 0
    assert await storage.checks.ticker_states() == {}


async def test_a_failing_change_queues_nothing(storage: AnyStorage) -> None:
    """The transaction the stores share: an error after the deliveries were written takes them back."""
    rule = await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 150.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)

    class Exploding(list[Envelope]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield fired(1)
            raise Boom("mid-way")

    with pytest.raises(Boom):
        await storage.checks.record_check(states=[TickerState("NVDA", last_price=1.0)], armed_changes={rule.id: False}, envelopes=Exploding(), now=NOW)
    assert await outbox_rows(storage) == []
    assert await storage.checks.ticker_states() == {}
    got = await storage.rules.get(rule.id)
    assert got is not None and got.armed is True


async def test_a_split_is_applied_once_with_its_notices(storage: AnyStorage) -> None:
    price = await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 1500.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    move = await storage.rules.add(Rule(0, "NVDA", RuleKind.MOVE, 5.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    await storage.checks.record_check(states=[TickerState("NVDA", last_price=1200.0, peak=1400.0)], armed_changes={}, envelopes=[], now=NOW)
    day = date(2024, 6, 10)
    assert await storage.checks.split_applied("NVDA", day) is False
    assert await storage.checks.apply_split("NVDA", day, 10.0, envelopes=[fired(1)], now=NOW) is True
    assert await storage.checks.apply_split("NVDA", day, 10.0, envelopes=[fired(2)], now=NOW) is False
    assert await storage.checks.split_applied("NVDA", day) is True
    assert [(r.id, r.threshold) for r in await storage.rules.all()] == [(price.id, 150.0), (move.id, 5.0)]
    state = (await storage.checks.ticker_states())["NVDA"]
    assert (state.last_price, state.peak) == (120.0, 140.0)
    assert [r["dedupe_key"] for r in await outbox_rows(storage)] == ["fire:1"]
