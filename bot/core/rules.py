"""The rules owner: the only code that creates, changes, snoozes or removes a rule.

A rule lives in two places, storage and the engine's in-memory index, and they must never
disagree: every change here writes storage first and then updates the index, and a check
that could not be recorded reloads the index from storage. Commands, features and jobs ask
this component; none of them touches `RuleStore` or the engine's rules directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.cooldown import Cooldown
from bot.core.engine import CheckResult, RuleIndex, merged_armed_changes
from bot.core.indicators import HISTORY_DAYS, Basis, IndicatorIndex, is_indicator_rule
from bot.core.market import MarketData, MarketDataError, Quote, Split
from bot.core.messages import AlertKind, Envelope
from bot.core.models import Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef
from bot.core.ports import BasketState, CheckStore, RuleStore, StorageError

log = logging.getLogger(__name__)

PEAK_LOOKBACK_DAYS = 365  # drawdowns are measured from the 52-week high close


def level_direction(name: LevelName, threshold: float = 0.0, quote: Quote | None = None) -> Direction:
    """Which way a level fires, by its meaning: an entry and a stop when the price falls to
    them, an exit (a target) when it rises to it. Where the price stands does not change that:
    a level set on the far side already holds, and waits for the next crossing in its direction."""
    return Direction.UP if name is LevelName.EXIT else Direction.DOWN


def nearest_level(rules: Iterable[Rule], price: float) -> list[object] | None:
    """The analyst's active level nearest to `price`, as [name, price], or None."""
    levels = [r for r in rules if r.source is RuleSource.ANALYST and r.level_name is not None and r.threshold > 0]
    if not levels or price <= 0:
        return None
    near = min(levels, key=lambda r: abs(price / r.threshold - 1))
    assert near.level_name is not None
    return [near.level_name.value, near.threshold]


def _replaces(new: Rule, old: Rule) -> bool:
    """A ticker has one analyst level of each name and one watch rule of each kind."""
    if new.source is RuleSource.ANALYST:
        return old.source is RuleSource.ANALYST and old.level_name == new.level_name
    if new.source is RuleSource.WATCH:  # one per percentage: chats may set their own (/settings watch)
        return old.source is RuleSource.WATCH and old.kind is new.kind and old.threshold == new.threshold
    return False


@dataclass(frozen=True, slots=True)
class _Recorded:
    """The ticker states and basket states a recorded check wrote, as values."""

    states: tuple[tuple[object, ...], ...]
    baskets: tuple[tuple[str, BasketState], ...]

    @classmethod
    def of(cls, results: Sequence[CheckResult], baskets: Mapping[str, BasketState]) -> _Recorded:
        states = tuple(
            (s.ticker, s.last_price, s.session, s.max_up_pct, s.max_down_pct, s.peak, s.max_drawdown_pct) for s in (r.state for r in results)
        )
        return cls(states, tuple(sorted(baskets.items())))


