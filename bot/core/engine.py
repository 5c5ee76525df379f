"""The rule engine: which rules a new price fires or re-arms.

Rules are indexed per ticker and sorted by threshold, so a check bisects to the
rules a move actually crossed instead of looping over every rule:

- `above` (and analyst levels approached from below) fire when the price rises
  through the threshold while armed, and re-arm once the price is back below
  `threshold * (1 - band)`. `below` mirrors it.
- `move` rules fire once per session when the day's change reaches N %; the
  engine keeps the largest rise and fall seen this session, so only rules between
  the old and the new extreme are visited.
- `drawdown` rules fire when the fall from the ticker's peak reaches N %, once per
  peak: a new peak re-arms them.

A rule saved before any price was seen for it (`armed is None`, as while the market data
is down) takes its baseline at the first check, by the same rule `prepare` applies to a new
rule with a quote: a condition already met then waits for the next crossing, session or peak.

The engine is pure: it changes its in-memory index and returns what happened;
the price-check job persists that and queues the alerts in one transaction.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import Direction, Rule, RuleKind, RuleSource, TickerState


@dataclass(slots=True)
class _Ladder:
    """Rules sorted by threshold: parallel lists for bisect."""

    keys: list[float] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def add(self, key: float, rule_id: int) -> None:
        index = bisect_right(self.keys, key)
        self.keys.insert(index, key)
        self.ids.insert(index, rule_id)

    def remove(self, key: float, rule_id: int) -> None:
        lo = bisect_left(self.keys, key)
        hi = bisect_right(self.keys, key)
        for index in range(lo, hi):
            if self.ids[index] == rule_id:
                del self.keys[index]
                del self.ids[index]
                return

    def between(self, low: float, high: float, *, low_inclusive: bool, high_inclusive: bool) -> list[int]:
        """Rule ids whose key lies between low and high."""
        start = bisect_left(self.keys, low) if low_inclusive else bisect_right(self.keys, low)
        stop = bisect_right(self.keys, high) if high_inclusive else bisect_left(self.keys, high)
        return self.ids[start:stop] if start < stop else []

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class _Book:
    """All rules of one ticker, indexed for the check."""

    rules: dict[int, Rule] = field(default_factory=dict)
    rising: _Ladder = field(default_factory=_Ladder)  # fire when the price rises through
    falling: _Ladder = field(default_factory=_Ladder)  # fire when the price falls through
    move_up: _Ladder = field(default_factory=_Ladder)
    move_down: _Ladder = field(default_factory=_Ladder)
    drawdown: _Ladder = field(default_factory=_Ladder)
    baseline_pending: set[int] = field(default_factory=set)  # rules with no price seen yet (armed is None)
    fired_moves: set[int] = field(default_factory=set)  # move rules fired this session
    fired_drawdowns: set[int] = field(default_factory=set)  # drawdown rules fired since the peak


@contextmanager
def collector_paused() -> Iterator[None]:
    """The garbage collector paused while a check builds its objects: a busy one makes a few per
    firing for tens of thousands of firings (alerts, envelopes, rows), none in a cycle, and the
    collector would scan the survivors again and again as they pile up (a tenth of the check).
    Freed before it resumes, they are never scanned. Nested pauses give it back once, at the
    outermost. (Other tasks running meanwhile allocate uncollected for that long.)"""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@dataclass(slots=True)
class Firing:
    """A rule that fired and its alert. Not frozen: a frozen dataclass is nearly three times slower
    to build, and a busy check builds tens of thousands; treat it as immutable."""

    rule: Rule
    alert: Alert


class DeferredVerdicts(Protocol):
    """A whole check's verdicts held in columns by an engine (`bot/vector`), turned into each
    quote's `Firing`s and armed changes when a result is first read."""

    def firings_of(self, row: int) -> list[Firing]: ...
    def armed_changes_of(self, row: int) -> dict[int, bool | None]: ...
    def merged_armed_changes(self, rows: Sequence[int]) -> dict[int, bool | None]:
        """These rows' armed changes in one dict, as if each row's were applied in turn."""
        ...
    def hold(self, held: Callable[[int], bool], rows: Collection[int]) -> int:
        """Drop the firings, in these rows, of the rules `held` names (by id), before they are built
        where they are not yet; their armed changes stay. Returns how many were dropped."""
        ...


