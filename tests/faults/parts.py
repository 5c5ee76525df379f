"""Real parts for the fault tests: alerts to many chats, an adapter that records each send,
an outbox whose writes fail on demand, and a small tmpfs that can really be filled."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import Clock
from bot.core.messages import Alert, AlertKind, Delivery, Envelope
from bot.core.models import ChatKind, ChatRef
from bot.core.ports import OutboxCounts, OutboxStore

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
DISK_FULL = "database or disk is full"


def alert(n: int) -> Alert:
    """Alert number `n` (its rule id), delivered under the dedupe key `k{n}`."""
    return Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=NOW + timedelta(seconds=n), price=118.42, change_pct=-16.97, rule_id=n)


def envelopes(alerts: int, chats: int, platform: str = "telegram") -> list[Envelope]:
    """`alerts` alerts spread round-robin over `chats` group chats, oldest first."""
    return [Envelope(ChatRef(platform, f"-100{n % chats}", ChatKind.GROUP), alert(n), f"k{n}") for n in range(alerts)]


class SendLog:
    """An adapter that records every send it accepts: (chat id, dedupe key, time on the clock).

    Each send first yields to the loop, as a network call would, so chats interleave; `after_send`
    runs once a send was accepted (to fill a disk or break a store at the right moment)."""

    def __init__(self, clock: Clock, platform: str = "telegram", *, after_send: Callable[[int], None] | None = None) -> None:
        self.platform = platform
        self.clock = clock
        self.after_send = after_send
        self.sends: list[tuple[str, str, datetime]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        await asyncio.sleep(0)
        self.sends.append((chat.chat_id, f"k{alert.rule_id}", self.clock.now()))
        if self.after_send is not None:
            self.after_send(len(self.sends))

    def per_key(self) -> Counter[str]:
        return Counter(key for _, key, _ in self.sends)


def tally(sent: Counter[str], expected: Iterable[str]) -> tuple[int, int, int]:
    """(sends, repeats, lost) of what the platform received against the keys it should have."""
    keys = set(expected)
    repeats = sum(n - 1 for key, n in sent.items() if n > 1)
    lost = len(keys - set(sent))
    return sum(sent.values()), repeats, lost


class FailingOutbox:
    """An OutboxStore behind the port whose writes raise SQLite's full-disk error while `failing`."""

    def __init__(self, inner: OutboxStore) -> None:
        self.inner = inner
        self.failing = False
        self.refused = 0

    def _write(self) -> None:
        if self.failing:
            self.refused += 1
            raise sqlite3.OperationalError(DISK_FULL)

    async def enqueue(self, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        self._write()
        return await self.inner.enqueue(envelopes, now=now)

    async def due(self, *, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[Delivery]:
        return await self.inner.due(now=now, platforms=platforms, limit=limit)

    async def pending_for_chat(self, chat: ChatRef) -> list[Delivery]:
        return await self.inner.pending_for_chat(chat)

    async def next_due_at(self, platforms: Iterable[str]) -> datetime | None:
        return await self.inner.next_due_at(platforms)

    async def mark_sent(self, delivery_id: int, *, now: datetime) -> None:
        self._write()
        await self.inner.mark_sent(delivery_id, now=now)

    async def mark_retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        self._write()
        await self.inner.mark_retry(delivery_id, at=at, error=error, count=count)

    async def mark_dead(self, delivery_id: int, *, error: str, now: datetime) -> None:
        self._write()
        await self.inner.mark_dead(delivery_id, error=error, now=now)

    async def counts(self) -> OutboxCounts:
        return await self.inner.counts()

    async def claim(self, *, now: datetime, platforms: Iterable[str], limit: int = 100, chats: int | None = None) -> list[Delivery]:
        return await self.inner.claim(now=now, platforms=platforms, limit=limit, chats=chats)

    async def release(self, chats: Iterable[ChatRef]) -> None:
        await self.inner.release(chats)

    async def renew_claims(self) -> bool:
        return await self.inner.renew_claims()


@contextmanager
def small_tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for the test, or a skip that says why it cannot be."""
    if not sys.platform.startswith("linux"):
        pytest.skip(f"a real full disk needs a Linux tmpfs; this is {sys.platform} (the failing-store test covers the logic)")
    if os.geteuid() != 0:
        pytest.skip(f"a real full disk needs root to mount a small tmpfs; running as uid {os.geteuid()} (the failing-store test covers the logic)")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("a real full disk needs mount and umount, not found on PATH (the failing-store test covers the logic)")
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or mounted.returncode}); the failing-store test covers the logic")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Write junk into `disk` until not one byte more fits; return the junk file (delete it to free the space)."""
    junk = disk / "junk"
    fd = os.open(junk, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return junk
