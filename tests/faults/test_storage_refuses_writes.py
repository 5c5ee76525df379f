"""Storage that refuses writes mid-delivery: an injected failing store, then a real full disk.

200 alerts to 20 chats; after 42 sends the store refuses every write. What a platform accepted
is never sent again, nothing new is sent until storage works, and then every alert has gone out
exactly once. The pause and the recovery are logged once each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage
from tests.faults.parts import NOW, FailingOutbox, SendLog, envelopes, fill, small_tmpfs, tally

ALERTS, CHATS, BREAK_AFTER = 200, 20, 42
PAUSED = "deliveries paused"
RESUMED = "sent deliveries recorded late"


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "jobs.dispatch" and text in r.getMessage()]


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait until `check` holds, at most `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_a_store_refusing_writes_never_repeats_a_send_and_loses_none(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobs.dispatch")
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        queued = envelopes(ALERTS, CHATS)
        assert await storage.outbox.enqueue(queued, now=NOW) == ALERTS
        outbox = FailingOutbox(storage.outbox)

        def break_store(sends: int) -> None:
            if sends == BREAK_AFTER:
                outbox.failing = True

        platform = SendLog(clock, after_send=break_store)
        sender = Dispatcher(outbox, ChatDirectory(storage.chats, clock), {"telegram": platform}, clock)
        await sender.drain_once()
        accepted, unrecorded = len(platform.sends), sender.unrecorded()
        assert sender.paused
        assert 1 <= len(unrecorded) <= sender.max_chats  # at most the sends in flight when it broke
        assert (await storage.outbox.counts()).sent + len(unrecorded) == accepted

        for second in range(1, 31):  # 30 s of drains while storage refuses writes
            clock.set(NOW + timedelta(seconds=second))
            assert await sender.drain_once() == 0
        assert len(platform.sends) == accepted  # not one send while paused, so no repeat
        assert outbox.refused > 30  # recording was retried at every drain
        assert len(lines(caplog, PAUSED)) == 1

        outbox.failing = False
        clock.set(NOW + timedelta(seconds=31))
        while (await storage.outbox.counts()).pending:
            await sender.drain_once()
        sends, repeats, lost = tally(platform.per_key(), (e.dedupe_key for e in queued))
        print(f"\nfailing store: {sends} sends for {ALERTS} alerts, {repeats} repeats, {lost} lost; {len(unrecorded)} recorded late")
        assert (sends, repeats, lost) == (ALERTS, 0, 0)
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent, counts.dead) == (0, ALERTS, 0)
        assert lines(caplog, PAUSED) and len(lines(caplog, PAUSED)) == 1
        assert lines(caplog, RESUMED) == [f"storage accepts writes again: {len(unrecorded)} sent deliveries recorded late (and 0 other delivery outcomes); deliveries resume"]
    finally:
        await storage.close()


async def test_a_real_full_disk_mid_delivery_never_repeats_a_send_and_loses_none(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobs.dispatch")
    with small_tmpfs(tmp_path / "disk") as disk:
        clock = ReplayClock(NOW)
        storage = await SqliteStorage.open(disk / "db.sqlite3")
        try:
            queued = envelopes(ALERTS, CHATS)
            assert await storage.outbox.enqueue(queued, now=NOW) == ALERTS
            junk: list[Path] = []

            def fill_disk(sends: int) -> None:
                if sends == BREAK_AFTER:
                    junk.append(fill(disk))

            platform = SendLog(clock, after_send=fill_disk)
            sender = Dispatcher(storage.outbox, ChatDirectory(storage.chats, clock), {"telegram": platform}, clock)
            stop = asyncio.Event()
            running = asyncio.create_task(sender.run(stop, retry_seconds=0.05))
            try:
                await eventually(lambda: sender.paused)
                await asyncio.sleep(0.2)  # the sends in flight when the disk filled come back
                accepted, unrecorded = len(platform.sends), sender.unrecorded()
                await asyncio.sleep(1.0)  # about 20 drains with the disk full
                assert sender.paused and len(platform.sends) == accepted  # nothing sent while full
                assert sender.unrecorded() == unrecorded
                assert 1 <= len(unrecorded) <= sender.max_chats
                junk[0].unlink()  # space returns

                await eventually(lambda: len(platform.sends) >= ALERTS and not sender.paused)
            finally:
                stop.set()
                await running
            counts = await storage.outbox.counts()
            assert (counts.pending, counts.sent, counts.dead) == (0, ALERTS, 0)
            sends, repeats, lost = tally(platform.per_key(), (e.dedupe_key for e in queued))
            print(f"\nreal full disk: {sends} sends for {ALERTS} alerts, {repeats} repeats, {lost} lost; {len(unrecorded)} recorded late")
            assert (sends, repeats, lost) == (ALERTS, 0, 0)
            assert len(lines(caplog, PAUSED)) == 1
            assert "database or disk is full" in lines(caplog, PAUSED)[0]
            assert lines(caplog, RESUMED) == [f"storage accepts writes again: {len(unrecorded)} sent deliveries recorded late (and 0 other delivery outcomes); deliveries resume"]
        finally:
            await storage.close()