class CheckResult:
    """The verdict on one quote: the firings (in the order the rules fired), every armed flag
    the check changed (rule id -> armed), and the ticker's state after it.

    `firings` and `armed_changes` are plain list and dict, built at construction or, for an
    engine that holds a check's verdicts in columns (`source`, `row`), on first read and kept.
    `add_firing` and `set_armed` add to them without building them (the indicator rules' verdicts
    on top of the engine's), and `hold_firings` drops firings before they are built."""

    __slots__ = ("_armed", "_firings", "_more_armed", "_more_firings", "_row", "_source", "state", "ticker")

    def __init__(
        self,
        ticker: str,
        firings: list[Firing] | None,
        armed_changes: dict[int, bool | None] | None,
        state: TickerState,
        source: DeferredVerdicts | None = None,
        row: int = 0,
    ) -> None:
        self.ticker = ticker
        self._firings = firings
        self._armed = armed_changes
        self.state = state
        self._source = source
        self._row = row
        self._more_firings: list[Firing] | None = None  # added before `firings` was built: they come after the engine's
        self._more_armed: dict[int, bool | None] | None = None  # set before `armed_changes` was built: they override the engine's

    @property
    def firings(self) -> list[Firing]:
        if self._firings is None:
            built = self._source.firings_of(self._row) if self._source is not None else []
            if self._more_firings:
                built = [*built, *self._more_firings]
                self._more_firings = None
            self._firings = built
        return self._firings

    @firings.setter
    def firings(self, firings: list[Firing]) -> None:
        self._firings = firings
        self._more_firings = None

    @property
    def armed_changes(self) -> dict[int, bool | None]:
        if self._armed is None:
            built = self._source.armed_changes_of(self._row) if self._source is not None else {}
            if self._more_armed:
                built = {**built, **self._more_armed}
                self._more_armed = None
            self._armed = built
        return self._armed

    def add_firing(self, firing: Firing) -> None:
        """One more firing, after the engine's, without building theirs."""
        if self._firings is not None:
            self._firings.append(firing)
        else:
            if self._more_firings is None:
                self._more_firings = []
            self._more_firings.append(firing)

    def set_armed(self, rule_id: int, armed: bool | None) -> None:
        """One more armed change (it overrides the engine's for that rule), without building theirs."""
        if self._armed is not None:
            self._armed[rule_id] = armed
        else:
            if self._more_armed is None:
                self._more_armed = {}
            self._more_armed[rule_id] = armed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckResult):
            return NotImplemented
        return (self.ticker, self.firings, self.armed_changes, self.state) == (other.ticker, other.firings, other.armed_changes, other.state)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CheckResult(ticker={self.ticker!r}, firings={self.firings!r}, armed_changes={self.armed_changes!r}, state={self.state!r})"


def merged_armed_changes(results: Iterable[CheckResult]) -> dict[int, bool | None]:
    """Every armed change of these results in one dict, later results' overriding earlier ones'.
    A run of results an engine holds in columns is merged there, without a dict per result."""
    merged: dict[int, bool | None] = {}
    source: DeferredVerdicts | None = None
    rows: list[int] = []
    for result in results:
        deferred = result._source if result._armed is None and not result._more_armed else None
        if deferred is not None and deferred is source:
            rows.append(result._row)
            continue
        if source is not None:
            merged.update(source.merged_armed_changes(rows))
        source, rows = deferred, [result._row]
        if deferred is None:
            merged.update(result.armed_changes)
    if source is not None:
        merged.update(source.merged_armed_changes(rows))
    return merged


