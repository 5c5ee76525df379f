"""The feature seam: how a feature (primers, earnings, baskets) plugs into the bot.

A feature is one package under `bot/features/`. It is built by the wiring with the services it
needs passed in, and it declares, in one place, everything it adds:

- `commands()`: its chat commands (added to the one command table);
- `daily_jobs()`: jobs the market timer runs once a day at a market time;
- `quote_listeners()`: parts that look at every price check's quotes;
- `alert_kinds()`: how its alert kinds read (title, lines, tone) and which buttons they carry;
- `start()`: loading its state before the bot serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Protocol

from bot.core.commands import Command
from bot.core.market import Quote
from bot.core.messages import Action, Alert, AlertKind, Envelope, Tone
from bot.core.ports import BasketState

Describe = Callable[[Alert], tuple[str, list[str], Tone]]
Actions = Callable[[Alert], tuple[Action, ...]]


@dataclass(frozen=True, slots=True)
class DailyJob:
    """A job run once per exchange calendar day, once the exchange's local time passes `at`."""

    at: time
    run: Callable[[date], Awaitable[object]]
    name: str


@dataclass(frozen=True, slots=True)
class AlertKindSpec:
    """How one kind of alert reads, and the buttons it carries (None: the default ones)."""

    describe: Describe
    actions: Actions | None = None


@dataclass(slots=True)
class ListenerNews:
    """What a listener found in a check's quotes: deliveries (grouped with the check's own, one
    message per chat) and the basket state that telling them moves (recorded with them)."""

    envelopes: list[Envelope] = field(default_factory=list)
    baskets: dict[str, BasketState] = field(default_factory=dict)


class QuoteListener(Protocol):
    """A part that looks at each check's quotes (and may have alerts of its own)."""

    def tickers(self) -> Iterable[str]:
        """Tickers it needs quotes for, besides those with rules."""
        ...

    async def on_quotes(self, quotes: dict[str, Quote], *, session: date, now: datetime) -> ListenerNews:
        """Look at the quotes; return what it would tell. The price check records it with the
        check, in the same transaction, so nothing is told twice or lost."""
        ...


class Feature(Protocol):
    name: str

    def commands(self) -> Sequence[Command]: ...

    def daily_jobs(self) -> Sequence[DailyJob]: ...

    def quote_listeners(self) -> Sequence[QuoteListener]: ...

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]: ...

    async def start(self) -> None:
        """Load state and seed data; a problem stops start-up (ConfigError-worded UserError-free)."""
        ...


class FeatureDefaults:
    """What a feature adds when it adds nothing of that kind: inherit it and declare only the rest."""

    def daily_jobs(self) -> Sequence[DailyJob]:
        return ()

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    async def start(self) -> None:
        return None
