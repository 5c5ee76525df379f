"""Typed outbound messages. They carry numbers, words and enums, never markup:
each adapter renders them in its own idiom (Discord embeds, Telegram HTML, plain text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.core.models import ChatKind, ChatRef, UserRef


class Tone(StrEnum):
    """How a message feels: adapters pick colours and emoji from it."""

    NEUTRAL = "neutral"
    UP = "up"
    DOWN = "down"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Action:
    """A button: pressing it runs `command args...` as the user who pressed it."""

    label: str
    command: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Image:
    filename: str
    data: bytes
    description: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A file sent with a reply (an /export): adapters send it as a file, never as a picture."""

    filename: str
    data: bytes
    description: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to a command."""

    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    tone: Tone = Tone.NEUTRAL
    footer: str | None = None
    image: Image | None = None
    actions: tuple[Action, ...] = ()
    private: bool = False  # errors and personal lists: ephemeral where the platform can
    document: Document | None = None  # a file sent after the reply (/export)

    @property
    def text(self) -> str:
        """The reply as plain text (console, logs, fallbacks)."""
        return plain_text(self.title, self.lines, self.fields, self.footer)


def error_reply(message: str) -> Reply:
    return Reply(title=message, tone=Tone.ERROR, private=True)


class AlertKind(StrEnum):
    PRICE_ABOVE = "price_above"
    PRICE_BELOW = "price_below"
    DAILY_MOVE = "daily_move"
    DRAWDOWN = "drawdown"
    ANALYST_LEVEL = "analyst_level"
    SELLOFF = "selloff"
    SPLIT = "split"
    EARNINGS_REMINDER = "earnings_reminder"
    EARNINGS_DAY = "earnings_day"
    EARNINGS_RECAP = "earnings_recap"
    EARNINGS_MOVED = "earnings_moved"
    BASKET_SELLOFF = "basket_selloff"
    BASKET_DRAWDOWN = "basket_drawdown"
    GROUP = "group"  # one check's alerts for one chat, in one message: `Alert.items`
    DIGEST = "digest"  # a chat's pre-open brief or after-close wrap (/digest)
    CATALYST_REMINDER = "catalyst_reminder"
    CATALYST_DAY = "catalyst_day"
    CATALYST_RECAP = "catalyst_recap"
    INDICATOR = "indicator"  # a member's moving-average, RSI or change-over-sessions alert (bot.core.indicators)


@dataclass(slots=True)
class Alert:
    """Something happened to a ticker. Numbers only; `describe_alert` puts it in words.

    Treat it as immutable (use `dataclasses.replace`); it is not frozen only because
    frozen dataclasses are several times slower to build, and a sell-off builds many.
    """

    kind: AlertKind
    ticker: str
    at: datetime
    price: float | None = None
    change_pct: float | None = None  # the day's change from the previous close
    prev_close: float | None = None
    level: float | None = None  # the price level crossed, where there is one
    level_name: str | None = None  # entry / exit / stop for the analyst's levels
    threshold_pct: float | None = None  # the N of "a move of N %" or "a drawdown of N %"
    direction: str | None = None  # "up" / "down"
    peak: float | None = None
    drawdown_pct: float | None = None
    rule_id: int | None = None
    note: str | None = None
    mention: UserRef | None = None  # the member whose alert this is
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific figures (earnings dates, split ratio)
    items: list[Alert] = field(default_factory=list)  # a GROUP's alerts, in the order they are told
    silent: bool = False  # delivered without a notification sound (/settings, quiet hours)

    @property
    def alerts(self) -> list[Alert]:
        """The alerts this message carries: a group's items, or itself."""
        return self.items if self.kind is AlertKind.GROUP else [self]

    def to_json(self) -> str:
        """The alert as the json module writes it, keys sorted (the outbox's payloads are written by
        `storage/payloads.py`; this text is for keys and nonces, and for what orjson refuses)."""
        return json.dumps(self._data(), sort_keys=True, default=_json_default)

    def _data(self) -> dict[str, Any]:
        """The alert as JSON-ready values: what `dataclasses.asdict` gives (without its deep copies,
        which cost a group of thousands of items seconds), `at` as text, no empty items, no silent
        unless set."""
        data = {name: _plain(getattr(self, name)) for name in _COPIED_FIELDS}
        data["at"] = self.at.isoformat()
        if self.items:
            data["items"] = [item._data() for item in self.items]
        if self.silent:
            data["silent"] = True
        return data

    @classmethod
    def from_json(cls, text: str) -> Alert:
        return cls.from_data(json.loads(text))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Alert:
        """An alert from its JSON decoded (by any reader: `to_json`'s, or a store's own format)."""
        data["kind"] = AlertKind(data["kind"])
        data["at"] = datetime.fromisoformat(data["at"])
        if data.get("mention"):
            data["mention"] = UserRef(**data["mention"])
        data["items"] = [cls.from_data(item) for item in data.get("items") or []]
        return cls(**{k: v for k, v in data.items() if k in _ALERT_FIELDS})


_LEAVES = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """A value as `dataclasses.asdict` turns it (dataclasses to dicts, lists, tuples and dicts
    rebuilt), its leaves shared rather than deep-copied: the same JSON, several times cheaper."""
    if isinstance(value, _LEAVES):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return value


def _json_default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


_ALERT_FIELDS = frozenset(f.name for f in fields(Alert))
_COPIED_FIELDS = tuple(f.name for f in fields(Alert) if f.name not in ("at", "items", "silent"))  # `_data` sets these three itself


@dataclass(slots=True)
class Envelope:
    """An alert addressed by the routing step: where it goes, the key that makes it go there
    once, and the chat to use instead if `chat` (a member's direct chat) refuses the bot.

    Treat it as immutable (use `dataclasses.replace`); it is not frozen because a frozen
    dataclass is about three times slower to build, and a busy check builds one per firing.
    (It was never hashable: its alert is not.)"""

    chat: ChatRef
    alert: Alert
    dedupe_key: str
    fallback: ChatRef | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An alert on its way to one chat, as held in the outbox."""

    id: int
    chat: ChatRef
    alert: Alert
    attempts: int = 0


def plain_text(title: str, lines: tuple[str, ...] = (), fields_: tuple[Field, ...] = (), footer: str | None = None) -> str:
    parts = [title]
    parts.extend(lines)
    parts.extend(f"{f.name}: {f.value}" for f in fields_)
    if footer:
        parts.append(footer)
    return "\n".join(parts)


__all__ = [
    "Action",
    "Alert",
    "AlertKind",
    "ChatKind",
    "Delivery",
    "Document",
    "Envelope",
    "Field",
    "Image",
    "Reply",
    "Tone",
    "error_reply",
    "plain_text",
]