def hold_firings(results: Iterable[CheckResult], held: Callable[[int], bool]) -> int:
    """Drop the firings of the rules `held` names (by id) from these results, in place, their
    armed changes kept. An engine that holds its verdicts in columns drops them there, before
    any `Firing` or `Alert` is built for them. Returns how many were dropped."""
    dropped = 0
    deferred: dict[int, tuple[DeferredVerdicts, list[int]]] = {}  # by source: its rows among these results
    for result in results:
        if result._more_firings:
            kept = [f for f in result._more_firings if not held(f.rule.id)]
            dropped += len(result._more_firings) - len(kept)
            result._more_firings = kept
        if result._firings is None and result._source is not None:
            deferred.setdefault(id(result._source), (result._source, []))[1].append(result._row)
        elif result._firings:
            kept = [f for f in result._firings if not held(f.rule.id)]
            dropped += len(result._firings) - len(kept)
            result._firings = kept
    for source, rows in deferred.values():
        dropped += source.hold(held, rows)
    return dropped


def is_rising(rule: Rule) -> bool:
    """True for rules that fire when the price rises through their threshold."""
    if rule.kind is RuleKind.ABOVE:
        return True
    if rule.kind is RuleKind.CROSS:
        return rule.direction is Direction.UP
    return False


def is_price_rule(rule: Rule) -> bool:
    return rule.kind in (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.CROSS)


def condition_holds(rule: Rule, price: float) -> bool:
    """Whether a price rule's condition is true at `price` (used for baselines and replies)."""
    return price >= rule.threshold if is_rising(rule) else price <= rule.threshold


class RuleIndex(Protocol):
    """What the rules owner (`RuleBook`) asks of an engine: the in-memory index of every rule,
    the state of each ticker, and the verdict on new prices.

    `RuleEngine` below is the reference implementation, pure Python and the definition of the
    semantics. A faster one may be injected by the wiring (`bot/vector/`, numpy), provided it
    gives the same results on every quote (tests/test_vector_engine.py holds them together)."""

    def load(self, rules: Iterable[Rule], states: dict[str, TickerState]) -> None: ...
    def add(self, rule: Rule) -> None: ...
    def remove(self, rule_id: int) -> Rule | None: ...
    def snooze(self, rule_id: int, until: datetime | None) -> None:
        """Quiet a rule until then (None: wake it): it still fires and disarms, untold."""
        ...
    def replace_ticker(self, ticker: str, rules: Iterable[Rule], state: TickerState | None) -> None: ...
    def tickers(self) -> list[str]: ...
    def rule_count(self) -> int: ...
    def rules_of(self, ticker: str) -> list[Rule]: ...
    def state(self, ticker: str) -> TickerState | None: ...
    def needs_peak(self, ticker: str) -> bool: ...
    def seed_peak(self, ticker: str, peak: float) -> None: ...
    def prepare(self, rule: Rule, quote: Quote) -> float | None: ...
    def start_session(self, quote: Quote) -> None: ...
    def rebase(self, quote: Quote) -> CheckResult: ...
    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult: ...
    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]: ...


