"""Splits and unexplained jumps: a split never causes an alert.

A morning sweep reads each ticker's split list before the open and rescales its rules; the
price check asks again only for a ticker whose new session the sweep did not cover. A jump
between our last price and the provider's previous close that no split explains is never
alerted: the ticker is skipped while its split list cannot be read, or its new price becomes
the baseline.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core.clock import Clock
from bot.core.describe import money
from bot.core.engine import CheckResult, is_price_rule
from bot.core.market import MarketData, MarketDataError, Quote, Split
from bot.core.messages import Alert, AlertKind
from bot.core.models import Rule, RuleSource
from bot.core.routing import Routing
from bot.core.rules import RuleBook

log = logging.getLogger(__name__)

SWEEP_FAILURE_BUDGET = 3
JUMP_LOG_LIMIT = math.log(1.15)


def unexplained_jump(last_price: float | None, prev_close: float | None) -> bool:
    """Whether our last price and the provider's previous close are too far apart to be the
    same close seen twice (more than 15 % either way: a 5-for-4 split is 25 %, while the
    close we saw and the provider's differ by a few percent at most)."""
    if not last_price or not prev_close:
        return False
    return abs(math.log(last_price / prev_close)) > JUMP_LOG_LIMIT


@dataclass
class Guarded:
    """What the guard decided for one ticker's quote."""

    check: bool = True  # evaluate the quote now
    splits: list[Split] = field(default_factory=list)  # applied on the way
    suspect: bool = False  # it jumped with no split to explain it
    rebased: CheckResult | None = None  # taken as the new baseline: record it, fire nothing


class SplitGuard:
    def __init__(self, *, rules: RuleBook, routing: Routing, market: MarketData, clock: Clock, on_queued: Callable[[], None] | None = None) -> None:
        self.rules = rules
        self.routing = routing
        self.market = market
        self.clock = clock
        self.on_queued = on_queued
        self._checked: dict[str, date] = {}  # ticker -> the session its split list was last read for

    async def guard(self, ticker: str, quote: Quote) -> Guarded:
        """Before a ticker's first check of a new session: apply the splits since its last one,
        and hold back a jump that no split explains."""
        state = self.rules.state(ticker)
        last_session = state.session if state else None  # the last check's, or the baseline's
        verdict = Guarded()
        if last_session is None or quote.session <= last_session:
            return verdict
        verdict.splits += await self._apply_splits(ticker, quote, since=last_session)
        state = self.rules.state(ticker)
        if state is None or not unexplained_jump(state.last_price, quote.prev_close):
            return verdict
        return await self._explain_jump(ticker, quote, verdict)

    async def _explain_jump(self, ticker: str, quote: Quote, verdict: Guarded) -> Guarded:
        """Our last price and the provider's previous close disagree by more than a day's
        noise: most likely a split the provider's split list has not shown us."""
        self._checked.pop(ticker, None)  # ask again
        state = self.rules.state(ticker)
        since = state.session if state and state.session else quote.session
        verdict.splits += await self._apply_splits(ticker, quote, since=since)
        state = self.rules.state(ticker)
        last = state.last_price if state else None
        if state is not None and not unexplained_jump(last, quote.prev_close):
            return verdict  # a split explained it and was applied
        verdict.check, verdict.suspect = False, True
        if self._checked.get(ticker) != quote.session:
            log.warning("price check: %s jumped from %.4g to a previous close of %.4g and its splits could not be read; skipped", ticker, last or 0, quote.prev_close or 0)
            return verdict
        log.warning("price check: %s jumped from %.4g to a previous close of %.4g with no split listed; its new price is taken as a baseline without alerts", ticker, last or 0, quote.prev_close or 0)
        verdict.rebased = self.rules.rebase(quote)
        return verdict

    async def sweep(self, day: date) -> list[Split]:
        """Daily, before the open: apply the splits effective since each ticker's last checked
        session. Stops after a few provider failures (the checks then ask for the tickers left)."""
        applied: list[Split] = []
        failures = 0
        for ticker in self.rules.tickers():
            state = self.rules.state(ticker)
            since = state.session if state else None
            if since is None or self._checked.get(ticker) == day:
                continue
            try:
                splits = await self.market.splits(ticker)
            except MarketDataError:
                failures += 1
                if failures >= SWEEP_FAILURE_BUDGET:
                    log.warning("split sweep stopped: the data provider is failing; the price checks will ask per ticker")
                    break
                continue
            self._checked[ticker] = day
            for split in splits:
                if since < split.day <= day and not await self.rules.split_applied(ticker, split.day):
                    await self._apply(ticker, split, at=self.clock.now(), price=None)
                    applied.append(split)
        return applied

    async def _apply_splits(self, ticker: str, quote: Quote, *, since: date) -> list[Split]:
        """Splits effective after `since` up to the quote's session that the sweep missed."""
        if self._checked.get(ticker) == quote.session:
            return []
        try:
            splits = await self.market.splits(ticker)
        except MarketDataError:
            log.warning("price check: could not read splits for %s", ticker)
            return []
        self._checked[ticker] = quote.session
        applied = []
        for split in splits:
            if since < split.day <= quote.session and not await self.rules.split_applied(ticker, split.day):
                await self._apply(ticker, split, at=quote.at, price=quote.price)
                applied.append(split)
        return applied

    async def _apply(self, ticker: str, split: Split, *, at: datetime, price: float | None) -> None:
        rules = self.rules.rules_of(ticker)
        notice = Alert(kind=AlertKind.SPLIT, ticker=ticker, at=at, price=price, extra=split_notice_figures(split, rules))
        envelopes = await self.routing.for_split(notice, rules)
        if await self.rules.apply_split(ticker, split, envelopes):
            log.info("split: %s %g-for-1 on %s applied to %d rules", ticker, split.ratio, split.day, len(rules))
            if envelopes and self.on_queued:
                self.on_queued()


def split_notice_figures(split: Split, rules: list[Rule]) -> dict[str, object]:
    """The ratio and each price rule's old and new threshold, for the notice."""
    changes = [
        f"{_rule_name(r)}: {money(r.threshold)} → {money(r.threshold / split.ratio)}"
        for r in rules
        if is_price_rule(r)
    ]
    return {"ratio": split.ratio, "changes": changes, "split_day": split.day.isoformat()}


def _rule_name(rule: Rule) -> str:
    if rule.source is RuleSource.ANALYST:
        return f"analyst {rule.level_name}"
    return f"alert #{rule.id} ({rule.kind.value})"
