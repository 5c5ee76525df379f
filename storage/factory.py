"""Open the storage a config names: a SQLite file (the embedded default) or a PostgreSQL database.

    await open_storage("var/tickerbell.sqlite3")                     # a path: SQLite
    await open_storage("sqlite:///var/tickerbell.sqlite3")           # relative path (three slashes)
    await open_storage("sqlite:////srv/tickerbell/data.sqlite3")     # absolute path (four slashes)
    await open_storage("postgresql://bot:secret@db:5432/tickerbell") # PostgreSQL (or postgres://)

Either raises StorageError with one line when the database cannot be used (the password masked).
"""

from __future__ import annotations

from pathlib import Path

from bot.core.ports import StorageError
from storage.postgres import PostgresStorage
from storage.postgres.database import mask
from storage.sqlite import SqliteStorage

AnyStorage = SqliteStorage | PostgresStorage

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def sqlite_path(target: str | Path) -> str:
    """The file a SQLite target names (a plain path, or a `sqlite:///` URL)."""
    text = str(target)
    if text.startswith(SQLITE_PREFIX):
        path = text[len(SQLITE_PREFIX) :]
        if not path:
            raise StorageError(f"[storage] url {text}: no file named: write sqlite:///var/tickerbell.sqlite3 (relative) or sqlite:////srv/tickerbell.sqlite3 (absolute)")
        return path
    if "://" in text:
        raise StorageError(f"[storage] url {mask(text)}: not a database URL tickerbell knows: use postgresql://user@host:5432/db or sqlite:///path")
    return text


async def open_storage(target: str | Path, *, migrate: bool = True) -> AnyStorage:
    """The storage `target` names, open, checked and (unless `migrate=False`) migrated."""
    if is_postgres(target):
        return await PostgresStorage.open(str(target), migrate=migrate)
    return await SqliteStorage.open(sqlite_path(target))  # SQLite always migrates on open, as before


def describe(target: str | Path) -> str:
    """The target as it may be shown (password masked)."""
    return mask(str(target)) if is_postgres(target) else sqlite_path(target)
