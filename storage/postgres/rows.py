"""Records to values and values to columns for the PostgreSQL stores: the columns hold what SQLite's
do (ISO text moments, 0/1 flags), so the conversions are SQLite's (`storage.sqlite.rows`), read the same way from an asyncpg.Record."""

from __future__ import annotations

from storage.sqlite.rows import armed_to_db, chat_of, close_range, day, day_text, moment, moment_text, rule_of, same_of, state_of

__all__ = ["armed_to_db", "chat_of", "close_range", "day", "day_text", "moment", "moment_text", "rule_of", "same_of", "state_of"]
