"""Mini-primers: `/primer TICKER`, the analyst's levels from the seed files, valuation levels.

    seeds.py   the seed files (seeds/primers/*.toml): loading and validation
    levels.py  seed levels into the analyst's levels; the daily refresh of valuation levels
    card.py    the /primer card
    chart.py   the card's price chart (matplotlib, loaded on the first chart)

On start the primer files are loaded and validated: a broken file stops start-up with one line
naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, time
from functools import partial
from pathlib import Path

from bot.config import ConfigError
from bot.core.commands import Command
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.handlers import TICKER_ARG
from bot.core.messages import AlertKind
from bot.core.router import Context
from bot.features.primer.card import CatalystCalendar, EarningsCalendar, PrimerShelf, primer_command
from bot.features.primer.levels import refresh_valuation_levels, seed_levels
from bot.features.primer.seeds import PrimerError, load_primers
from seeds import seeds_path

REFRESH_AT = time(8, 0)  # valuation levels follow EPS, and seeds take effect: before the open


def default_folder() -> Path:
    """The primers shipped with tickerbell."""
    return seeds_path("primers")


class PrimerFeature:
    name = "primer"

    def __init__(self, context: Context, *, earnings: EarningsCalendar | None = None, folder: Path | None = None,
                 catalysts: CatalystCalendar | None = None) -> None:
        self.context = context
        self.folder = folder or default_folder()
        self.shelf = PrimerShelf({}, earnings, catalysts)

    def commands(self) -> Sequence[Command]:
        return [
            Command("primer", "A company's mini-primer: live figures, the analyst's levels and thesis, and a chart",
                    partial(primer_command, self.shelf), args=(TICKER_ARG,), examples=("/primer NVDA", "/primer ^SOX"),
                    details="Price and day change, the 52-week range, market cap, P/E and gross margin from the data provider, "
                            "the analyst's levels with the distance to each, the thesis, the next earnings date, and a six-month chart."),
        ]

    def daily_jobs(self) -> Sequence[DailyJob]:
        return (DailyJob(REFRESH_AT, self._refresh, "valuation levels"),)

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    async def start(self) -> None:
        """Load the primers (or stop start-up with a clear error) and seed the analyst's levels."""
        try:
            self.shelf.primers = load_primers(self.folder)
        except PrimerError as problem:
            raise ConfigError(str(problem)) from None
        await seed_levels(self.context, self.shelf.primers)

    async def _refresh(self, day: date) -> None:
        await seed_levels(self.context, self.shelf.primers)  # seeds whose notes' date has come
        await refresh_valuation_levels(self.context)


__all__ = ["PrimerFeature", "default_folder"]
