"""Platform-neutral values: who is speaking, where, and what they asked to be told about."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from bot.core.errors import UserError

TICKER_PATTERN = re.compile(r"^[A-Z0-9.\-^]{1,12}$")
MAX_TICKER_LENGTH = 12


def parse_ticker(raw: str) -> str:
    """Normalise a ticker (case-insensitive) or raise a UserError that says what is allowed."""
    text = raw.strip().lstrip("$").upper()
    if not text:
        raise UserError("A ticker is missing, for example NVDA or ^SOX.")
    if len(text) > MAX_TICKER_LENGTH:
        raise UserError(f"A ticker has at most {MAX_TICKER_LENGTH} characters; that one has {len(text)}.")
    if not TICKER_PATTERN.match(text):
        raise UserError(
            f"'{_visible(raw)}' is not a ticker: use letters, digits, '.', '-' or '^' (for example NVDA, BRK.B, ^SOX)."
        )
    return text


def _visible(text: str, limit: int = 24) -> str:
    """A short, printable echo of user input for error messages."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a message goes: a platform and that platform's chat id (as text)."""

    platform: str
    chat_id: str
    kind: ChatKind = ChatKind.PRIVATE
    # "platform:chat_id", written once: a busy check reads it for every delivery (it was a
    # property that wrote it at every read). Not compared, hashed or shown: made of the fields that are.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.platform}:{self.chat_id}")


DIRECT_PREFIX = "user:"


def direct_chat(user: UserRef) -> ChatRef:
    """The member's direct-message chat, whatever its platform id: adapters resolve `user:ID`."""
    return ChatRef(user.platform, f"{DIRECT_PREFIX}{user.user_id}", ChatKind.PRIVATE)


def direct_user_id(chat: ChatRef) -> str | None:
    """The user id of a direct chat made by `direct_chat`, or None for any other chat."""
    return chat.chat_id[len(DIRECT_PREFIX) :] if chat.chat_id.startswith(DIRECT_PREFIX) else None


def chat_from_key(key: str, kind: str = "private") -> ChatRef:
    """The ChatRef of a `ChatRef.key` ("platform:chat_id")."""
    platform, _, chat_id = key.partition(":")
    return ChatRef(platform, chat_id, ChatKind(kind))


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    user_id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def label(self) -> str:
        return self.display_name or self.user_id


class RuleKind(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    MOVE = "move"
    DRAWDOWN = "drawdown"
    CROSS = "cross"  # an analyst level: alerts when the price crosses it either way
    MA = "ma"  # the price crossing its moving average (indicator sma/ema, period N): /alert NVDA below sma200
    RSI = "rsi"  # the RSI (indicator rsi, period 14) crossing a level: /alert NVDA rsi below 30
    CHANGE = "change"  # the change in percent over `period` sessions: /alert NVDA move -10 over 5d


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    EITHER = "either"


class RuleSource(StrEnum):
    MEMBER = "member"  # a member's own alert, delivered to the chat it was made in
    WATCH = "watch"  # a chat's sell-off / drawdown watch on a ticker
    ANALYST = "analyst"  # the analyst's entry/exit/stop, fanned out to every watching chat


class LevelName(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    STOP = "stop"


@dataclass(slots=True)
class Rule:
    """One thing to watch. `threshold` is a price for ABOVE/BELOW/CROSS, a percent for MOVE/DRAWDOWN."""

    id: int
    ticker: str
    kind: RuleKind
    threshold: float
    source: RuleSource
    direction: Direction = Direction.EITHER
    owner: UserRef | None = None
    chat: ChatRef | None = None
    level_name: LevelName | None = None
    note: str | None = None
    armed: bool | None = True  # None: no price seen yet, the first check sets the baseline
    snoozed_until: datetime | None = None
    created_at: datetime | None = None
    multiple: float | None = None  # a valuation level: threshold = multiple x EPS (0 when EPS is unusable)
    basis: str | None = None  # "pe" (trailing EPS) or "fpe" (forward EPS), with multiple
    met_session: date | None = None  # a move rule set after this session had already moved enough: quiet in it
    written_at: datetime | None = None  # an analyst's level: when its note was written (a seed's: its notes' date)
    once: bool = False  # a member's alert removed after it fires (/alert ... once)
    expires_on: date | None = None  # a member's alert checked through this day, then removed (/alert ... until DATE)
    indicator: str | None = None  # MA: "sma" or "ema"; RSI: "rsi" (bot.core.indicators)
    period: int | None = None  # MA/RSI: the length in sessions; CHANGE: how many sessions back the close is compared


@dataclass(slots=True)
class TickerState:
    """What the engine remembers of one ticker between checks."""

    ticker: str
    last_price: float | None = None
    session: date | None = None
    max_up_pct: float = 0.0  # largest rise from the previous close seen this session
    max_down_pct: float = 0.0  # largest fall (as a positive number) seen this session
    peak: float | None = None  # the peak close that drawdowns are measured from
    max_drawdown_pct: float = 0.0  # deepest drawdown from `peak` already reported
