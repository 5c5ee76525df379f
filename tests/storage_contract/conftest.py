"""The storage contract's fixtures: every test here runs against a real SQLite file and a real PostgreSQL database.

    storage      a fresh, migrated, empty storage with every port; parametrized "sqlite" / "postgres"
    backend      which of the two this run is
    open_other   another storage over the same database (a second process's view), closed after the test
    pg_url       (module scope) the URL of a PostgreSQL database made for this test module, dropped after it
    outbox_rows  the outbox as plain dicts, by id, on either backend

PostgreSQL runs skip, saying so, only when no server answers at 127.0.0.1:5432. A module's database is
created once and its tables emptied (TRUNCATE ... RESTART IDENTITY) before each test, so a test costs
milliseconds, not a CREATE DATABASE.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage.factory import AnyStorage
from storage.postgres import PostgresStorage
from storage.sqlite import SqliteStorage

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
# every database these tests make starts with this (and is dropped after); another prefix for parallel checkouts
DB_PREFIX = os.environ.get("TICKERBELL_TEST_PG_PREFIX", "tb12a_")
NO_SERVER = f"no PostgreSQL server at {PG_HOST}:{PG_PORT}"
BACKENDS = ["sqlite", "postgres"]

_answers: bool | None = None


def pg_server_answers() -> bool:
    """True if something accepts connections at 127.0.0.1:5432 (asked once per session)."""
    global _answers
    if _answers is None:
        try:
            socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
            _answers = True
        except OSError:
            _answers = False
    return _answers


def run_aside(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to its end on a loop of its own (in a thread, so it may be called from async fixtures)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def database_url(name: str) -> str:
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"


@contextlib.contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named <DB_PREFIX><label>_<pid>; dropped (even if in use) on leaving."""
    if not pg_server_answers():
        pytest.skip(NO_SERVER)
    name = (DB_PREFIX + re.sub(r"[^a-z0-9_]", "_", label.lower()))[:50] + f"_{os.getpid()}"
    run_aside(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(name)
    finally:
        run_aside(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(request.module.__name__.rsplit(".", 1)[-1]) as url:
        yield url


async def empty(storage: PostgresStorage) -> None:
    """Every table emptied and every id sequence back to 1; the schema version kept."""
    async with storage.db.transaction() as tx:
        tables = await tx.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'tickerbell_schema'")
        if tables:
            await tx.execute("TRUNCATE " + ", ".join(f'"{r[0]}"' for r in tables) + " RESTART IDENTITY")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """What `open_storage` is given for this run: a SQLite file, or the module's PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "contract.sqlite3")
    return str(request.getfixturevalue("pg_url"))


async def _open(backend: str, target: str) -> AnyStorage:
    if backend == "sqlite":
        return await SqliteStorage.open(target)
    return await PostgresStorage.open(target)


@pytest.fixture
async def storage(backend: str, target: str) -> AsyncIterator[AnyStorage]:
    opened = await _open(backend, target)
    if isinstance(opened, PostgresStorage):
        await empty(opened)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def open_other(backend: str, target: str, storage: AnyStorage) -> AsyncIterator[Callable[[], Awaitable[AnyStorage]]]:
    """Open more storages over the same database (as other processes would); all closed after the test."""
    opened: list[AnyStorage] = []

    async def another() -> AnyStorage:
        other = await _open(backend, target)
        opened.append(other)
        return other

    try:
        yield another
    finally:
        for other in opened:
            await other.close()


OUTBOX_COLUMNS = "id, platform, chat_id, chat_kind, kind, ticker, payload, dedupe_key, status, attempts, last_error, fallback_platform, fallback_chat_id, fallback_kind, dead_at"


async def outbox_rows(storage: AnyStorage) -> list[dict[str, Any]]:
    """The outbox table as dicts, by id, read straight from the database (not through the port under test)."""
    sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"
    if isinstance(storage, PostgresStorage):
        return [dict(r) for r in await storage.db.fetch(sql)]
    return [dict(r) for r in await storage.db.fetchall(sql)]
