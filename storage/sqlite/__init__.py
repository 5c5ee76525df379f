"""The SQLite implementation of the storage ports (`bot.core.ports`): one file, one connection."""

from __future__ import annotations

from pathlib import Path

from storage.sqlite.baskets import SqliteBasketStore
from storage.sqlite.cashtags import SqliteCashtagStore
from storage.sqlite.catalysts import SqliteCatalystStore
from storage.sqlite.chats import SqliteChatStore
from storage.sqlite.checks import SqliteCheckStore
from storage.sqlite.database import Database, latest_version
from storage.sqlite.earnings import SqliteEarningsStore
from storage.sqlite.history import SqliteHistoryStore
from storage.sqlite.outbox import SqliteOutboxStore
from storage.sqlite.rules import SqliteRuleStore
from storage.sqlite.seeds import SqlitePrimerSeedStore
from storage.sqlite.settings import SqliteChatSettingsStore
from storage.sqlite.stats import SqliteStatsStore
from storage.sqlite.watches import SqliteMemberPrefStore, SqliteWatchStore


class SqliteStorage:
    """Every storage port over one SQLite file. Open with `await SqliteStorage.open(path)`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = db.path
        self.rules = SqliteRuleStore(db)
        self.watches = SqliteWatchStore(db)
        self.prefs = SqliteMemberPrefStore(db)
        self.chats = SqliteChatStore(db)
        self.baskets = SqliteBasketStore(db)
        self.earnings = SqliteEarningsStore(db)
        self.seeds = SqlitePrimerSeedStore(db)
        self.checks = SqliteCheckStore(db)
        self.outbox = SqliteOutboxStore(db)
        self.stats = SqliteStatsStore(db)
        self.chat_settings = SqliteChatSettingsStore(db)
        self.cashtags = SqliteCashtagStore(db)  # issue 14's features
        self.history = SqliteHistoryStore(db)
        self.catalysts = SqliteCatalystStore(db)

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        return cls(await Database.open(path))

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def close(self) -> None:
        await self.db.close()


__all__ = ["SqliteStorage", "latest_version"]
