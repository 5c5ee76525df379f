"""Baskets: a named group of tickers followed as one equal-weight index.

An admin defines a basket (`/setbasket ai-semis NVDA AVGO TSM ANET CRDO`); a chat follows it
(`/watchbasket ai-semis`). The basket moves by the average of its members' day changes (an
equal-weight index rebalanced daily), and its level over the past year is built the same way
from the members' daily closes. A fall of `[alerts] selloff_pct` in a day, or of
`[alerts] drawdown_pct` from the basket's 52-week high, is said once, in one message that
lists each member's move: on a day like 2025-01-27 a chat hears one clear sell-off, not five.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from statistics import fmean

from bot.core.errors import UserError
from bot.core.feature import ListenerNews
from bot.core.market import MarketData, MarketDataError, Quote
from bot.core.messages import Alert, AlertKind
from bot.core.ports import BasketState, BasketStore
from bot.core.routing import Routing, subject
from bot.core.settings import Settings

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
MIN_MEMBERS, MAX_MEMBERS = 2, 20
WINDOW_DAYS = 365  # the 52-week high


@dataclass(frozen=True, slots=True)
class History:
    """A basket's level at the close of `day` (100 at the start of the window), its peak and when."""

    day: date
    level: float
    peak: float
    peak_day: date
    window_start: date  # the level is 100 here; a "peak" on this day is only the window's edge


@dataclass(frozen=True, slots=True)
class Reading:
    """A basket now: its day change, level, peak and each member's change."""

    change_pct: float
    level: float
    peak: float
    peak_day: date  # the session of the peak (today's, at a new high)
    members: tuple[tuple[str, float], ...]
    peak_is_window_edge: bool = False  # the peak is the first day of the 52-week window, not a high

    @property
    def drawdown_pct(self) -> float:
        return max(0.0, (1 - self.level / self.peak) * 100)


def parse_basket_name(raw: str) -> str:
    name = raw.strip().lower()
    if not NAME.match(name):
        shown = "".join(ch if ch.isprintable() else "?" for ch in raw[:24])
        raise UserError(f"'{shown}' is not a basket name: use up to 20 lower-case letters, digits and '-', like ai-semis.")
    return name


def equal_weight_history(closes: dict[str, dict[date, float]]) -> History | None:
    """The daily-rebalanced equal-weight level over the sessions every member traded."""
    common = sorted(set.intersection(*(set(days) for days in closes.values()))) if closes else []
    if len(common) < 2:
        return None
    level = peak = 100.0
    peak_day = common[0]
    for previous, day in pairwise(common):
        level *= 1 + fmean(closes[t][day] / closes[t][previous] - 1 for t in closes)
        if level > peak:
            peak, peak_day = level, day
    return History(common[-1], level, peak, peak_day, common[0])


class BasketDesk:
    """The baskets, their watches, and the check of each price cycle's quotes (a QuoteListener)."""

    def __init__(
        self,
        *,
        store: BasketStore,
        market: MarketData,
        routing: Routing,
        settings: Settings,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.market = market
        self.routing = routing
        self.settings = settings
        self.on_queued = on_queued
        self.baskets: dict[str, list[str]] = {}
        self.watched: set[str] = set()
        self._history: dict[tuple[str, date], History | None] = {}

    async def load(self) -> None:
        self.baskets = await self.store.all()
        self.watched = set(await self.store.watched())

    # -- QuoteListener ---------------------------------------------------------------

    def tickers(self) -> list[str]:
        return sorted({t for name in self.watched for t in self.baskets.get(name, [])})

    async def on_quotes(self, quotes: dict[str, Quote], *, session: date, now: datetime) -> ListenerNews:
        """What the baskets' watchers have not heard yet; the price check records it with its
        own alerts, in one message per chat."""
        news = ListenerNews()
        for name in sorted(self.watched):
            reading = await self.read(name, quotes, session)
            if reading is not None:
                await self._tell(name, reading, session, now, news)
        return news

    # -- readings --------------------------------------------------------------------

    async def read(self, name: str, quotes: dict[str, Quote], session: date) -> Reading | None:
        """The basket now, or None when a member has no quote from this session (no data, no alert)."""
        members = self.baskets.get(name, [])
        fresh = [quotes.get(t) for t in members]
        if not members or any(q is None or q.session != session or q.change_pct is None for q in fresh):
            return None
        changes = tuple((q.ticker, q.change_pct) for q in fresh if q is not None and q.change_pct is not None)
        change = fmean(c for _, c in changes)
        history = await self.history(name, session)
        if history is None:
            level = 100 * (1 + change / 100)
            return Reading(change, level, max(100.0, level), session, changes)
        level = history.level * (1 + change / 100)
        if level > history.peak:
            return Reading(change, level, level, session, changes)
        return Reading(change, level, history.peak, history.peak_day, changes, history.peak_day == history.window_start)

    async def history(self, name: str, session: date) -> History | None:
        """The basket's level and 52-week peak up to the session before `session` (cached a day)."""
        key = (name, session)
        if key not in self._history:
            closes: dict[str, dict[date, float]] = {}
            try:
                for ticker in self.baskets.get(name, []):
                    bars = await self.market.history(ticker, session - timedelta(days=WINDOW_DAYS), session)
                    closes[ticker] = {bar.day: bar.close for bar in bars if bar.day < session}
            except MarketDataError:
                log.warning("basket %s: no history today; its drawdown is measured from today's prices", name)
                return None
            self._history = {k: v for k, v in self._history.items() if k[1] == session}  # keep one day
            self._history[key] = equal_weight_history(closes)
        return self._history[key]

    async def _tell(self, name: str, reading: Reading, session: date, now: datetime, news: ListenerNews) -> None:
        """Add what the basket's watchers have not heard yet: a sell-off (once a session) and
        a drawdown from the peak (once per peak), together when they come together."""
        alerts = self.settings
        told = await self.store.state(name)
        told_session, told_peak_day = told.selloff_session, told.drawdown_peak_day
        selloff = reading.change_pct <= -alerts.selloff_pct and told_session != session
        # once per peak: a drawdown is told again only from a later peak (a new high, or the
        # 52-week window moving past the old one)
        drawdown = reading.drawdown_pct >= alerts.drawdown_pct and (
            told_peak_day is None or (reading.peak_day != told_peak_day and not reading.peak_is_window_edge)
        )
        if not selloff and not drawdown:
            return
        alert = Alert(
            kind=AlertKind.BASKET_SELLOFF if selloff else AlertKind.BASKET_DRAWDOWN,
            ticker=name,
            at=now,
            change_pct=reading.change_pct,
            threshold_pct=alerts.selloff_pct if selloff else alerts.drawdown_pct,
            drawdown_pct=reading.drawdown_pct if drawdown else None,
            # index levels (100 a year ago), not prices: kept out of `price` and `peak`
            extra={"members": [[t, round(c, 4)] for t, c in reading.members], "level": round(reading.level, 4), "peak_level": round(reading.peak, 4)},
        )
        about = subject(alert.kind, name, session.isoformat() if selloff else reading.peak_day.isoformat())
        news.envelopes += await self.routing.to_chats(alert, await self.store.watchers(name), about)
        news.baskets[name] = BasketState(session if selloff else told_session, reading.peak_day if drawdown else told_peak_day)

    def forget_history(self, name: str) -> None:
        """A basket's members changed: its cached history no longer holds."""
        self._history = {k: v for k, v in self._history.items() if k[0] != name}
