"""Rows to values and values to columns, shared by the SQLite stores and the PostgreSQL ones (whose
columns hold the same ISO text moments and 0/1 flags): a row is anything read by column name."""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import lru_cache
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


# Each enum by its stored value: a dictionary lookup, several times cheaper than calling the enum,
# which counts when a million rules are loaded.
_CHAT_KINDS = {kind.value: kind for kind in ChatKind}
_RULE_KINDS = {kind.value: kind for kind in RuleKind}
_SOURCES = {source.value: source for source in RuleSource}
_DIRECTIONS = {direction.value: direction for direction in Direction}
_LEVEL_NAMES = {name.value: name for name in LevelName}


def _member(table: dict[str, Any], value: str, enum: Any) -> Any:
    """`enum(value)` by lookup; an unknown value still raises the enum's own ValueError."""
    found = table.get(value)
    return enum(value) if found is None else found


def chat_of(row: Row, platform: str = "platform", chat_id: str = "chat_id", kind: str = "chat_kind") -> ChatRef:
    return _chat(row[platform], row[chat_id], row[kind] or "private")


# One object for each ticker, member and chat among the rules read (they are immutable): a million
# rules read hold a few thousand of each, not a million copies (about 0.3 KB less a rule, measured).
@lru_cache(maxsize=1 << 16)
def _ticker(name: str) -> str:
    return name


@lru_cache(maxsize=1 << 16)
def _user(platform: str, user_id: str, name: str) -> UserRef:
    return UserRef(platform, user_id, name)


@lru_cache(maxsize=1 << 16)
def _chat(platform: str, chat_id: str, kind: str) -> ChatRef:
    return ChatRef(platform, chat_id, _member(_CHAT_KINDS, kind, ChatKind))


def rule_of(row: Row) -> Rule:
    owner = _user(row["owner_platform"], row["owner_id"], row["owner_name"] or "") if row["owner_platform"] else None
    chat = _chat(row["chat_platform"], row["chat_id"], row["chat_kind"] or "private") if row["chat_platform"] else None
    level_name = row["level_name"]
    return Rule(
        id=int(row["id"]),
        ticker=_ticker(row["ticker"]),
        kind=_member(_RULE_KINDS, row["kind"], RuleKind),
        threshold=row["threshold"],
        source=_member(_SOURCES, row["source"], RuleSource),
        direction=_member(_DIRECTIONS, row["direction"], Direction),
        owner=owner,
        chat=chat,
        level_name=_member(_LEVEL_NAMES, level_name, LevelName) if level_name else None,
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


def close_range(value: float) -> tuple[float, float]:
    """Bounds for a query of thresholds that may be `math.isclose` to `value` (a little wider:
    `same_of` makes the exact test)."""
    margin = abs(value) * 2e-9
    return value - margin, value + margin


def same_of(rule: Rule, candidates: list[Rule]) -> Rule | None:
    """The first candidate whose threshold is `math.isclose` to the rule's (relative 1e-9)."""
    return next((c for c in candidates if math.isclose(c.threshold, rule.threshold, rel_tol=1e-9)), None)


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
