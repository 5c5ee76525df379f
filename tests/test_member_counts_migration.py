"""Migration 017 on SQLite: a database left at schema 16 starts with each member's alerts counted, and
the copy to PostgreSQL leaves the counts to the target's trigger (tests/storage_contract covers both
backends' counts as rules come and go)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.core.models import UserRef
from storage.sqlite import SqliteStorage
from storage.sqlite.database import migrations, split_sql

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)


async def test_a_schema_16_database_moves_forward_with_its_members_alerts_counted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as conn:
        for version, script in migrations():
            if version <= 16:
                for statement in split_sql(script):
                    conn.execute(statement)
        conn.execute("PRAGMA user_version = 16")
        rows = [("NVDA", "member", "telegram", "101")] * 3 + [("AVGO", "member", "telegram", "202"), ("NVDA", "watch", None, None)]
        conn.executemany(
            "INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, created_at) VALUES (?, 'above', 150, ?, ?, ?, ?)",
            [(*row, NOW.isoformat()) for row in rows],
        )
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.schema_version() >= 17
        assert await storage.rules.count_of_member(UserRef("telegram", "101")) == 3
        assert await storage.rules.count_of_member(UserRef("telegram", "202")) == 1
        assert await storage.rules.count_of_member(UserRef("telegram", "303")) == 0
    finally:
        await storage.close()
