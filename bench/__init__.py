"""`make bench`: figures, not tests (see `bench/__main__.py`)."""

from __future__ import annotations

from datetime import date

from bot.core.market import Bar, EarningsEvent, Fundamentals, Split


class QuotesOnlyMarket:
    """The part of a bench's market double that has nothing: no history, splits, earnings or
    fundamentals. A bench subclasses it and gives `quotes`."""

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        return []

    async def splits(self, ticker: str) -> list[Split]:
        return []

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        return []

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        return None

    async def aclose(self) -> None:
        return None
