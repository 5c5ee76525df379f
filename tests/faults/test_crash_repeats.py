"""kill -9 during delivery, through real processes: nothing is lost, and the repeats after the
restart are exactly the sends accepted but not yet recorded when the process died, never more
than the dispatcher's `max_chats` (16)."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage
from tests.conftest import ROOT
from tests.faults.parts import NOW, envelopes, tally

ALERTS, CHATS = 200, 20
MAX_CHATS: int = inspect.signature(Dispatcher).parameters["max_chats"].default  # 16, as the app wires it


async def worker(db: Path, sends: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.faults.crash_worker", str(db), str(sends), cwd=ROOT)


def accepted(sends: Path) -> list[str]:
    return sends.read_text().split() if sends.exists() else []


@pytest.mark.parametrize("kill_after", [25, 90, 160])
async def test_a_kill_9_mid_delivery_repeats_only_the_sends_in_flight_and_loses_none(tmp_path: Path, kill_after: int) -> None:
    db, sends = tmp_path / "db.sqlite3", tmp_path / "sends.txt"
    storage = await SqliteStorage.open(db)
    queued = envelopes(ALERTS, CHATS)
    await storage.outbox.enqueue(queued, now=NOW)
    await storage.close()

    first = await worker(db, sends)
    async with asyncio.timeout(30):
        while len(accepted(sends)) < kill_after:
            await asyncio.sleep(0.002)
    os.kill(first.pid, signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    at_kill = len(accepted(sends))
    storage = await SqliteStorage.open(db)
    recorded = (await storage.outbox.counts()).sent
    await storage.close()
    in_flight = at_kill - recorded  # accepted by the platform, not yet recorded as sent

    second = await worker(db, sends)
    async with asyncio.timeout(30):
        assert await second.wait() == 0

    total, repeats, lost = tally(Counter(accepted(sends)), (e.dedupe_key for e in queued))
    print(f"\nkill -9 after {at_kill} sends: {in_flight} in flight, {total} sends, {repeats} repeats, {lost} lost")
    assert lost == 0
    assert repeats == in_flight <= MAX_CHATS
