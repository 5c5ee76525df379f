"""The last good quote of each ticker: what an interactive command shows, with its age, when
the data provider cannot answer in time."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.market import Quote


class QuoteBook:
    def __init__(self) -> None:
        self._last: dict[str, Quote] = {}

    def remember(self, quotes: Mapping[str, Quote]) -> None:
        """Keep the newest of each ticker's quotes (a price check's, a command's)."""
        for ticker, quote in quotes.items():
            known = self._last.get(ticker)
            if known is None or quote.at >= known.at:
                self._last[ticker] = quote

    def last(self, ticker: str) -> Quote | None:
        return self._last.get(ticker)
