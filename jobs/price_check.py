"""The price check: quotes for every ticker with rules, the engine's verdict, and the
alerts it owes, queued in the same transaction that records the rules firing.

It never calls a platform: it returns what it queued and wakes the dispatcher.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol
from datetime import date, datetime, timedelta

from bot.core.clock import Clock
from bot.core.describe import money
from bot.core.engine import CheckResult, Firing, RuleEngine
from bot.core.messages import Alert, AlertKind, with_fallback
from bot.core.models import ChatRef, RuleSource, direct_chat, direct_user_id
from bot.market.base import MarketData, MarketDataError, Quote, Split
from bot.market.calendar import MarketCalendar
from storage.db import Store

log = logging.getLogger(__name__)

PEAK_LOOKBACK_DAYS = 365
SWEEP_FAILURE_BUDGET = 3
JUMP_LOG_LIMIT = math.log(1.15)


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


class PriceCheck:
    def __init__(
        self,
        *,
        store: Store,
        market: MarketData,
        engine: RuleEngine,
        calendar: MarketCalendar,
        clock: Clock,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.market = market
        self.engine = engine
        self.calendar = calendar
        self.clock = clock
        self.on_queued = on_queued
        self.listeners: list[QuoteListener] = []  # features that watch the same quotes (baskets)
        self._splits_checked: dict[str, date] = {}

    async def run_once(self) -> CheckSummary:
        summary = CheckSummary()
        tickers = self.engine.tickers()
        extra = sorted({t for listener in self.listeners for t in listener.tickers()} - set(tickers))
        if not tickers and not extra:
            return summary
        now = self.clock.now()
        try:
            quotes = await self.market.quotes(tickers + extra)
        except MarketDataError as problem:
            log.warning("price check skipped: market data unavailable (%s)", type(problem).__name__)
            summary.error = str(problem) or type(problem).__name__
            return summary
        current = self.calendar.last_closed_or_open_session(now)
        results: list[CheckResult] = []
        deliveries: list[tuple[ChatRef, Alert, str]] = []
        lookups = _Lookups()
        for ticker in tickers:
            quote = quotes.get(ticker)
            if quote is None:
                summary.missing.append(ticker)
                continue
            state = self.engine.state(ticker)
            if quote.session < current or (state and state.session and quote.session < state.session):
                summary.stale.append(ticker)  # a quote from an earlier session: no data, never an alert
                continue
            last_session = state.session if state else None  # the last check's, or the baseline's
            if last_session is not None and quote.session > last_session:
                await self._apply_splits(ticker, quote, summary, since=last_session)
                state = self.engine.state(ticker)
                if state is not None and unexplained_jump(state.last_price, quote.prev_close):
                    if not await self._explain_jump(ticker, quote, summary, results):
                        continue
                    state = self.engine.state(ticker)
            await self._seed_peak(ticker, quote.session)
            result = self.engine.evaluate(quote, now=now)
            results.append(result)
            summary.checked += 1
            for firing in merge_watch_firings(result.firings):
                summary.alerts += 1
                for chat in await self._destinations(firing, lookups):
                    alert = firing.alert
                    if direct_user_id(chat) is not None and firing.rule.chat is not None:
                        alert = with_fallback(alert, firing.rule.chat)  # if the direct chat refuses us
                    deliveries.append((chat, alert, _dedupe_key(firing, chat)))
        armed: dict[int, bool | None] = {}
        for result in results:
            armed.update(result.armed_changes)
        try:
            summary.queued = await self.store.record_check(
                states=[r.state for r in results], armed_changes=armed, deliveries=deliveries, now=now
            )
        except Exception:
            log.exception("price check: could not record the check; reloading rule state from storage")
            self.engine.load(await self.store.all_rules(), await self.store.ticker_states())
            raise
        for listener in self.listeners:
            try:
                summary.queued += await listener.on_quotes(quotes, session=current, now=now)
            except Exception:
                log.exception("price check: %s failed on this check's quotes", type(listener).__name__)
        if summary.stale:
            log.info("price check: stale quotes for %s", ", ".join(summary.stale[:10]))
        if summary.queued and self.on_queued:
            self.on_queued()
        return summary

    async def _destinations(self, firing: Firing, lookups: _Lookups) -> list[ChatRef]:
        rule = firing.rule
        if rule.source is RuleSource.MEMBER:
            owner = rule.owner
            if owner is not None:
                if owner.key not in lookups.direct:
                    lookups.direct[owner.key] = await self.store.wants_direct_delivery(owner)
                if lookups.direct[owner.key]:
                    # the member asked for direct messages (/dm on); the outbox sends them to the
                    # chat the alert was set in while the direct chat refuses us
                    return [direct_chat(owner)]
            return [rule.chat] if rule.chat else []
        if rule.ticker not in lookups.watchers:
            lookups.watchers[rule.ticker] = await self.store.watchers(rule.ticker)
        return lookups.watchers[rule.ticker]

    async def _explain_jump(self, ticker: str, quote: Quote, summary: CheckSummary, results: list[CheckResult]) -> bool:
        """Our last price and the provider's previous close disagree by more than a day's
        noise: most likely a split the provider's split list has not shown us. Returns True
        when the ticker may be checked now."""
        self._splits_checked.pop(ticker, None)  # ask again
        since = state.session if (state := self.engine.state(ticker)) and state.session else quote.session
        await self._apply_splits(ticker, quote, summary, since=since)
        state = self.engine.state(ticker)
        if state is not None and not unexplained_jump(state.last_price, quote.prev_close):
            return True  # a split explained it and was applied
        if self._splits_checked.get(ticker) != quote.session:
            # the split list could not be read: skip this ticker rather than risk false alerts
            summary.suspect.append(ticker)
            log.warning("price check: %s jumped from %.4g to a previous close of %.4g and its splits could not be read; skipped", ticker, state.last_price if state else 0, quote.prev_close or 0)
            return False
        log.warning("price check: %s jumped from %.4g to a previous close of %.4g with no split listed; its new price is taken as a baseline without alerts", ticker, state.last_price if state else 0, quote.prev_close or 0)
        summary.suspect.append(ticker)
        results.append(self.engine.rebase(quote))
        return False

    async def _seed_peak(self, ticker: str, session: date) -> None:
        if not self.engine.needs_peak(ticker):
            return
        try:
            bars = await self.market.history(ticker, session - timedelta(days=PEAK_LOOKBACK_DAYS), session)
        except MarketDataError:
            return
        closes = [bar.close for bar in bars if bar.day < session]
        if closes:
            self.engine.seed_peak(ticker, max(closes))

    async def sweep_splits(self, day: date) -> list[Split]:
        """Daily, before the open: apply the splits effective since each ticker's last checked
        session, so that the price checks need not ask. Stops after a few provider failures
        (the checks then ask for the tickers left)."""
        applied: list[Split] = []
        failures = 0
        for ticker in self.engine.tickers():
            state = self.engine.state(ticker)
            since = state.session if state else None
            if since is None or self._splits_checked.get(ticker) == day:
                continue
            try:
                splits = await self.market.splits(ticker)
            except MarketDataError:
                failures += 1
                if failures >= SWEEP_FAILURE_BUDGET:
                    log.warning("split sweep stopped: the data provider is failing; the price checks will ask per ticker")
                    break
                continue
            self._splits_checked[ticker] = day
            for split in splits:
                if since < split.day <= day and not await self.store.split_applied(ticker, split.day):
                    await self._apply_split(ticker, split, at=self.clock.now(), price=None)
                    applied.append(split)
        return applied

    async def _apply_splits(self, ticker: str, quote: Quote, summary: CheckSummary, *, since: date) -> None:
        """Rescale a ticker's levels and rules for splits effective after `since` (the session
        last checked) up to the quote's, and tell its chats. The morning sweep normally did
        it already; this catches what it missed."""
        if self._splits_checked.get(ticker) == quote.session:
            return
        try:
            splits = await self.market.splits(ticker)
        except MarketDataError:
            log.warning("price check: could not read splits for %s", ticker)
            return
        self._splits_checked[ticker] = quote.session
        for split in splits:
            if not since < split.day <= quote.session:
                continue
            if await self.store.split_applied(ticker, split.day):
                continue
            await self._apply_split(ticker, split, at=quote.at, price=quote.price)
            summary.splits.append(split)

    async def _apply_split(self, ticker: str, split: Split, *, at: datetime, price: float | None) -> None:
        rules = self.engine.rules_of(ticker)
        changes = [
            f"{_rule_name(r)}: {money(r.threshold)} → {money(r.threshold / split.ratio)}"
            for r in rules
            if r.kind.value in ("above", "below", "cross")
        ]
        notice = Alert(
            kind=AlertKind.SPLIT,
            ticker=ticker,
            at=at,
            price=price,
            extra={"ratio": split.ratio, "changes": changes, "split_day": split.day.isoformat()},
        )
        chats = {c.key: c for c in await self.store.watchers(ticker)}
        for rule in rules:
            if rule.source is RuleSource.MEMBER and rule.chat:
                chats.setdefault(rule.chat.key, rule.chat)
        notices = [(chat, notice, f"split:{ticker}:{split.day.isoformat()}:{chat.key}") for chat in chats.values()]
        applied = await self.store.apply_split(ticker, split.day, split.ratio, notices=notices, now=self.clock.now())
        if applied:
            log.info("split: %s %g-for-1 on %s applied to %d rules", ticker, split.ratio, split.day, len(rules))
            stored = (await self.store.ticker_states()).get(ticker)
            if stored is None and (baseline := self.engine.state(ticker)) is not None:
                # a ticker never checked has its baseline in memory only: rescale it there
                stored = replace(
                    baseline,
                    last_price=baseline.last_price / split.ratio if baseline.last_price else None,
                    peak=baseline.peak / split.ratio if baseline.peak else None,
                )
            self.engine.replace_ticker(ticker, await self.store.rules_for_ticker(ticker), stored)
            if notices and self.on_queued:
                self.on_queued()


class QuoteListener(Protocol):
    """A feature that looks at each check's quotes (and may queue alerts of its own)."""

    def tickers(self) -> Iterable[str]:
        """Tickers it needs quotes for, besides those with rules."""
        ...

    async def on_quotes(self, quotes: dict[str, Quote], *, session: date, now: datetime) -> int:
        """Look at the quotes; return how many deliveries it queued."""
        ...


