"""The dispatcher's cluster paths, on a real SQLite outbox behind the port: no new send while claims
cannot be renewed; a shared gate that cannot be asked delays a delivery without counting an attempt;
the gate is asked before every send."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.messages import Delivery
from bot.core.models import ChatRef
from bot.core.ports import StorageError
from jobs.dispatch import STORAGE_RETRY_SECONDS, Dispatcher
from storage.sqlite import SqliteStorage
from tests.faults.parts import NOW, FailingOutbox, SendLog, envelopes


class Renewals(FailingOutbox):
    """The outbox, whose claims can be made impossible to renew."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.renewable = True
        self.released: list[str] = []

    async def renew_claims(self) -> bool:
        return self.renewable

    async def release(self, chats: Iterable[ChatRef]) -> None:
        self.released.extend(chat.key for chat in chats)
        await super().release(chats)


class Gate:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.broken = False

    async def wait_turn(self, chat: ChatRef) -> None:
        if self.broken:
            raise ConnectionError("the database cannot be reached")
        self.asked.append(chat.key)


async def test_no_send_starts_while_claims_cannot_be_renewed_and_the_gate_is_asked_before_each(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    clock = ReplayClock(NOW)
    try:
        await storage.outbox.enqueue(envelopes(6, 3), now=NOW)
        outbox, sends, gate = Renewals(storage.outbox), SendLog(clock), Gate()
        dispatcher = Dispatcher(outbox, ChatDirectory(storage.chats, clock), {"telegram": sends}, clock, gate=gate)
        outbox.renewable = False
        assert not await dispatcher.renew_claims()
        assert await dispatcher.drain_once() == 0 and sends.sends == []
        outbox.renewable = True
        assert await dispatcher.renew_claims()
        assert await dispatcher.drain_once() == 6
        assert len(gate.asked) == 6
        assert sorted(set(outbox.released)) == ["telegram:-1000", "telegram:-1001", "telegram:-1002"]  # every chat served was given back
    finally:
        await storage.close()


async def test_a_gate_that_cannot_be_asked_delays_the_delivery_without_counting_an_attempt(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    clock = ReplayClock(NOW)
    try:
        await storage.outbox.enqueue(envelopes(1, 1), now=NOW)
        sends, gate = SendLog(clock), Gate()
        gate.broken = True
        dispatcher = Dispatcher(storage.outbox, ChatDirectory(storage.chats, clock), {"telegram": sends}, clock, gate=gate)
        assert await dispatcher.drain_once() == 0 and sends.sends == []
        (waiting,) = await storage.outbox.pending_for_chat(envelopes(1, 1)[0].chat)
        assert waiting.attempts == 0
        assert await dispatcher.drain_once() == 0  # not due yet: tried again a little later
        gate.broken = False
        clock.set(NOW + timedelta(seconds=STORAGE_RETRY_SECONDS))
        assert await dispatcher.drain_once() == 1 and len(sends.sends) == 1
    finally:
        await storage.close()


class Away(FailingOutbox):
    """The outbox, with the database away while `away` (claims and reads raise StorageError)."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.away = False

    async def claim(self, *, now: datetime, platforms: Iterable[str], limit: int = 100, chats: int | None = None) -> list[Delivery]:
        if self.away:
            raise StorageError("postgresql://bot@db/tb: the database cannot be reached (connection refused)")
        return await super().claim(now=now, platforms=platforms, limit=limit, chats=chats)


async def test_a_database_away_is_logged_once_and_its_end_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    clock = ReplayClock(NOW)
    try:
        await storage.outbox.enqueue(envelopes(2, 1), now=NOW)
        outbox, sends = Away(storage.outbox), SendLog(clock)
        dispatcher = Dispatcher(outbox, ChatDirectory(storage.chats, clock), {"telegram": sends}, clock)
        outbox.away = True
        with caplog.at_level(logging.WARNING, logger="jobs.dispatch"):
            for _ in range(3):
                assert await dispatcher._drain_and_plan(30.0, 2.0) == 2.0
            outbox.away = False
            await dispatcher._drain_and_plan(30.0, 2.0)
        lines = [r.getMessage() for r in caplog.records if r.name == "jobs.dispatch"]
        assert lines == [
            "storage unreachable (postgresql://bot@db/tb: the database cannot be reached (connection refused)): deliveries wait and retry every 2 s",
            "storage reachable again after 3 failed attempts: deliveries resume",
        ]
        assert len(sends.sends) == 2 and not any(r.exc_info for r in caplog.records)
    finally:
        await storage.close()
