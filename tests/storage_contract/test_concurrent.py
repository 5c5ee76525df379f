"""Several writers on one database (as several processes would be): nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Rule, RuleKind, RuleSource, TickerState, UserRef, direct_chat
from storage.factory import AnyStorage
from tests.storage_contract.conftest import outbox_rows

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
ANN = UserRef("telegram", "101", "Ann")
WRITERS = 4

Opener = Callable[[], Awaitable[AnyStorage]]


def fired(n: int, chat: ChatRef = GROUP, fallback: ChatRef | None = None) -> Envelope:
    alert = Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=NOW + timedelta(seconds=n), price=118.42, change_pct=-16.97, rule_id=n)
    return Envelope(chat, alert, f"fire:{n}", fallback)


async def writers(open_other: Opener, storage: AnyStorage) -> list[AnyStorage]:
    return [storage, *[await open_other() for _ in range(WRITERS - 1)]]


async def test_overlapping_checks_queue_each_delivery_once(storage: AnyStorage, open_other: Opener) -> None:
    stores = await writers(open_other, storage)

    async def check(store: AnyStorage, start: int) -> int:
        total = 0
        for n in range(start, start + 40, 4):  # each writer overlaps the next one's keys
            batch = [fired(k) for k in range(n, n + 8)]
            total += await store.checks.record_check(states=[TickerState("NVDA", last_price=float(n))], armed_changes={}, envelopes=batch, now=NOW)
        return total

    counts = await asyncio.gather(*(check(store, i * 20) for i, store in enumerate(stores)))
    keys = [r["dedupe_key"] for r in await outbox_rows(storage)]
    assert len(keys) == len(set(keys)) == sum(counts)
    assert set(keys) == {f"fire:{k}" for k in range((WRITERS - 1) * 20 + 40 + 4)}


async def test_rules_added_at_once_all_get_their_own_id(storage: AnyStorage, open_other: Opener) -> None:
    stores = await writers(open_other, storage)

    async def add(store: AnyStorage, n: int) -> list[int]:
        ids = []
        for k in range(n):
            rule = await store.rules.add(Rule(0, f"T{k}", RuleKind.ABOVE, 1.0 + k, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
            ids.append(rule.id)
        return ids

    results = await asyncio.gather(*(add(store, 15) for store in stores))
    ids = [i for got in results for i in got]
    assert len(set(ids)) == len(ids) == WRITERS * 15
    assert sorted(r.id for r in await storage.rules.all()) == sorted(ids)
    assert await storage.rules.count_of_member(ANN) == WRITERS * 15


async def test_a_chat_marked_inactive_by_several_at_once_reroutes_once(storage: AnyStorage, open_other: Opener) -> None:
    stores = await writers(open_other, storage)
    dm = direct_chat(ANN)
    await storage.checks.record_check(states=[], armed_changes={}, envelopes=[fired(k, dm, GROUP) for k in range(5)], now=NOW)
    changed = await asyncio.gather(*(store.chats.set_active(dm, False, now=NOW, reason="blocked") for store in stores))
    assert changed.count(True) == 1
    rows = await outbox_rows(storage)
    assert [(r["chat_id"], r["status"]) for r in rows] == [(dm.chat_id, "dead")] * 5 + [("-100", "pending")] * 5


async def test_a_split_applied_by_several_at_once_divides_once(storage: AnyStorage, open_other: Opener) -> None:
    stores = await writers(open_other, storage)
    await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 1000.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    done = await asyncio.gather(*(store.checks.apply_split("NVDA", date(2024, 6, 10), 10.0, envelopes=[fired(1)], now=NOW) for store in stores))
    assert done.count(True) == 1
    assert [r.threshold for r in await storage.rules.all()] == [100.0]
    assert len(await outbox_rows(storage)) == 1


async def test_the_same_subscription_basket_or_watch_at_once_is_new_once(storage: AnyStorage, open_other: Opener) -> None:
    stores = await writers(open_other, storage)
    subscribed = await asyncio.gather(*(store.earnings.subscribe(GROUP, "NVDA", 1 + i, now=NOW) for i, store in enumerate(stores)))
    created = await asyncio.gather(*(store.baskets.set("ai", ["NVDA", "AMD"], by=f"w{i}", now=NOW) for i, store in enumerate(stores)))
    watched = await asyncio.gather(*(store.watches.add(GROUP, "NVDA", now=NOW) for store in stores))
    assert subscribed.count(True) == created.count(True) == watched.count(True) == 1
    assert len(await storage.earnings.subscriptions(GROUP)) == 1
