"""The price check, as a pipeline of small steps:

    fetch quotes -> keep fresh ones -> split and jump guard -> evaluate -> route -> listeners
    -> one message per chat -> record

It never calls a platform: the alerts it finds are queued in the outbox in the same transaction
that records the rules firing, and the dispatcher is woken to deliver them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.engine import CheckResult, Firing, collector_paused
from bot.core.feature import ListenerNews, QuoteListener
from bot.core.market import MarketData, MarketDataError, Quote, Split
from bot.core.quotes import QuoteBook
from bot.core.routing import Routing, group_by_chat
from bot.core.rules import RuleBook
from bot.core.vitals import Vitals
from jobs.splits import SplitGuard

log = logging.getLogger(__name__)


@dataclass
class CheckSummary:
    checked: int = 0
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    alerts: int = 0
    queued: int = 0
    splits: list[Split] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)  # jumped with no split to explain it
    error: str | None = None
    idle: bool = False  # nothing to check: no rules and no listeners
    fired: list[str] = field(default_factory=list)  # the kind of each alert found


class PriceCheck:
    def __init__(
        self,
        *,
        rules: RuleBook,
        routing: Routing,
        splits: SplitGuard,
        market: MarketData,
        calendar: Calendar,
        clock: Clock,
        on_queued: Callable[[], None] | None = None,
        vitals: Vitals | None = None,
        quote_book: QuoteBook | None = None,
    ) -> None:
        self.vitals = vitals or Vitals()
        self.quote_book = quote_book or QuoteBook()  # the last good quotes, for commands when the provider is slow
        self.rules = rules
        self.routing = routing
        self.splits = splits
        self.market = market
        self.calendar = calendar
        self.clock = clock
        self.on_queued = on_queued
        self.listeners: list[QuoteListener] = []  # features that watch the same quotes (baskets)

    async def run_once(self) -> CheckSummary:
        """One check, reported to the vitals (count, duration, provider errors, what fired)."""
        started = time.perf_counter()
        summary = await self._check()
        if not summary.idle:
            self.vitals.check_done(at=self.clock.now(), seconds=time.perf_counter() - started, error=summary.error, fired=summary.fired)
        return summary

    async def _check(self) -> CheckSummary:
        summary = CheckSummary()
        await self.rules.reload_if_stale()  # memory never runs ahead of what storage recorded
        tickers = self.rules.tickers()
        now = self.clock.now()
        quotes = await self._fetch_quotes(tickers, summary)
        if quotes is None:
            return summary
        self.quote_book.remember(quotes)
        session = self.calendar.last_closed_or_open_session(now)
        summary.queued = await self._judge(tickers, quotes, session, summary, now, listeners=True)
        if summary.stale:
            log.info("price check: stale quotes for %s", ", ".join(summary.stale[:10]))
        if summary.queued and self.on_queued:
            self.on_queued()
        return summary

    async def check_quotes(self, quotes: dict[str, Quote], *, now: datetime) -> CheckSummary:
        """The same check on quotes that came by themselves (streamed ticks): no fetch, and the
        listeners keep to the polls. Guard, evaluate, route and record are the poll's own steps.
        A ticker still waiting for its peak (history) is left to the polls, so a provider that
        fails is not asked again at every tick."""
        summary = CheckSummary()
        await self.rules.reload_if_stale()  # memory never runs ahead of what storage recorded
        self.quote_book.remember(quotes)
        known = set(self.rules.tickers())
        tickers = [ticker for ticker in quotes if ticker in known and not self.rules.needs_peak(ticker)]
        session = self.calendar.last_closed_or_open_session(now)
        summary.queued = await self._judge(tickers, quotes, session, summary, now, listeners=False)
        if summary.queued and self.on_queued:
            self.on_queued()
        return summary

    async def _judge(
        self, tickers: list[str], quotes: dict[str, Quote], session: date, summary: CheckSummary, now: datetime, *, listeners: bool
    ) -> int:
        """Guard, evaluate, route, group, record: what a poll and a streamed tick share (the
        listeners, the basket desk, keep to the polls). Returns the deliveries queued."""
        with collector_paused():
            results = await self._evaluate(tickers, quotes, session, summary, now)
            envelopes = await self.routing.for_firings(self._firings(results, summary))
            news = await self._hear_listeners(quotes, session, now) if listeners else ListenerNews()
            messages = group_by_chat([*envelopes, *news.envelopes])  # one message per chat per check
            try:
                return await self.rules.record_check(results, messages, now=now, baskets=news.baskets)
            finally:
                del results, envelopes, messages  # freed before the collector resumes, so that it never scans them

    async def _fetch_quotes(self, tickers: list[str], summary: CheckSummary) -> dict[str, Quote] | None:
        """Quotes for every ticker with rules and every ticker a listener needs; None when there
        is nothing to check or the provider failed (no data, no alert)."""
        extra = sorted({t for listener in self.listeners for t in listener.tickers()} - set(tickers))
        if not tickers and not extra:
            summary.idle = True
            return None
        try:
            return await self.market.quotes(tickers + extra)
        except MarketDataError as problem:
            log.warning("price check skipped: market data unavailable: %s", problem.reason)
            summary.error = str(problem) or type(problem).__name__
            return None

    async def _evaluate(
        self, tickers: list[str], quotes: dict[str, Quote], session: date, summary: CheckSummary, now: datetime
    ) -> list[CheckResult]:
        """The engine's verdict on each fresh quote that the split and jump guard lets through,
        all asked at once (the engine tests every rule of every ticker in one pass)."""
        results: list[CheckResult] = []
        checked: list[Quote] = []
        for ticker in tickers:
            quote = self._fresh_quote(ticker, quotes, session, summary)
            if quote is None:
                continue
            guarded = await self.splits.guard(ticker, quote)
            summary.splits += guarded.splits
            if guarded.suspect:
                summary.suspect.append(ticker)
            if guarded.rebased is not None:
                results.append(guarded.rebased)
            if not guarded.check:
                continue
            await self.rules.seed_peak(ticker, quote.session)
            await self.rules.seed_indicators(ticker, quote.session)
            checked.append(quote)
        results += self.rules.evaluate_many(checked, now=now)
        summary.checked += len(checked)
        return results

    def _fresh_quote(self, ticker: str, quotes: dict[str, Quote], session: date, summary: CheckSummary) -> Quote | None:
        """The ticker's quote, unless it is missing or from an earlier session than the one
        trading (or than the last one checked): no data is never an alert."""
        quote = quotes.get(ticker)
        if quote is None:
            summary.missing.append(ticker)
            return None
        state = self.rules.state(ticker)
        if quote.session < session or (state and state.session and quote.session < state.session):
            summary.stale.append(ticker)
            return None
        return quote

    @staticmethod
    def _firings(results: Sequence[CheckResult], summary: CheckSummary) -> list[Firing]:
        """Every firing of the check (a watched ticker's sell-off and drawdown are merged per chat, by `group_by_chat`)."""
        firings = [firing for result in results for firing in result.firings]
        summary.alerts += len(firings)
        summary.fired += [firing.alert.kind.value for firing in firings]
        return firings

    async def _hear_listeners(self, quotes: dict[str, Quote], session: date, now: datetime) -> ListenerNews:
        """What the listeners (the basket desk) would tell; recorded with the check."""
        news = ListenerNews()
        for listener in self.listeners:
            try:
                heard = await listener.on_quotes(quotes, session=session, now=now)
            except Exception:
                log.exception("price check: %s failed on this check's quotes", type(listener).__name__)
                continue
            news.envelopes += heard.envelopes
            news.baskets.update(heard.baskets)
        return news
