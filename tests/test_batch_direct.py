"""Inside a batch (a replay), every statement goes straight to SQLite's connection on the event loop's
thread, where outside one it goes through aiosqlite's thread; a batch still commits once, rolls back
whole when it fails, and a savepoint that fails still undoes only itself (tests/test_check_batching.py)."""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from pathlib import Path

from storage.sqlite import SqliteStorage


async def test_a_batch_runs_its_statements_on_the_loops_thread_and_others_go_to_aiosqlites(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "t.sqlite3")
    db = storage.db
    try:
        await db.conn.create_function("thread_id", 0, threading.get_ident)
        loop_thread = threading.get_ident()

        async def thread_of_a_read() -> int:
            row = await db.fetchone("SELECT thread_id()")
            assert row is not None
            return int(row[0])

        async def thread_of_a_write() -> int:
            async with db.transaction() as tx:
                await tx.execute("CREATE TABLE IF NOT EXISTS seen (thread INTEGER)")
                await tx.execute("INSERT INTO seen VALUES (thread_id())")
            row = await db.fetchone("SELECT thread FROM seen ORDER BY rowid DESC LIMIT 1")
            assert row is not None
            return int(row[0])

        assert await thread_of_a_read() != loop_thread
        assert await thread_of_a_write() != loop_thread
        async with db.batch():
            assert await thread_of_a_read() == loop_thread
            assert await thread_of_a_write() == loop_thread
            assert await asyncio.create_task(thread_of_a_read()) == loop_thread  # a task it starts too
        assert await thread_of_a_read() != loop_thread  # and after it, the thread again
        row = await db.fetchone("SELECT COUNT(*) FROM seen")
        assert row is not None and row[0] == 2  # both writes committed
    finally:
        await storage.close()


async def test_a_read_from_outside_a_batch_while_it_is_open_sees_its_writes_on_the_same_thread(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "t.sqlite3")
    db = storage.db
    try:
        await db.conn.create_function("thread_id", 0, threading.get_ident)
        opened, written = asyncio.Event(), asyncio.Event()

        async def replay() -> None:
            async with db.batch():
                await db.write("INSERT INTO applied_splits (ticker, day, ratio, applied_at) VALUES ('NVDA', '2024-06-10', 10, 'x')")
                opened.set()
                await written.wait()

        batch = asyncio.create_task(replay())
        await opened.wait()
        row = await db.fetchone("SELECT COUNT(*), thread_id() FROM applied_splits")  # this task is not in the batch
        assert row is not None and (row[0], row[1]) == (1, threading.get_ident())  # never two threads on one connection
        written.set()
        await batch
        assert await storage.checks.split_applied("NVDA", date(2024, 6, 10))
    finally:
        await storage.close()