class RuleBook:
    def __init__(
        self,
        *,
        store: RuleStore,
        checks: CheckStore,
        engine: RuleIndex,
        market: MarketData,
        calendar: Calendar,
        clock: Clock,
        cooldown: Cooldown | None = None,
    ) -> None:
        self.cooldown = cooldown or Cooldown()  # at most one alert per rule per cooldown
        self._store = store
        self._checks = checks
        # indicator rules (moving averages, RSI, change over sessions) beside the engine's ladders
        self._engine = engine if isinstance(engine, IndicatorIndex) else IndicatorIndex(engine, rearm_band_pct=getattr(engine, "band", 0.01) * 100)
        self._market = market
        self._calendar = calendar
        self._clock = clock
        self._stale = False  # memory ran ahead of storage (a check not recorded, and not reloaded since)
        self._recorded: _Recorded | None = None  # what the last recorded check wrote, while nothing else has written since

    async def load(self) -> None:
        """Build the engine's index from storage (at start, and after a failed write)."""
        self._recorded = None
        self._engine.load(await self._store.all(), await self._checks.ticker_states())
        self.cooldown.seed(await self._checks.last_alerts(), self._clock.now())
        self._stale = False

    async def reload_if_stale(self) -> None:
        """Before a check: reload the index if a failed write left memory ahead of storage and the
        reload then failed too (storage away). Raises while storage is still away, so that no check
        evaluates from memory that fired what was never recorded (it would be lost, not repeated)."""
        if self._stale:
            await self.load()

    # -- reading -------------------------------------------------------------------------

    def tickers(self) -> list[str]:
        return self._engine.tickers()

    def rule_count(self) -> int:
        return self._engine.rule_count()

    def rules_of(self, ticker: str) -> list[Rule]:
        return self._engine.rules_of(ticker)

    def state(self, ticker: str) -> TickerState | None:
        return self._engine.state(ticker)

    async def get(self, rule_id: int) -> Rule | None:
        return await self._store.get(rule_id)

    async def member_rules(self, owner: UserRef) -> list[Rule]:
        return await self._store.of_member(owner)

    async def count_member_rules(self, owner: UserRef) -> int:
        return await self._store.count_of_member(owner)

    async def same_member_rule(self, rule: Rule) -> Rule | None:
        """The member's alert that `rule` would repeat, if any."""
        return await self._store.same_member_rule(rule)

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        return await self._store.analyst_levels(ticker)

    # -- changing rules --------------------------------------------------------------------

    def prepare(self, rule: Rule, quote: Quote | None) -> float | None:
        """Set a new rule's armed flag from where its ticker stands; return the figure that
        already meets it (then it waits for the next crossing, session or peak), or None.
        Without a quote (the market data is down) the rule waits for its first price, and the
        engine applies the same test then (`armed = None`)."""
        if quote is None:
            rule.armed = None
            return None
        return self._engine.prepare(rule, quote)

    async def add(self, rule: Rule, quote: Quote | None) -> tuple[Rule, float | None]:
        """Store and index a new rule, armed from the quote. Returns it with its id, and what
        `prepare` found already met."""
        if quote is not None and is_indicator_rule(rule):
            await self.seed_indicators(rule.ticker, quote.session, new_rule=True)
        met = self.prepare(rule, quote)
        return await self._save(rule), met

    async def remove(self, rules: Sequence[Rule]) -> None:
        await self._store.delete([rule.id for rule in rules])
        for rule in rules:
            self._engine.remove(rule.id)

    async def clear_levels(self, ticker: str, name: LevelName | None) -> list[Rule]:
        """Remove one of a ticker's analyst levels (or all) and return what was removed."""
        removed = [r for r in await self._store.analyst_levels(ticker) if name is None or r.level_name is name]
        await self.remove(removed)
        return removed

    async def snooze(self, rule: Rule, until: datetime) -> None:
        await self._store.set_snooze(rule.id, until)
        self._engine.snooze(rule.id, until)

    async def set_analyst_level(
        self,
        ticker: str,
        name: LevelName,
        price: float | None,
        note: str | None,
        quote: Quote | None,
        *,
        multiple: float | None = None,
        basis: str | None = None,
        written_at: datetime | None = None,
    ) -> Rule:
        """Store an analyst level, replacing the ticker's level of that name. An entry or a stop
        alerts when the price falls to it, an exit when the price rises to it (`level_direction`).
        It records when it was written (now, or a seed's notes' date). A valuation level
        (`multiple` x EPS of `basis`) without a usable price is stored inactive, at 0, where it
        can never fire."""
        threshold = price if price is not None and price > 0 else 0.0
        rule = Rule(id=0, ticker=ticker, kind=RuleKind.CROSS, threshold=threshold, source=RuleSource.ANALYST,
                    direction=level_direction(name, threshold, quote), level_name=name, note=note or None,
                    multiple=multiple, basis=basis if multiple is not None else None, written_at=written_at)
        self.prepare(rule, quote)
        return await self._save(rule)

    async def move_valuation_levels(self, ticker: str, moves: Iterable[tuple[Rule, float]], quote: Quote | None) -> list[Rule]:
        """Move valuation levels to today's price (multiple x EPS; 0 when EPS is unusable)."""
        moved = []
        for rule, price in moves:
            assert rule.level_name is not None
            rule.threshold = price
            rule.direction = level_direction(rule.level_name, price, quote)
            self.prepare(rule, quote)
            await self._store.update_level(rule.id, threshold=price, direction=rule.direction, armed=rule.armed)
            moved.append(rule)
        if moved:
            await self._reindex(ticker, self._engine.state(ticker))
        return moved

    async def ensure_watch_rules(
        self, ticker: str, *, selloff_pct: float, drawdown_pct: float, extra_selloff: Iterable[float] = (), extra_drawdown: Iterable[float] = ()
    ) -> None:
        """The per-ticker sell-off and drawdown rules the watching chats hear from: one per
        percentage, the global one (`selloff_pct`, `drawdown_pct`) and those chats set for
        themselves (`extra_*`). A rule at a percentage no chat uses any more is removed; one at
        a changed global percentage takes over the old one's armed flag."""
        stored = [r for r in await self._store.of_ticker(ticker) if r.source is RuleSource.WATCH]
        for kind, default, extra in ((RuleKind.MOVE, selloff_pct, extra_selloff), (RuleKind.DRAWDOWN, drawdown_pct, extra_drawdown)):
            wanted = {default, *extra}
            existing = [r for r in stored if r.kind is kind]
            for threshold in sorted(wanted - {r.threshold for r in existing}):
                await self.seed_peak(ticker)
                new = Rule(id=0, ticker=ticker, kind=kind, threshold=threshold, source=RuleSource.WATCH, direction=Direction.DOWN)
                new.armed = existing[0].armed if existing and threshold == default else True
                await self._save(new)
            unused = [r for r in existing if r.threshold not in wanted]
            if unused:
                await self.remove(unused)

    async def seed_peak(self, ticker: str, session: date | None = None) -> None:
        """Give the engine a ticker's 52-week high close (before `session`, today's by default),
        for drawdowns, when it has rules that need one and no peak yet."""
        if not self._engine.needs_peak(ticker):
            return
        if session is None:
            session = self._calendar.last_closed_or_open_session(self._clock.now())
        try:
            bars = await self._market.history(ticker, session - timedelta(days=PEAK_LOOKBACK_DAYS), session)
        except MarketDataError as problem:
            log.warning("no history for %s (%s); its peak is asked for again at the next check", ticker, problem.reason)
            return
        closes = [bar.close for bar in bars if bar.day < session]
        if closes:
            self._engine.seed_peak(ticker, max(closes))

    async def seed_indicators(self, ticker: str, session: date, *, new_rule: bool = False) -> None:
        """Give the indicator rules of a ticker (and a `new_rule` about to be added) the daily
        closes before `session`, once per session (`bot.core.indicators`). Without history they
        wait: asked again at the next check."""
        known = self._engine.basis(ticker)
        if not self._engine.needs_basis(ticker, session) and not (new_rule and (known is None or known.session != session)):
            return
        try:
            bars = await self._market.history(ticker, session - timedelta(days=HISTORY_DAYS), session)
        except MarketDataError as problem:
            log.warning("no history for %s (%s); its indicator alerts wait for the next check", ticker, problem.reason)
            return
        self._engine.set_basis(ticker, Basis.of(session, (bar.close for bar in sorted(bars, key=lambda b: b.day) if bar.day < session)))

    def indicator_value(self, rule: Rule, quote: Quote) -> float | None:
        """An indicator rule's figure at the quote (the average, the RSI, the change), if its closes are known."""
        return self._engine.value(rule, quote)

    async def _save(self, rule: Rule) -> Rule:
        """Store a rule and index it, in place of the shared rule it replaces (`_replaces`)."""
        replacing = [old.id for old in await self._replaceable(rule) if _replaces(rule, old)]
        stored = await self._store.add(rule, now=self._clock.now(), replacing=replacing)
        for old_id in replacing:
            self._engine.remove(old_id)
        self._engine.add(stored)
        return stored

    async def _replaceable(self, rule: Rule) -> list[Rule]:
        """The stored rules a new one may replace: a level, the ticker's levels; a watch rule, the
        ticker's rules; a member's alert, none (a backtest adds thousands: it reads nothing)."""
        if rule.source is RuleSource.ANALYST:
            return await self._store.analyst_levels(rule.ticker)
        if rule.source is RuleSource.WATCH:
            return await self._store.of_ticker(rule.ticker)
        return []

    async def _reindex(self, ticker: str, state: TickerState | None) -> None:
        self._engine.replace_ticker(ticker, await self._store.of_ticker(ticker), state)

    # -- the check -------------------------------------------------------------------------

    def needs_peak(self, ticker: str) -> bool:
        return self._engine.needs_peak(ticker)

    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult:
        """The engine's verdict on a quote: what fired and what re-armed (recorded by `record_check`),
        less the firings of rules still within their re-arm cooldown (their disarm is kept).
        A sell-off says where the ticker's nearest analyst level is."""
        return self._admitted([self._engine.evaluate(quote, now=now)], [quote], now)[0]

    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]:
        """The engine's verdict on a whole check's quotes (one per ticker) at once, in their order;
        each result as `evaluate` gives it (the cooldown applied, sell-offs given their nearest level)."""
        return self._admitted(self._engine.evaluate_many(quotes, now=now), quotes, now)

    def _admitted(self, results: list[CheckResult], quotes: Sequence[Quote], now: datetime) -> list[CheckResult]:
        """The results less what the cooldown holds (before any is read: held firings are never
        built), each sell-off told the ticker's nearest analyst level (looked up once per ticker)."""
        self.cooldown.admit_all(results, now)
        for result, quote in zip(results, quotes, strict=True):
            selloffs = [firing.alert for firing in result.firings if firing.alert.kind is AlertKind.SELLOFF]
            if selloffs and (near := nearest_level(self._engine.rules_of(quote.ticker), quote.price)):
                for alert in selloffs:
                    alert.extra["nearest_level"] = list(near)
        return results

    def rebase(self, quote: Quote) -> CheckResult:
        """Take a quote as the ticker's new baseline without firing anything."""
        return self._engine.rebase(quote)

    async def record_check(
        self, results: Sequence[CheckResult], envelopes: Sequence[Envelope], *, now: datetime, baskets: Mapping[str, BasketState] | None = None
    ) -> int:
        """Persist a check's rule state with the deliveries it owes, atomically. If that fails,
        the index is reloaded from storage (so memory never runs ahead of what was saved) and
        the error is raised."""
        armed = merged_armed_changes(results)
        recorded = _Recorded.of(results, baskets or {})
        if not armed and not envelopes and recorded == self._recorded and not any(r.firings for r in results):
            return 0  # the same quotes again (a replay between the open and the close): nothing to write
        self._recorded = None
        fired = [firing.rule for result in results for firing in result.firings]
        try:
            alerted = [rule.id for rule in fired]
            queued = await self._checks.record_check(
                states=[r.state for r in results], armed_changes=armed, envelopes=envelopes, now=now, alerted=alerted, baskets=baskets or {}
            )
            self.cooldown.stamp(alerted, now)
            self._recorded = recorded
        except Exception as problem:
            if not isinstance(problem, StorageError):  # storage away is said once, by the market timer
                log.exception("price check: could not record the check; reloading rule state from storage")
            self._stale = True
            try:
                await self.load()
            except Exception:
                pass  # still stale: the next check reloads first (`reload_if_stale`)
            raise
        await self._retire_once(fired)
        return queued

    async def _retire_once(self, fired: Iterable[Rule]) -> None:
        """Remove the once alerts that fired in a recorded check. Were this to fail, the rule
        stays disarmed (the check was recorded) and is retired after its next firing."""
        once = {rule.id: rule for rule in fired if rule.once}
        if once:
            try:
                await self.remove(list(once.values()))
            except Exception:
                log.exception("could not remove once alerts %s after they fired", sorted(once))

    async def expire(self, day: date) -> list[Rule]:
        """Remove, quietly, the alerts whose last day is before `day`; return them."""
        due = await self._store.expiring(day)
        if due:
            await self.remove(due)
            log.info("removed %d expired alerts", len(due))
        return due

    async def split_applied(self, ticker: str, day: date) -> bool:
        return await self._checks.split_applied(ticker, day)

    async def apply_split(self, ticker: str, split: Split, envelopes: Sequence[Envelope]) -> bool:
        """Divide a ticker's price rules, last price and peak by a split's ratio, once, with its
        notices. False if this split was applied before."""
        if not await self._checks.apply_split(ticker, split.day, split.ratio, envelopes=envelopes, now=self._clock.now()):
            return False
        self._recorded = None  # the stored state was rescaled
        stored = (await self._checks.ticker_states()).get(ticker)
        if stored is None and (baseline := self._engine.state(ticker)) is not None:
            # a ticker never checked has its baseline in memory only: rescale it there
            stored = replace(
                baseline,
                last_price=baseline.last_price / split.ratio if baseline.last_price else None,
                peak=baseline.peak / split.ratio if baseline.peak else None,
            )
        await self._reindex(ticker, stored)
        return True
