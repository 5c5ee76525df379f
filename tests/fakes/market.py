"""CSV market data whose earnings dates and fundamentals a test can change between days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.market import Bar, EarningsEvent, Fundamentals, Quote, Split
from bot.market.csv_provider import CsvMarket


class EditableMarket:
    """Passes through to a CsvMarket, except where a test set `events` or `fundamentals_by_ticker`."""

    def __init__(self, inner: CsvMarket) -> None:
        self.inner = inner
        self.events: dict[str, list[EarningsEvent]] = {}
        self.fundamentals_by_ticker: dict[str, Fundamentals | None] = {}

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        return await self.inner.quotes(tickers)

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        return await self.inner.history(ticker, start, end)

    async def splits(self, ticker: str) -> list[Split]:
        return await self.inner.splits(ticker)

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        if ticker in self.events:
            return list(self.events[ticker])
        return await self.inner.earnings(ticker)

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        if ticker in self.fundamentals_by_ticker:
            return self.fundamentals_by_ticker[ticker]
        return await self.inner.fundamentals(ticker)

    def set_eps(self, ticker: str, *, trailing: float | None, forward: float | None) -> None:
        self.fundamentals_by_ticker[ticker] = Fundamentals(ticker, trailing_eps=trailing, forward_eps=forward)

    async def aclose(self) -> None:
        await self.inner.aclose()
