"""The market-data interface every provider implements, and the values it returns.

Prices are *as traded*: a quote is in the share count of its own session, and
`Quote.prev_close` is already scaled to that session (so a split day shows a
normal daily change, never -90 %). `history()` is scaled to the session of its
`end` date. Providers answer "no data" (None or an empty list) rather than
inventing a price: NaN, empty frames and garbage never become a number.

Errors, drawn once:

    MarketDataError            the provider could not answer (network, timeout, garbage);
    │                          `reason` says why in plain words, for people and the log
    └── RateLimited            the provider asked us to slow down; retry after `retry_after` s
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class MarketDataError(Exception):
    """The provider could not answer this time (network, timeout, malformed reply).

    `reason` says why in words a chat member can read, such as "cannot reach Yahoo Finance:
    DNS lookup failed"; `str()` is the reason. Providers set it; nobody shows a status code alone.
    """

    def __init__(self, reason: str = "the market data provider did not answer") -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class RateLimited(MarketDataError):
    """The provider asked us to slow down."""

    def __init__(self, reason: str, *, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def wait_words(seconds: float) -> str:
    """A wait in plain words: '45 s', '2 min' (rounded up, so never shorter than the wait)."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest price of one ticker in one session."""

    ticker: str
    price: float
    prev_close: float | None
    session: date  # the exchange session this price belongs to
    at: datetime  # when the price was observed (timezone-aware)
    day_high: float | None = None
    day_low: float | None = None
    day_open: float | None = None
    final: bool = False  # True when `price` is the session's official close

    @property
    def change_pct(self) -> float | None:
        if not self.prev_close:
            return None
        return (self.price / self.prev_close - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class Bar:
    """One daily bar."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class Split:
    ticker: str
    day: date  # effective at this session's open
    ratio: float  # 10.0 means 10-for-1: new price = old price / 10


class EarningsTime(StrEnum):
    BEFORE_OPEN = "bmo"
    AFTER_CLOSE = "amc"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class EarningsEvent:
    ticker: str
    day: date
    time: EarningsTime = EarningsTime.UNKNOWN


@dataclass(frozen=True, slots=True)
class Fundamentals:
    """Figures a primer shows. Any field may be None: unavailable is said, never guessed."""

    ticker: str
    name: str | None = None
    market_cap: float | None = None
    trailing_pe: float | None = None
    forward_pe: float | None = None
    trailing_eps: float | None = None
    forward_eps: float | None = None
    gross_margin: float | None = None  # a fraction, 0.75 = 75 %
    currency: str | None = None


@runtime_checkable
class MarketData(Protocol):
    """What the bot needs from a market-data source. All methods are coroutines."""

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """Latest quotes for many tickers in as few requests as possible.

        A ticker with no usable data is simply absent from the result.
        Raises MarketDataError only when the whole batch failed.
        """
        ...

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        """Daily bars from `start` to `end` inclusive, scaled to `end`'s share count."""
        ...

    async def splits(self, ticker: str) -> list[Split]:
        """Known splits of the ticker, oldest first."""
        ...

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        """Known past and upcoming earnings dates, oldest first."""
        ...

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        """Valuation figures, or None when the provider has none."""
        ...

    async def aclose(self) -> None:
        """Release threads, sessions and files."""
        ...


def clean_price(value: object) -> float | None:
    """A finite positive float, or None for NaN, inf, zero, negatives and non-numbers."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    return number
