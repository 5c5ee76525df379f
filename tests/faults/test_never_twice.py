"""The dispatcher never sends a delivery twice while it lives: overlapping drains share nothing
twice, and outcomes other than "sent" that storage refused are kept and recorded late, in order."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.messages import Alert
from bot.core.models import ChatRef
from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage
from tests.faults.parts import NOW, FailingOutbox, SendLog, envelopes, tally


async def test_overlapping_drains_send_each_delivery_once(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        queued = envelopes(200, 20)
        await storage.outbox.enqueue(queued, now=NOW)
        platform = SendLog(clock)
        sender = Dispatcher(storage.outbox, ChatDirectory(storage.chats, clock), {"telegram": platform}, clock)
        await asyncio.gather(sender.drain_once(), sender.drain_once(), sender.drain_once())
        assert tally(platform.per_key(), (e.dedupe_key for e in queued)) == (200, 0, 0)
    finally:
        await storage.close()


class FailsFirst(SendLog):
    """A platform that fails its first send (a network error), then accepts."""

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        if not getattr(self, "failed", False):
            self.failed = True
            raise ConnectionError("network down")
        await super().send_alert(chat, alert)


async def test_a_refused_retry_record_pauses_sending_and_is_recorded_late(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobs.dispatch")
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        queued = envelopes(3, 1)
        await storage.outbox.enqueue(queued, now=NOW)
        outbox = FailingOutbox(storage.outbox)
        outbox.failing = True
        platform = FailsFirst(clock)
        sender = Dispatcher(outbox, ChatDirectory(storage.chats, clock), {"telegram": platform}, clock)
        assert await sender.drain_once() == 0
        assert sender.paused and sender.unrecorded() == frozenset()  # nothing accepted, but the backoff is owed
        assert platform.sends == []  # and nothing else was tried meanwhile

        outbox.failing = False
        clock.set(NOW + timedelta(seconds=1))
        assert await sender.drain_once() == 2  # the retry recorded first, then the others go
        first = (await storage.outbox.pending_for_chat(queued[0].chat))[0]
        assert first.attempts == 1 and await storage.outbox.next_attempt_at(first.id) == NOW + timedelta(seconds=5)
        assert [r.getMessage() for r in caplog.records if "recorded late" in r.getMessage()] == [
            "storage accepts writes again: 0 sent deliveries recorded late (and 1 other delivery outcomes); deliveries resume"
        ]
    finally:
        await storage.close()
