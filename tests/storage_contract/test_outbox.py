"""The outbox port on both backends: every method, the claims several processes share (PostgreSQL),
and its crash promises: a claim held by a process that died returns to the queue, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.core.messages import Delivery
from bot.core.ports import OutboxCounts
from storage.factory import AnyStorage
from storage.postgres import PostgresStorage
from tests.faults.parts import NOW, envelopes

Opener = Callable[[], Awaitable[AnyStorage]]


def keys(deliveries: list[Delivery]) -> list[str]:
    return [f"k{d.alert.rule_id}" for d in deliveries]


async def test_enqueue_queues_each_dedupe_key_once_and_due_is_oldest_first(storage: AnyStorage) -> None:
    queued = envelopes(6, 2)
    assert await storage.outbox.enqueue(queued, now=NOW) == 6
    assert await storage.outbox.enqueue(queued[:3], now=NOW) == 0
    assert keys(await storage.outbox.due(now=NOW, platforms=["telegram"])) == [f"k{n}" for n in range(6)]
    assert await storage.outbox.due(now=NOW - timedelta(seconds=1), platforms=["telegram"]) == []
    assert await storage.outbox.due(now=NOW, platforms=["discord"]) == []
    assert keys(await storage.outbox.due(now=NOW, platforms=["telegram"], limit=2)) == ["k0", "k1"]
    assert keys(await storage.outbox.pending_for_chat(queued[1].chat)) == ["k1", "k3", "k5"]
    assert await storage.outbox.next_due_at(["telegram"]) == NOW
    assert await storage.outbox.next_due_at(["discord"]) is None


async def test_sent_retried_and_dead_deliveries_are_counted_and_leave_the_queue(storage: AnyStorage) -> None:
    await storage.outbox.enqueue(envelopes(4, 4), now=NOW)
    first, second, third, _ = await storage.outbox.due(now=NOW, platforms=["telegram"])
    await storage.outbox.mark_sent(first.id, now=NOW)
    await storage.outbox.mark_sent(first.id, now=NOW)  # a second record changes nothing
    later = NOW + timedelta(seconds=30)
    await storage.outbox.mark_retry(second.id, at=later, error="boom")
    await storage.outbox.mark_dead(third.id, error="gone", now=NOW)
    assert await storage.outbox.counts() == OutboxCounts(pending=2, sent=1, dead=1)
    assert keys(await storage.outbox.due(now=NOW, platforms=["telegram"])) == ["k3"]
    retried = await storage.outbox.due(now=later, platforms=["telegram"])
    assert keys(retried) == ["k1", "k3"] and retried[0].attempts == 1
    await storage.outbox.mark_retry(second.id, at=later, error="flood", count=False)
    assert (await storage.outbox.due(now=later, platforms=["telegram"]))[0].attempts == 1


async def test_a_claim_serves_whole_chats_and_release_gives_them_back(storage: AnyStorage) -> None:
    await storage.outbox.enqueue(envelopes(9, 3), now=NOW)
    claimed = await storage.outbox.claim(now=NOW, platforms=["telegram"], limit=100)
    assert keys(claimed) == [f"k{n}" for n in range(9)]  # one process: every due delivery, in order
    assert await storage.outbox.renew_claims()
    await storage.outbox.release({d.chat for d in claimed})
    assert keys(await storage.outbox.claim(now=NOW, platforms=["telegram"])) == [f"k{n}" for n in range(9)]


def postgres_only(storage: AnyStorage) -> PostgresStorage:
    if not isinstance(storage, PostgresStorage):
        pytest.skip("claims between processes exist on PostgreSQL only (SQLite is one process)")
    return storage


async def test_two_processes_never_hold_one_chat_and_a_released_chat_goes_to_the_other(storage: AnyStorage, open_other: Opener) -> None:
    first = postgres_only(storage)
    second = await open_other()
    await first.outbox.enqueue(envelopes(12, 4), now=NOW)
    mine = await first.outbox.claim(now=NOW, platforms=["telegram"], chats=2)
    theirs = await second.outbox.claim(now=NOW, platforms=["telegram"])
    assert {d.chat.key for d in mine} == {"telegram:-1000", "telegram:-1001"}
    assert {d.chat.key for d in theirs} == {"telegram:-1002", "telegram:-1003"}
    assert keys(mine) == ["k0", "k1", "k4", "k5", "k8", "k9"]
    third = await open_other()
    assert await third.outbox.claim(now=NOW, platforms=["telegram"]) == []  # every chat with due deliveries is held
    for delivery in mine:
        await first.outbox.mark_sent(delivery.id, now=NOW)
    await first.outbox.enqueue(envelopes(13, 4)[12:], now=NOW)  # k12, for chat -1000, after the release
    await first.outbox.release({d.chat for d in mine})
    again = await second.outbox.claim(now=NOW, platforms=["telegram"])
    assert "k12" in keys(again)  # besides its own chats, which it still holds


async def test_a_chat_claimed_by_another_process_is_not_served_even_for_deliveries_queued_after_the_claim(storage: AnyStorage, open_other: Opener) -> None:
    first = postgres_only(storage)
    second = await open_other()
    await first.outbox.enqueue(envelopes(2, 1), now=NOW)
    assert keys(await first.outbox.claim(now=NOW, platforms=["telegram"])) == ["k0", "k1"]
    await first.outbox.enqueue(envelopes(3, 1)[2:], now=NOW)
    assert await second.outbox.claim(now=NOW, platforms=["telegram"]) == []
    # ...and the other process does not spin on it: its next due moment is when the claim would lapse
    lapse = await second.outbox.next_due_at(["telegram"])
    assert lapse is not None and lapse > NOW


async def test_a_claim_whose_process_died_returns_to_the_queue_after_its_timeout(storage: AnyStorage, open_other: Opener) -> None:
    dead = postgres_only(storage)
    survivor = await open_other()
    await dead.outbox.enqueue(envelopes(6, 2), now=NOW)
    held = await dead.outbox.claim(now=NOW, platforms=["telegram"])
    await dead.outbox.mark_sent(held[0].id, now=NOW)  # then it dies: no release, no renewal
    assert await survivor.outbox.claim(now=NOW, platforms=["telegram"]) == []
    await dead.db.execute("UPDATE outbox_claims SET expires_at = clock_timestamp() - interval '1 second'")  # the timeout passes
    assert keys(await survivor.outbox.claim(now=NOW, platforms=["telegram"])) == ["k1", "k2", "k3", "k4", "k5"]


async def test_renewing_keeps_a_claim_past_its_timeout(storage: AnyStorage, open_other: Opener) -> None:
    first = postgres_only(storage)
    second = await open_other()
    first.outbox.claim_seconds = 600
    await first.outbox.enqueue(envelopes(2, 1), now=NOW)
    await first.outbox.claim(now=NOW, platforms=["telegram"])
    await first.db.execute("UPDATE outbox_claims SET expires_at = clock_timestamp() + interval '1 second'")
    assert await first.outbox.renew_claims()
    lapses = await first.db.fetchval("SELECT expires_at - clock_timestamp() FROM outbox_claims")
    assert lapses > timedelta(seconds=500)
    assert await second.outbox.claim(now=NOW, platforms=["telegram"]) == []


async def test_concurrent_claimers_share_the_chats_without_overlap_and_deliver_everything_in_order(storage: AnyStorage, open_other: Opener) -> None:
    """Four processes draining 400 deliveries to 25 chats at once: each chat served by one process at
    a time, each delivery served once, each chat's deliveries in their queue order."""
    postgres_only(storage)
    workers = [storage, *[await open_other() for _ in range(3)]]
    await storage.outbox.enqueue(envelopes(400, 25), now=NOW)
    served: list[tuple[str, str]] = []
    holding: dict[str, int] = {}

    async def drain(index: int, worker: AnyStorage) -> None:
        while batch := await worker.outbox.claim(now=NOW, platforms=["telegram"], limit=20, chats=4):
            chats = {d.chat.key: d.chat for d in batch}
            for key in chats:
                assert holding.setdefault(key, index) == index, f"{key} held by two processes at once"
            for delivery in batch:
                served.append((delivery.chat.key, f"k{delivery.alert.rule_id}"))
                await worker.outbox.mark_sent(delivery.id, now=NOW)
                await asyncio.sleep(0)
            for key in chats:
                del holding[key]
            await worker.outbox.release(chats.values())

    await asyncio.gather(*(drain(i, w) for i, w in enumerate(workers)))
    assert sorted(key for _, key in served) == sorted(f"k{n}" for n in range(400))
    for chat in {c for c, _ in served}:
        numbers = [int(k[1:]) for c, k in served if c == chat]
        assert numbers == sorted(numbers)
    assert await storage.outbox.counts() == OutboxCounts(pending=0, sent=400, dead=0)

