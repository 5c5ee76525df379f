"""Rows to values and values to columns, shared by the SQLite stores and the PostgreSQL ones (whose
columns hold the same ISO text moments and 0/1 flags): a row is anything read by column name."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef


class Row(Protocol):
    """An aiosqlite.Row or an asyncpg.Record: columns by name."""

    def __getitem__(self, key: str, /) -> Any: ...


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def day_text(value: date | None) -> str | None:
    return value.isoformat() if value else None


def armed_to_db(armed: bool | None) -> int | None:
    return None if armed is None else int(armed)


def moment_text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def chat_of(row: Row, platform: str = "platform", chat_id: str = "chat_id", kind: str = "chat_kind") -> ChatRef:
    return ChatRef(row[platform], row[chat_id], ChatKind(row[kind] or "private"))


def rule_of(row: Row) -> Rule:
    owner = UserRef(row["owner_platform"], row["owner_id"], row["owner_name"] or "") if row["owner_platform"] else None
    chat = chat_of(row, "chat_platform", "chat_id", "chat_kind") if row["chat_platform"] else None
    return Rule(
        id=int(row["id"]),
        ticker=row["ticker"],
        kind=RuleKind(row["kind"]),
        threshold=row["threshold"],
        source=RuleSource(row["source"]),
        direction=Direction(row["direction"]),
        owner=owner,
        chat=chat,
        level_name=LevelName(row["level_name"]) if row["level_name"] else None,
        note=row["note"],
        armed=None if row["armed"] is None else bool(row["armed"]),
        snoozed_until=moment(row["snoozed_until"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        multiple=row["multiple"],
        basis=row["basis"],
        met_session=day(row["met_session"]),
        written_at=moment(row["written_at"]),
        once=bool(row["once"]),
        expires_on=day(row["expires_on"]),
        indicator=row["indicator"],
        period=row["period"],
    )


def state_of(row: Row) -> TickerState:
    return TickerState(
        ticker=row["ticker"],
        last_price=row["last_price"],
        session=day(row["session"]),
        max_up_pct=row["max_up_pct"],
        max_down_pct=row["max_down_pct"],
        peak=row["peak"],
        max_drawdown_pct=row["max_drawdown_pct"],
    )