class RuleEngine:
    """The reference engine: the semantics above, rule by rule, with bisected ladders."""

    def __init__(self, *, rearm_band_pct: float = 1.0) -> None:
        self.band = rearm_band_pct / 100.0
        self._books: dict[str, _Book] = {}
        self._states: dict[str, TickerState] = {}
        self._ticker_of: dict[int, str] = {}
        self._pending_armed: dict[str, dict[int, bool | None]] = {}  # changes made outside a check

    # -- the index -----------------------------------------------------------------

    def load(self, rules: Iterable[Rule], states: dict[str, TickerState]) -> None:
        """Replace the whole index: rules are grouped by ticker and each ladder sorted once."""
        self._books.clear()
        self._ticker_of.clear()
        self._pending_armed.clear()
        self._states = dict(states)
        by_ticker: dict[str, list[Rule]] = {}
        for rule in rules:
            by_ticker.setdefault(rule.ticker, []).append(rule)
        for ticker, group in by_ticker.items():
            self._books[ticker] = self._build_book(group)
            for rule in group:
                self._ticker_of[rule.id] = ticker

    @staticmethod
    def _build_book(rules: list[Rule]) -> _Book:
        book = _Book()
        entries: dict[str, list[tuple[float, int]]] = {"rising": [], "falling": [], "move_up": [], "move_down": [], "drawdown": []}
        for rule in rules:
            book.rules[rule.id] = rule
            key = (rule.threshold, rule.id)
            if rule.armed is None:
                book.baseline_pending.add(rule.id)
            if is_price_rule(rule):
                entries["rising" if is_rising(rule) else "falling"].append(key)
            elif rule.kind is RuleKind.MOVE:
                if rule.direction in (Direction.UP, Direction.EITHER):
                    entries["move_up"].append(key)
                if rule.direction in (Direction.DOWN, Direction.EITHER):
                    entries["move_down"].append(key)
                if rule.armed is False:
                    book.fired_moves.add(rule.id)
            elif rule.kind is RuleKind.DRAWDOWN:
                entries["drawdown"].append(key)
                if rule.armed is False:
                    book.fired_drawdowns.add(rule.id)
        for name, items in entries.items():
            items.sort()
            setattr(book, name, _Ladder([k for k, _ in items], [i for _, i in items]))
        return book

    def add(self, rule: Rule) -> None:
        book = self._books.get(rule.ticker)
        if book is None:
            book = self._books[rule.ticker] = _Book()
        book.rules[rule.id] = rule
        self._ticker_of[rule.id] = rule.ticker
        if rule.armed is None:
            book.baseline_pending.add(rule.id)
        if is_price_rule(rule):
            (book.rising if is_rising(rule) else book.falling).add(rule.threshold, rule.id)
        elif rule.kind is RuleKind.MOVE:
            if rule.direction in (Direction.UP, Direction.EITHER):
                book.move_up.add(rule.threshold, rule.id)
            if rule.direction in (Direction.DOWN, Direction.EITHER):
                book.move_down.add(rule.threshold, rule.id)
            if rule.armed is False:
                book.fired_moves.add(rule.id)
        elif rule.kind is RuleKind.DRAWDOWN:
            book.drawdown.add(rule.threshold, rule.id)
            if rule.armed is False:
                book.fired_drawdowns.add(rule.id)

    def remove(self, rule_id: int) -> Rule | None:
        ticker = self._ticker_of.pop(rule_id, None)
        if ticker is None:
            return None
        book = self._books[ticker]
        rule = book.rules.pop(rule_id)
        for ladder in (book.rising, book.falling, book.move_up, book.move_down, book.drawdown):
            ladder.remove(rule.threshold, rule_id)
        book.baseline_pending.discard(rule_id)
        book.fired_moves.discard(rule_id)
        book.fired_drawdowns.discard(rule_id)
        if not book.rules:
            del self._books[ticker]
        return rule

    def snooze(self, rule_id: int, until: datetime | None) -> None:
        ticker = self._ticker_of.get(rule_id)
        if ticker is not None:
            self._books[ticker].rules[rule_id].snoozed_until = until

    def replace_ticker(self, ticker: str, rules: Iterable[Rule], state: TickerState | None) -> None:
        """Reload one ticker's rules and state (after a split, or a failed write)."""
        for rule_id in list(self._books.get(ticker, _Book()).rules):
            self.remove(rule_id)
        for rule in rules:
            self.add(rule)
        if state is None:
            self._states.pop(ticker, None)
        else:
            self._states[ticker] = state

    def tickers(self) -> list[str]:
        return sorted(self._books)

    def rule_count(self) -> int:
        return len(self._ticker_of)

    def rules_of(self, ticker: str) -> list[Rule]:
        book = self._books.get(ticker)
        return list(book.rules.values()) if book else []

    def state(self, ticker: str) -> TickerState | None:
        return self._states.get(ticker)

    def needs_peak(self, ticker: str) -> bool:
        book = self._books.get(ticker)
        state = self._states.get(ticker)
        return bool(book and len(book.drawdown)) and (state is None or state.peak is None)

    def seed_peak(self, ticker: str, peak: float) -> None:
        """Set the peak drawdowns are measured from (the 52-week high close), if none is known."""
        state = self._states.setdefault(ticker, TickerState(ticker))
        if state.peak is None or peak > state.peak:
            state.peak = peak
            state.max_drawdown_pct = 0.0

    def prepare(self, rule: Rule, quote: Quote) -> float | None:
        """Set a new rule's armed flag from where its ticker stands, before `add`.

        Returns the figure that already meets the rule (the price, the session's largest
        move, or the deepest drawdown since the peak), in which case the rule waits: for
        the next crossing, the next session, or a new peak. Also gives a ticker the engine
        has never checked the quote's price and session as its baseline, so that the first
        check sees a crossing (or a split) that happened since.
        """
        state = self._states.setdefault(rule.ticker, TickerState(rule.ticker))
        if state.last_price is None:  # never checked: this quote is its baseline
            self.start_session(quote)
            state.last_price = quote.price
        met = self._already_met(rule, state, quote)
        rule.armed = met is None
        return met

    @staticmethod
    def _already_met(rule: Rule, state: TickerState, quote: Quote) -> float | None:
        return already_met(rule, state, quote)

    def start_session(self, quote: Quote) -> None:
        """Move a ticker to the quote's session: reset the day's extremes and re-arm move rules."""
        state = self._states.setdefault(quote.ticker, TickerState(quote.ticker))
        if state.session is not None and quote.session <= state.session:
            return
        state.session = quote.session
        state.max_up_pct = 0.0
        state.max_down_pct = 0.0
        book = self._books.get(quote.ticker)
        if book is None:
            return
        pending = self._pending_armed.setdefault(quote.ticker, {})
        for rule_id in list(book.fired_moves):
            if book.rules[rule_id].met_session == quote.session:
                continue  # set during this session after it had already moved enough
            book.rules[rule_id].armed = True
            pending[rule_id] = True
            book.fired_moves.discard(rule_id)

    def rebase(self, quote: Quote) -> CheckResult:
        """Take a quote as the ticker's new baseline without firing anything, after a jump
        nothing explains: the next check measures crossings from here, and the peak is
        measured again (from the provider's history, or from the next prices)."""
        self.start_session(quote)
        state = self._states[quote.ticker]
        state.last_price = quote.price
        state.peak = None
        state.max_drawdown_pct = 0.0
        return CheckResult(ticker=quote.ticker, firings=[], armed_changes=self._pending_armed.pop(quote.ticker, {}), state=state)

    # -- the check -----------------------------------------------------------------

    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]:
        """The verdict on many quotes (one per ticker), in their order: as `evaluate` on each."""
        return [self.evaluate(quote, now=now) for quote in quotes]

    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult:
        ticker = quote.ticker
        book = self._books.get(ticker) or _Book()
        state = self._states.setdefault(ticker, TickerState(ticker))
        price = quote.price
        firings: list[Firing] = []
        armed: dict[int, bool | None] = {}

        self.start_session(quote)
        armed.update(self._pending_armed.pop(ticker, {}))

        self._set_baselines(book, state, quote, armed)
        previous = state.last_price
        if previous is not None:
            self._check_price_rules(book, quote, previous, firings, armed, now)
        self._check_moves(book, state, quote, firings, armed, now)
        self._check_drawdowns(book, state, quote, firings, armed, now)
        state.last_price = price
        return CheckResult(ticker=ticker, firings=firings, armed_changes=armed, state=state)

    def _set_baselines(self, book: _Book, state: TickerState, quote: Quote, armed: dict[int, bool | None]) -> None:
        """Arm the rules that had seen no price, as `prepare` would have with this quote: one
        already met waits (a price rule for the next crossing, a move rule for the next session,
        a drawdown rule for a new peak). Runs after the session started, before any firing."""
        for rule_id in book.baseline_pending:
            rule = book.rules[rule_id]
            met = self._already_met(rule, state, quote)
            rule.armed = met is None
            armed[rule_id] = rule.armed
            if met is not None and rule.kind is RuleKind.MOVE:
                book.fired_moves.add(rule_id)  # the next session re-arms it
            elif met is not None and rule.kind is RuleKind.DRAWDOWN:
                book.fired_drawdowns.add(rule_id)  # a new peak re-arms it
        book.baseline_pending.clear()

    def _check_price_rules(
        self,
        book: _Book,
        quote: Quote,
        previous: float,
        firings: list[Firing],
        armed: dict[int, bool | None],
        now: datetime,
    ) -> None:
        price, band = quote.price, self.band
        if price > previous:
            for rule_id in book.rising.between(previous, price, low_inclusive=False, high_inclusive=True):
                self._fire_price_rule(book.rules[rule_id], quote, firings, armed, now)
            # falling rules re-arm once the price is back above threshold * (1 + band)
            for rule_id in book.falling.between(
                previous / (1 + band), price / (1 + band), low_inclusive=False, high_inclusive=True
            ):
                self._rearm(book.rules[rule_id], armed)
        elif price < previous:
            for rule_id in book.falling.between(price, previous, low_inclusive=True, high_inclusive=False):
                self._fire_price_rule(book.rules[rule_id], quote, firings, armed, now)
            for rule_id in book.rising.between(
                price / (1 - band), previous / (1 - band), low_inclusive=True, high_inclusive=False
            ):
                self._rearm(book.rules[rule_id], armed)

    def _fire_price_rule(
        self, rule: Rule, quote: Quote, firings: list[Firing], armed: dict[int, bool | None], now: datetime
    ) -> None:
        if rule.armed is not True:
            return
        rule.armed = False
        armed[rule.id] = False
        if _snoozed(rule, now):
            return
        if rule.kind is RuleKind.CROSS:
            kind = AlertKind.ANALYST_LEVEL
        else:
            kind = AlertKind.PRICE_ABOVE if rule.kind is RuleKind.ABOVE else AlertKind.PRICE_BELOW
        level_name = rule.level_name.value if rule.level_name else None
        direction = "up" if is_rising(rule) else "down"
        firings.append(Firing(rule, _alert(rule, quote, kind, level=rule.threshold, level_name=level_name, direction=direction, note=rule.note)))

    @staticmethod
    def _rearm(rule: Rule, armed: dict[int, bool | None]) -> None:
        if rule.armed is False:
            rule.armed = True
            armed[rule.id] = True

    def _check_moves(
        self,
        book: _Book,
        state: TickerState,
        quote: Quote,
        firings: list[Firing],
        armed: dict[int, bool | None],
        now: datetime,
    ) -> None:
        change = quote.change_pct
        if change is None:
            return
        if change > state.max_up_pct:
            hits = book.move_up.between(state.max_up_pct, change, low_inclusive=False, high_inclusive=True)
            state.max_up_pct = change
            self._fire_moves(book, hits, quote, "up", firings, armed, now)
        if -change > state.max_down_pct:
            hits = book.move_down.between(state.max_down_pct, -change, low_inclusive=False, high_inclusive=True)
            state.max_down_pct = -change
            self._fire_moves(book, hits, quote, "down", firings, armed, now)

    def _fire_moves(
        self,
        book: _Book,
        rule_ids: list[int],
        quote: Quote,
        direction: str,
        firings: list[Firing],
        armed: dict[int, bool | None],
        now: datetime,
    ) -> None:
        for rule in _consume(book, rule_ids, book.fired_moves, armed, now):
            kind = AlertKind.SELLOFF if rule.source is RuleSource.WATCH else AlertKind.DAILY_MOVE
            firings.append(Firing(rule, _alert(rule, quote, kind, threshold_pct=rule.threshold, direction=direction)))

    def _check_drawdowns(
        self,
        book: _Book,
        state: TickerState,
        quote: Quote,
        firings: list[Firing],
        armed: dict[int, bool | None],
        now: datetime,
    ) -> None:
        price = quote.price
        if state.peak is None or price > state.peak:
            state.peak = price
            state.max_drawdown_pct = 0.0
            for rule_id in book.fired_drawdowns:
                book.rules[rule_id].armed = True
                armed[rule_id] = True
            book.fired_drawdowns.clear()
            return
        drawdown = (1.0 - price / state.peak) * 100.0
        if drawdown <= state.max_drawdown_pct:
            return
        hits = book.drawdown.between(state.max_drawdown_pct, drawdown, low_inclusive=False, high_inclusive=True)
        state.max_drawdown_pct = drawdown
        for rule in _consume(book, hits, book.fired_drawdowns, armed, now):
            alert = _alert(rule, quote, AlertKind.DRAWDOWN, threshold_pct=rule.threshold, peak=state.peak, drawdown_pct=drawdown, direction="down")
            firings.append(Firing(rule, alert))


