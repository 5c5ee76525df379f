"""CSV market data whose earnings dates and fundamentals a test can change between days,
and which a test can take down (every call raises MarketDataError) and bring back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.market import Bar, EarningsEvent, Fundamentals, MarketDataError, Quote, Split
from bot.market.csv_provider import CsvMarket

DNS_FAILED = "cannot reach Yahoo Finance: DNS lookup failed"


class EditableMarket:
    """Passes through to a CsvMarket, except where a test set `events` or `fundamentals_by_ticker`,
    or took it down with `go_down()`."""

    def __init__(self, inner: CsvMarket) -> None:
        self.inner = inner
        self.events: dict[str, list[EarningsEvent]] = {}
        self.fundamentals_by_ticker: dict[str, Fundamentals | None] = {}
        self.outage: MarketDataError | None = None  # raised by every call while set

    def go_down(self, problem: MarketDataError | None = None) -> None:
        """Every call fails, as when the provider cannot be reached (a DNS failure by default)."""
        self.outage = problem or MarketDataError(DNS_FAILED)

    def come_back(self) -> None:
        self.outage = None

    def _check_up(self) -> None:
        if self.outage is not None:
            raise self.outage

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        self._check_up()
        return await self.inner.quotes(tickers)

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        self._check_up()
        return await self.inner.history(ticker, start, end)

    async def splits(self, ticker: str) -> list[Split]:
        self._check_up()
        return await self.inner.splits(ticker)

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        self._check_up()
        if ticker in self.events:
            return list(self.events[ticker])
        return await self.inner.earnings(ticker)

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        self._check_up()
        if ticker in self.fundamentals_by_ticker:
            return self.fundamentals_by_ticker[ticker]
        return await self.inner.fundamentals(ticker)

    def set_eps(self, ticker: str, *, trailing: float | None, forward: float | None) -> None:
        self.fundamentals_by_ticker[ticker] = Fundamentals(ticker, trailing_eps=trailing, forward_eps=forward)

    async def aclose(self) -> None:
        await self.inner.aclose()