@dataclass
class _Lookups:
    """Storage answers reused within one check."""

    watchers: dict[str, list[ChatRef]] = field(default_factory=dict)
    direct: dict[str, bool] = field(default_factory=dict)  # member key -> wants direct messages


def unexplained_jump(last_price: float | None, prev_close: float | None) -> bool:
    """Whether our last price and the provider's previous close are too far apart to be the
    same close seen twice (more than 15 % either way: a 5-for-4 split is 25 %, while the
    close we saw and the provider's differ by a few percent at most)."""
    if not last_price or not prev_close:
        return False
    return abs(math.log(last_price / prev_close)) > JUMP_LOG_LIMIT


def merge_watch_firings(firings: list[Firing]) -> list[Firing]:
    """A watched ticker's sell-off and drawdown found in the same check become one message."""
    selloff = next((f for f in firings if f.alert.kind is AlertKind.SELLOFF), None)
    drawdown = next((f for f in firings if f.alert.kind is AlertKind.DRAWDOWN and f.rule.source is RuleSource.WATCH), None)
    if selloff is None or drawdown is None:
        return firings
    merged = Firing(
        selloff.rule,
        replace(
            selloff.alert,
            peak=drawdown.alert.peak,
            drawdown_pct=drawdown.alert.drawdown_pct,
            extra={**selloff.alert.extra, "drawdown_threshold_pct": drawdown.alert.threshold_pct},
        ),
    )
    return [merged if f is selloff else f for f in firings if f is not drawdown]


def _rule_name(rule) -> str:  # type: ignore[no-untyped-def]
    if rule.source is RuleSource.ANALYST:
        return f"analyst {rule.level_name}"
    return f"alert #{rule.id} ({rule.kind.value})"


def _dedupe_key(firing: Firing, chat: ChatRef) -> str:
    alert = firing.alert
    return f"{alert.kind.value}:{firing.rule.id}:{alert.at.isoformat()}:{chat.key}"