def already_met(rule: Rule, state: TickerState, quote: Quote) -> float | None:
    """The figure that already meets a rule at this quote (the price, the session's largest
    move, the deepest drawdown since the peak), or None. A move rule met is marked quiet
    for the quote's session."""
    met: float | None = None
    if is_price_rule(rule):
        met = quote.price if condition_holds(rule, quote.price) else None
    elif rule.kind is RuleKind.MOVE:
        same = state.session == quote.session
        change = quote.change_pct or 0.0
        up = max(state.max_up_pct if same else 0.0, change)
        down = max(state.max_down_pct if same else 0.0, -change)
        if rule.direction in (Direction.UP, Direction.EITHER) and up >= rule.threshold:
            met = up
        elif rule.direction in (Direction.DOWN, Direction.EITHER) and down >= rule.threshold:
            met = -down
        if met is not None:
            rule.met_session = quote.session  # quiet for the rest of that session, even across a restart
    elif rule.kind is RuleKind.DRAWDOWN:
        peak = max(state.peak or quote.price, quote.price)
        now_deep = (1 - quote.price / peak) * 100
        deepest = max(state.max_drawdown_pct if state.peak == peak else 0.0, now_deep)
        met = deepest if deepest >= rule.threshold else None
    return met


def _consume(book: _Book, rule_ids: list[int], fired: set[int], armed: dict[int, bool | None], now: datetime) -> list[Rule]:
    """Mark percent rules as fired (once each) and return those not snoozed."""
    due = []
    for rule_id in rule_ids:
        if rule_id in fired:
            continue
        fired.add(rule_id)
        rule = book.rules[rule_id]
        rule.armed = False
        armed[rule_id] = False
        if not _snoozed(rule, now):
            due.append(rule)
    return due


def _alert(rule: Rule, quote: Quote, kind: AlertKind, **figures: object) -> Alert:
    """An alert with the figures every kind carries, plus the kind's own."""
    return Alert(
        kind=kind,
        ticker=rule.ticker,
        at=quote.at,
        price=quote.price,
        change_pct=quote.change_pct,
        prev_close=quote.prev_close,
        rule_id=rule.id,
        mention=rule.owner if rule.source is RuleSource.MEMBER else None,
        **figures,  # type: ignore[arg-type]
    )


def _snoozed(rule: Rule, now: datetime) -> bool:
    return rule.snoozed_until is not None and now < rule.snoozed_until
