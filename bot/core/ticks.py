"""Streamed prices: what a live quote feed delivers, and the port a feed implements.

A `Tick` is one price of one ticker as it traded, pushed by the feed (Yahoo's streamer through
yfinance) instead of asked for. It carries less than a polled `Quote`: the previous close and the
day's range come from the polls, and the stream job (`jobs/stream.py`) joins the two.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Hours(StrEnum):
    """Which part of the trading day a tick says it belongs to."""

    PRE = "pre"
    REGULAR = "regular"
    POST = "post"
    EXTENDED = "extended"  # overnight and other extended sessions


@dataclass(frozen=True, slots=True)
class Tick:
    ticker: str
    price: float
    at: datetime  # when it traded (timezone-aware)
    hours: Hours = Hours.REGULAR
    day_high: float | None = None
    day_low: float | None = None
    prev_close: float | None = None


class StreamLink(StrEnum):
    """The feed's connection, as the stream job hears of it."""

    CONNECTED = "connected"
    DOWN = "down"


class TickSource(Protocol):
    """A live price feed: it follows the set of tickers it is given and calls back per tick."""

    def follow(self, tickers: Collection[str]) -> None:
        """Stream exactly these tickers from now on (subscribing and unsubscribing the difference)."""

    def reconnect(self, reason: str) -> None:
        """Drop the connection and make a fresh one (the stream went silent)."""

    async def run(self, on_tick: Callable[[Tick], None], on_link: Callable[[StreamLink, str], None]) -> None:
        """Connect, stream and reconnect until cancelled; `on_link` hears each connect and drop (with a reason)."""
