"""What `tickerbell migrate` does: bring a database's schema forward, or copy a SQLite database into
a fresh PostgreSQL one (every table, every id, the id sequences where SQLite left them).

    tickerbell migrate                                    # the [storage] the config names
    tickerbell migrate --from sqlite:///var/tickerbell.sqlite3 --to postgresql://bot@db:5432/tickerbell

Both raise StorageError, one line, when they cannot do it; nothing is half-copied (one transaction).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.ports import StorageError
from storage.factory import is_postgres, sqlite_path
from storage.postgres.database import PostgresDatabase, mask, unreachable
from storage.postgres.database import latest_version as postgres_latest
from storage.sqlite.database import Database
from storage.sqlite.database import latest_version as sqlite_latest


@dataclass(frozen=True)
class Migrated:
    where: str
    before: int
    after: int

    def __str__(self) -> str:
        if self.before == self.after:
            return f"{self.where}: schema {self.after}, up to date"
        return f"{self.where}: schema {self.before} -> {self.after} (migrations {self.before + 1:03d} to {self.after:03d} applied)"


async def migrate(target: str | Path) -> Migrated:
    """Apply the migrations a database lacks (refusing one written by a newer tickerbell)."""
    if is_postgres(target):
        url = str(target)
        before = await _postgres_version(url)
        db = await PostgresDatabase.open(url, migrate=True)
        try:
            return Migrated(db.where, before, await db.schema_version())
        finally:
            await db.close()
    path = sqlite_path(target)
    before = _sqlite_version(path)
    database = await Database.open(path)
    try:
        return Migrated(path, before, await database.schema_version())
    finally:
        await database.close()


async def _postgres_version(url: str) -> int:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=10)
    except Exception as problem:
        raise unreachable(url, problem) from None
    try:
        if not await conn.fetchval("SELECT to_regclass('tickerbell_schema') IS NOT NULL"):
            return 0
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM tickerbell_schema"))
    finally:
        await conn.close()


def _sqlite_version(path: str) -> int:
    if not Path(path).is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return 0  # Database.open says what is wrong with it


# -- copying SQLite into PostgreSQL ---------------------------------------------------------


@dataclass(frozen=True)
class Copied:
    source: str
    target: str
    rows: dict[str, int]

    def __str__(self) -> str:
        counts = ", ".join(f"{table} {n:,}" for table, n in self.rows.items() if n)
        return f"copied {self.source} into {self.target}: {sum(self.rows.values()):,} rows ({counts or 'no rows'})"


async def copy_sqlite_to_postgres(source: str | Path, target: str) -> Copied:
    """Copy every table of a SQLite database (brought up to date first, as `tickerbell run` would) into
    an empty PostgreSQL database (migrated here), keeping ids and where each id sequence stands."""
    if not is_postgres(target):
        raise StorageError(f"--to {mask(target)}: not a PostgreSQL URL: write postgresql://user@host:5432/database")
    if is_postgres(source):
        raise StorageError(f"--from {mask(str(source))}: copying reads a SQLite database: write sqlite:///path/to/tickerbell.sqlite3")
    if sqlite_latest() != postgres_latest():
        raise StorageError(f"this tickerbell's SQLite schema ({sqlite_latest()}) and PostgreSQL schema ({postgres_latest()}) differ: it cannot copy")
    path = _existing_file(source)
    lite = await Database.open(path)
    try:
        pg = await PostgresDatabase.open(target, migrate=True)
        try:
            rows = await _copy(lite, pg)
            return Copied(path, pg.where, rows)
        finally:
            await pg.close()
    finally:
        await lite.close()


def _existing_file(source: str | Path) -> str:
    path = sqlite_path(source)
    if not os.path.isfile(path):
        raise StorageError(f"--from {path}: no such file")
    return path


# Tables the target's triggers fill as the rules arrive: copying them too would count each member twice.
DERIVED_TABLES = frozenset({"member_alert_counts"})


async def _copy(lite: Database, pg: PostgresDatabase) -> dict[str, int]:
    tables = [r[0] for r in await lite.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
              if r[0] not in DERIVED_TABLES]
    sequences = {r[0]: int(r[1]) for r in await lite.fetchall("SELECT name, seq FROM sqlite_sequence")} if await _has_sequences(lite) else {}
    copied: dict[str, int] = {}
    async with pg.transaction() as tx:
        filled = [t for t in tables if await tx.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{t}")')]
        if filled:
            raise StorageError(f"--to {pg.where}: not empty (it holds rows in {', '.join(filled[:3])}): copy only into a new, empty database")
        for table in tables:
            types = {r[0]: r[1] for r in await tx.fetch("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", table)}
            if not types:
                raise StorageError(f"--to {pg.where}: has no table {table}: is it the same tickerbell version?")
            cursor = await lite.conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            count = 0
            while batch := await cursor.fetchmany(5000):
                records = [tuple(_as(types[c], v) for c, v in zip(columns, row, strict=True)) for row in batch]
                await tx.copy_records_to_table(table, records=records, columns=columns)
                count += len(records)
            await cursor.close()
            copied[table] = count
            if "id" in columns:  # where the id sequence stands: past every id SQLite ever gave (AUTOINCREMENT)
                top = max(int(await tx.fetchval(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')), sequences.get(table, 0))
                await tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), $1, $2)", max(top, 1), top > 0)
    return copied


async def _has_sequences(lite: Database) -> bool:
    return await lite.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'") is not None


def _as(kind: str, value: Any) -> Any:
    """A SQLite value as the PostgreSQL column's type wants it (SQLite's typing is loose)."""
    if value is None:
        return None
    if kind == "double precision":
        return float(value)
    if kind in ("integer", "bigint"):
        return int(value)
    return str(value)
