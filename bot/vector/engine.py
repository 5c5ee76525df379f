"""`VectorEngine`: the rule engine's verdicts for a whole check at once, with numpy.

It implements `bot.core.engine.RuleIndex` with exactly the semantics of the reference
`RuleEngine` (crossings, the re-arm band, moves once a session, drawdowns once a peak, snoozes,
baselines of rules that saw no price), but tests every rule of every quoted ticker in a few
array operations instead of bisecting one ticker at a time.

Layout. Rules sit in four ladders: price rules that fire rising (`above`, levels approached from
below), price rules that fire falling, `move` rules and `drawdown` rules. A ladder is a set of
parallel arrays (threshold, ticker index, armed flag, rule id; for moves also the directions and
the session a rule was met in) plus the list of the `Rule` objects, sorted by (ticker, threshold,
id) when built. A rule added later is appended after the sorted part, and the ladder is sorted
again once that tail grows; a removed rule leaves a dead slot (NaN threshold, which no comparison
selects) until then.

A check. Each quoted ticker gets a window per ladder, as the reference's `between(low, high)`,
with every bound made left-open and right-closed (`x >= a` is `x > nextafter(a, -inf)`), so that
one comparison pair per rule selects what crossed; `Alert`s are built only for what fired.

The armed flag lives in the arrays (1 armed, 0 fired and waiting, -1 no price seen yet); a
`Rule` object gets it written back when it fires and when `rules_of` hands it out.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from bot.core.engine import CheckResult, Firing, already_met, is_price_rule, is_rising
from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import Direction, Rule, RuleKind, RuleSource, TickerState

ARMED, FIRED, PENDING = 1, 0, -1
UP, DOWN = 1, 2  # direction bits of a move rule
_DIRECTION_BITS = {Direction.UP: UP, Direction.DOWN: DOWN, Direction.EITHER: UP | DOWN}
_INF = float("inf")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _armed_code(armed: bool | None) -> int:
    return PENDING if armed is None else (ARMED if armed else FIRED)


def _armed_value(code: int) -> bool | None:
    return None if code == PENDING else code == ARMED


class _Ladder:
    """Rules sorted by (ticker index, threshold, id) in parallel arrays, with an unsorted tail."""

    __slots__ = ("armed", "dead", "dirs", "ids", "met", "rules", "size", "sorted_size", "starts", "thr", "tix")

    def __init__(self, capacity: int = 16) -> None:
        self.thr: F64 = np.empty(capacity, np.float64)
        self.tix = np.empty(capacity, np.int32)
        self.armed = np.empty(capacity, np.int8)
        self.ids: I64 = np.empty(capacity, np.int64)
        self.met = np.empty(capacity, np.int32)  # moves: the session (ordinal) a rule was met in, 0 if none
        self.dirs = np.empty(capacity, np.int8)  # moves: UP | DOWN bits
        self.rules: list[Rule | None] = []
        self.size = 0
        self.sorted_size = 0
        self.dead = 0
        self.starts: I64 = np.zeros(1, np.int64)  # per ticker index, where its run starts in the sorted part

    def fill(self, rules: list[Rule], tix: Sequence[int], armed: Sequence[int], met: Sequence[int], dirs: Sequence[int]) -> None:
        """Replace the contents with these rules, sorted."""
        n = len(rules)
        thr = np.fromiter((r.threshold for r in rules), np.float64, n)
        ids = np.fromiter((r.id for r in rules), np.int64, n)
        tix_a = np.asarray(tix, np.int32)
        order = np.lexsort((ids, thr, tix_a))
        capacity = max(16, n + n // 8)
        self.thr = np.empty(capacity, np.float64)
        self.ids = np.empty(capacity, np.int64)
        self.tix = np.empty(capacity, np.int32)
        self.armed = np.empty(capacity, np.int8)
        self.met = np.empty(capacity, np.int32)
        self.dirs = np.empty(capacity, np.int8)
        self.thr[:n] = thr[order]
        self.ids[:n] = ids[order]
        self.tix[:n] = tix_a[order]
        self.armed[:n] = np.asarray(armed, np.int8)[order]
        self.met[:n] = np.asarray(met, np.int32)[order]
        self.dirs[:n] = np.asarray(dirs, np.int8)[order]
        del thr, ids, tix_a
        self.rules = [rules[i] for i in order]  # one index at a time: no million ints at once
        self.size = self.sorted_size = n
        self.dead = 0

    def index_runs(self, n_tickers: int) -> None:
        """Where each ticker's run starts in the sorted part (for checks of a few tickers)."""
        self.starts = np.searchsorted(self.tix[: self.sorted_size], np.arange(n_tickers + 1), side="left").astype(np.int64)

    def append(self, rule: Rule, tix: int, armed: int, met: int, dirs: int) -> None:
        if self.size == len(self.thr):
            for name in ("thr", "ids", "tix", "armed", "met", "dirs"):
                old = getattr(self, name)
                new = np.empty(max(16, 2 * len(old)), old.dtype)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        i = self.size
        self.thr[i] = rule.threshold
        self.ids[i] = rule.id
        self.tix[i] = tix
        self.armed[i] = armed
        self.met[i] = met
        self.dirs[i] = dirs
        self.rules.append(rule)
        self.size += 1

    def kill(self, slots: Iterable[int]) -> None:
        for slot in slots:
            self.thr[slot] = np.nan
            self.armed[slot] = FIRED
            self.met[slot] = 0
            self.rules[slot] = None
            self.dead += 1

    def live(self) -> list[int]:
        return [i for i, rule in enumerate(self.rules) if rule is not None]

    def needs_sorting(self) -> bool:
        tail = self.size - self.sorted_size
        return (tail > 64 and tail * 8 > self.sorted_size) or self.dead * 4 > max(self.size, 64)

    def slots_of(self, tix: int) -> I64:
        """Every slot of one ticker (live or dead)."""
        found = np.flatnonzero(self.tix[: self.size] == tix)
        return found.astype(np.int64)

    def candidates(self, tixes: Sequence[int], n_tickers: int) -> I64 | None:
        """The slots a check of these tickers must look at, or None for all of them."""
        if len(tixes) * 8 >= n_tickers or len(self.starts) <= 1:
            return None
        runs = len(self.starts) - 1
        parts = [np.arange(self.starts[t], self.starts[t + 1], dtype=np.int64) for t in tixes if t < runs]
        parts.append(np.arange(self.sorted_size, self.size, dtype=np.int64))  # the unsorted tail
        return np.concatenate(parts)


class VectorEngine:
    """The `RuleIndex` port over numpy arrays; see the module's docstring."""

    def __init__(self, *, rearm_band_pct: float = 1.0) -> None:
        self.band = rearm_band_pct / 100.0
        self._states: dict[str, TickerState] = {}
        self._pending_armed: dict[str, dict[int, bool | None]] = {}  # changes made outside a check
        self._clear()

    def _clear(self) -> None:
        self._rising = _Ladder()
        self._falling = _Ladder()
        self._moves = _Ladder()
        self._drawdowns = _Ladder()
        self._tix: dict[str, int] = {}
        self._names: list[str] = []
        self._count: dict[str, int] = {}  # live rules per ticker
        self._dd_count: dict[str, int] = {}  # live drawdown rules per ticker
        self._pending: dict[str, dict[int, Rule]] = {}  # rules with no price seen yet

    # -- the index -----------------------------------------------------------------

    def _ladder_of(self, rule: Rule) -> _Ladder | None:
        if is_price_rule(rule):
            return self._rising if is_rising(rule) else self._falling
        if rule.kind is RuleKind.MOVE:
            return self._moves
        if rule.kind is RuleKind.DRAWDOWN:
            return self._drawdowns
        return None

    def _ticker_index(self, ticker: str) -> int:
        t = self._tix.get(ticker)
        if t is None:
            t = self._tix[ticker] = len(self._names)
            self._names.append(ticker)
        return t

    def _note(self, rule: Rule, ticker: str) -> None:
        """Count a rule in, share its ticker's name, and remember it if it saw no price yet."""
        rule.ticker = ticker  # one string per ticker, not one per rule
        self._count[ticker] = self._count.get(ticker, 0) + 1
        if rule.kind is RuleKind.DRAWDOWN:
            self._dd_count[ticker] = self._dd_count.get(ticker, 0) + 1
        if rule.armed is None:
            self._pending.setdefault(ticker, {})[rule.id] = rule

    def load(self, rules: Iterable[Rule], states: dict[str, TickerState]) -> None:
        """Replace the whole index; each ladder sorted once. Columns are gathered in compact
        arrays (not lists of Python ints), so that loading a million rules stays light."""
        self._clear()
        self._pending_armed.clear()
        self._states = dict(states)
        ladders = (self._rising, self._falling, self._moves, self._drawdowns)
        columns: dict[int, tuple[list[Rule], array[int], array[int], array[int], array[int]]] = {
            id(ladder): ([], array("i"), array("b"), array("i"), array("b")) for ladder in ladders
        }
        moves = self._moves
        for rule in rules:
            ladder = self._ladder_of(rule)
            if ladder is None:
                continue
            t = self._ticker_index(rule.ticker)
            self._note(rule, self._names[t])
            group = columns[id(ladder)]
            group[0].append(rule)
            group[1].append(t)
            group[2].append(_armed_code(rule.armed))
            if ladder is moves:
                group[3].append(rule.met_session.toordinal() if rule.met_session else 0)
                group[4].append(_DIRECTION_BITS[rule.direction])
            else:
                group[3].append(0)
                group[4].append(0)
        for ladder in ladders:
            ladder.fill(*columns.pop(id(ladder)))
            ladder.index_runs(len(self._names))

    def add(self, rule: Rule) -> None:
        ladder = self._ladder_of(rule)
        if ladder is None:
            return
        t = self._ticker_index(rule.ticker)
        self._note(rule, self._names[t])
        met = rule.met_session.toordinal() if ladder is self._moves and rule.met_session else 0
        dirs = _DIRECTION_BITS[rule.direction] if ladder is self._moves else 0
        ladder.append(rule, t, _armed_code(rule.armed), met, dirs)

    def remove(self, rule_id: int) -> Rule | None:
        for ladder in (self._rising, self._falling, self._moves, self._drawdowns):
            slots = np.flatnonzero(ladder.ids[: ladder.size] == rule_id).tolist()
            slots = [s for s in slots if ladder.rules[s] is not None]
            if slots:
                rule = ladder.rules[slots[0]]
                assert rule is not None
                self._sync(ladder, slots[0])
                ladder.kill(slots[:1])
                self._forget(rule)
                return rule
        return None

    def _forget(self, rule: Rule) -> None:
        ticker = rule.ticker
        self._count[ticker] -= 1
        if not self._count[ticker]:
            del self._count[ticker]
        if rule.kind is RuleKind.DRAWDOWN:
            self._dd_count[ticker] -= 1
            if not self._dd_count[ticker]:
                del self._dd_count[ticker]
        pending = self._pending.get(ticker)
        if pending is not None:
            pending.pop(rule.id, None)
            if not pending:
                del self._pending[ticker]

    def replace_ticker(self, ticker: str, rules: Iterable[Rule], state: TickerState | None) -> None:
        """Reload one ticker's rules and state (after a split, or a failed write)."""
        t = self._tix.get(ticker)
        if t is not None:
            for ladder in (self._rising, self._falling, self._moves, self._drawdowns):
                slots = [s for s in ladder.slots_of(t).tolist() if ladder.rules[s] is not None]
                for slot in slots:
                    rule = ladder.rules[slot]
                    assert rule is not None
                    self._sync(ladder, slot)
                    self._forget(rule)
                ladder.kill(slots)
        for rule in rules:
            self.add(rule)
        if state is None:
            self._states.pop(ticker, None)
        else:
            self._states[ticker] = state

    def tickers(self) -> list[str]:
        return sorted(self._count)

    def rule_count(self) -> int:
        return sum(self._count.values())

    def rules_of(self, ticker: str) -> list[Rule]:
        t = self._tix.get(ticker)
        if t is None or ticker not in self._count:
            return []
        found: list[Rule] = []
        for ladder in (self._rising, self._falling, self._moves, self._drawdowns):
            for slot in ladder.slots_of(t).tolist():
                rule = ladder.rules[slot]
                if rule is not None:
                    self._sync(ladder, slot)
                    found.append(rule)
        return sorted(found, key=lambda rule: rule.id)

    @staticmethod
    def _sync(ladder: _Ladder, slot: int) -> None:
        """Write a rule's armed flag from the arrays back to its object."""
        rule = ladder.rules[slot]
        if rule is not None:
            rule.armed = _armed_value(int(ladder.armed[slot]))

    def state(self, ticker: str) -> TickerState | None:
        return self._states.get(ticker)

    def needs_peak(self, ticker: str) -> bool:
        state = self._states.get(ticker)
        return ticker in self._dd_count and (state is None or state.peak is None)

    def seed_peak(self, ticker: str, peak: float) -> None:
        state = self._states.setdefault(ticker, TickerState(ticker))
        if state.peak is None or peak > state.peak:
            state.peak = peak
            state.max_drawdown_pct = 0.0

    def prepare(self, rule: Rule, quote: Quote) -> float | None:
        state = self._states.setdefault(rule.ticker, TickerState(rule.ticker))
        if state.last_price is None:
            self.start_session(quote)
            state.last_price = quote.price
        met = already_met(rule, state, quote)
        rule.armed = met is None
        return met

    def start_session(self, quote: Quote) -> None:
        """Move a ticker to the quote's session: reset the day's extremes and re-arm move rules."""
        state = self._states.setdefault(quote.ticker, TickerState(quote.ticker))
        if state.session is not None and quote.session <= state.session:
            return
        state.session = quote.session
        state.max_up_pct = 0.0
        state.max_down_pct = 0.0
        t = self._tix.get(quote.ticker)
        if t is None:
            return
        pending = self._pending_armed.setdefault(quote.ticker, {})
        for rule_id in self._rearm_moves(np.array([t]), np.array([quote.session.toordinal()]), len(self._names)):
            pending[rule_id] = True

    def _rearm_moves(self, tixes: I64, sessions: I64, n_tickers: int) -> list[int]:
        """Re-arm the fired move rules of tickers starting a session, except those met in it."""
        ladder = self._moves
        if not ladder.size or not len(tixes):
            return []
        session_of = np.zeros(n_tickers, np.int64)
        session_of[tixes] = sessions
        cand = ladder.candidates(tixes.tolist(), n_tickers)
        slots = np.arange(ladder.size) if cand is None else cand
        tix = ladder.tix[slots]
        new = session_of[tix]
        hit = (new > 0) & (ladder.armed[slots] == FIRED) & (ladder.met[slots] != new) & ~np.isnan(ladder.thr[slots])
        rearmed = slots[hit]
        ladder.armed[rearmed] = ARMED
        rules = ladder.rules
        for slot in rearmed.tolist():
            rule = rules[slot]
            assert rule is not None
            rule.armed = True
        return ladder.ids[rearmed].tolist()  # type: ignore[no-any-return]

    def rebase(self, quote: Quote) -> CheckResult:
        self.start_session(quote)
        state = self._states[quote.ticker]
        state.last_price = quote.price
        state.peak = None
        state.max_drawdown_pct = 0.0
        return CheckResult(ticker=quote.ticker, firings=[], armed_changes=self._pending_armed.pop(quote.ticker, {}), state=state)

    # -- the check -----------------------------------------------------------------

    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult:
        return self.evaluate_many([quote], now=now)[0]

    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]:
        """The verdict on many quotes (one per ticker), in their order: as the reference's
        `evaluate` on each."""
        if len({q.ticker for q in quotes}) != len(quotes):  # the same ticker twice: one at a time
            return [self.evaluate_many([q], now=now)[0] for q in quotes]
        self._sort_if_needed()
        collecting = gc.isenabled()
        gc.disable()  # a busy check builds ~100,000 young objects with no cycles: scan them once, after
        try:
            return _Check(self, quotes, now).run()
        finally:
            if collecting:
                gc.enable()

    def _sort_if_needed(self) -> None:
        ladders = (self._rising, self._falling, self._moves, self._drawdowns)
        if not any(ladder.needs_sorting() for ladder in ladders):
            return
        for ladder in ladders:
            if ladder.needs_sorting() or len(ladder.starts) <= len(self._names):
                keep = ladder.live()
                rules = [ladder.rules[i] for i in keep]
                idx = np.asarray(keep, np.int64)
                ladder.fill(
                    [r for r in rules if r is not None],
                    ladder.tix[idx].tolist(),
                    ladder.armed[idx].tolist(),
                    ladder.met[idx].tolist(),
                    ladder.dirs[idx].tolist(),
                )
            ladder.index_runs(len(self._names))


class _Check:
    """One `evaluate_many`: the steps of the reference's `evaluate`, each over every quote at once."""

    def __init__(self, engine: VectorEngine, quotes: Sequence[Quote], now: datetime) -> None:
        self.engine = engine
        self.quotes = quotes
        self.now = now
        self.n_tickers = len(engine._names)
        n = len(quotes)
        self.n = n
        self.armed: list[dict[int, bool | None]] = [{} for _ in range(n)]
        self.changes: list[tuple[I64, I64, bool]] = []  # (quote rows, rule ids, armed) in the order made
        self.firings: list[list[Firing]] = [[] for _ in range(n)]

    def run(self) -> list[CheckResult]:
        engine, quotes = self.engine, self.quotes
        states = engine._states
        tix_of = engine._tix
        n = self.n
        qtix = np.full(n, -1, np.int64)
        prev = np.full(n, np.nan)
        new_session: list[int] = []
        state_list: list[TickerState] = []
        for i, quote in enumerate(quotes):
            ticker = quote.ticker
            state = states.get(ticker)
            if state is None:
                state = states[ticker] = TickerState(ticker)
            state_list.append(state)
            t = tix_of.get(ticker)
            if t is not None:
                qtix[i] = t
            if state.session is None or quote.session > state.session:
                state.session = quote.session
                state.max_up_pct = 0.0
                state.max_down_pct = 0.0
                if t is not None:
                    new_session.append(i)
            waiting = engine._pending_armed.pop(ticker, None)
            if waiting:
                self.armed[i].update(waiting)
            if state.last_price is not None:
                prev[i] = state.last_price
        self.states = state_list
        self.qtix = qtix
        self.price = np.fromiter((q.price for q in quotes), np.float64, n)
        prev_close = np.fromiter((q.prev_close or np.nan for q in quotes), np.float64, n)
        self.change = (self.price / prev_close - 1.0) * 100.0
        self.prev = prev
        known = qtix >= 0
        self.quote_of = np.full(self.n_tickers, -1, np.int64)  # ticker index -> quote index
        self.quote_of[qtix[known]] = np.flatnonzero(known)
        self.tixes = qtix[known]
        if new_session:
            self._session_rearms(new_session)
        self._baselines()
        self._price_rules()
        self._moves()
        self._drawdowns()
        return self._results()

    # -- steps ---------------------------------------------------------------------

    def _session_rearms(self, new_session: list[int]) -> None:
        rows = np.asarray(new_session, np.int64)
        sessions = np.fromiter((self.quotes[i].session.toordinal() for i in new_session), np.int64, len(new_session))
        ladder = self.engine._moves
        if not ladder.size:
            return
        session_of = np.zeros(self.n_tickers, np.int64)
        session_of[self.qtix[rows]] = sessions
        slots = self._scan_slots(ladder)
        tix = ladder.tix[slots]
        new = session_of[tix]
        hit = (new > 0) & (ladder.armed[slots] == FIRED) & (ladder.met[slots] != new) & ~np.isnan(ladder.thr[slots])
        rearmed = slots[hit]
        ladder.armed[rearmed] = ARMED
        self._record(ladder, rearmed, True)

    def _baselines(self) -> None:
        """Arm the rules that had seen no price, as the reference's `_set_baselines`."""
        engine = self.engine
        if not engine._pending:
            return
        for i, quote in enumerate(self.quotes):
            waiting = engine._pending.pop(quote.ticker, None)
            if not waiting:
                continue
            state = self.states[i]
            ids = np.fromiter(waiting, np.int64, len(waiting))
            for ladder in (engine._rising, engine._falling, engine._moves, engine._drawdowns):
                t = int(self.qtix[i])
                slots = ladder.slots_of(t)
                slots = slots[np.isin(ladder.ids[slots], ids)]
                for slot in slots.tolist():
                    rule = ladder.rules[slot]
                    if rule is None:
                        continue
                    met = already_met(rule, state, quote)
                    rule.armed = met is None
                    ladder.armed[slot] = ARMED if met is None else FIRED
                    if ladder is engine._moves:
                        ladder.met[slot] = rule.met_session.toordinal() if rule.met_session else 0
                    self.armed[i][rule.id] = rule.armed

    def _scan_slots(self, ladder: _Ladder) -> I64:
        cand = ladder.candidates(self.tixes.tolist(), self.n_tickers)
        return np.arange(ladder.size, dtype=np.int64) if cand is None else cand

    def _window(self, ladder: _Ladder, lo: F64, hi: F64) -> I64:
        """The slots whose threshold lies in (lo, hi] of their ticker (per-quote bounds)."""
        if not ladder.size:
            return np.empty(0, np.int64)
        low = np.full(self.n_tickers, _INF)
        high = np.full(self.n_tickers, -_INF)
        low[self.tixes] = lo[self.qtix >= 0]
        high[self.tixes] = hi[self.qtix >= 0]
        cand = ladder.candidates(self.tixes.tolist(), self.n_tickers)
        if cand is None:
            size = ladder.size
            tix = ladder.tix[:size]
            thr = ladder.thr[:size]
            return np.flatnonzero((thr > low[tix]) & (thr <= high[tix]))
        tix = ladder.tix[cand]
        thr = ladder.thr[cand]
        return cand[(thr > low[tix]) & (thr <= high[tix])]

    def _price_rules(self) -> None:
        engine = self.engine
        price, prev, band = self.price, self.prev, engine.band
        up = price > prev  # False where there is no previous price
        down = price < prev
        below = np.nextafter(price, -_INF)
        before = np.nextafter(prev, -_INF)
        empty_lo = np.full(self.n, _INF)
        empty_hi = np.full(self.n, -_INF)
        # rising rules fire on (prev, price]; re-arm on [price / (1 - band), prev / (1 - band))
        lo = np.where(up, prev, np.where(down, np.nextafter(price / (1 - band), -_INF), empty_lo))
        hi = np.where(up, price, np.where(down, np.nextafter(prev / (1 - band), -_INF), empty_hi))
        rising = self._split(engine._rising, self._window(engine._rising, lo, hi), up)
        # falling rules fire on [price, prev); re-arm on (prev / (1 + band), price / (1 + band)]
        lo = np.where(down, below, np.where(up, prev / (1 + band), empty_lo))
        hi = np.where(down, before, np.where(up, price / (1 + band), empty_hi))
        falling = self._split(engine._falling, self._window(engine._falling, lo, hi), down)
        for ladder, (fire, rearm), direction in ((engine._rising, rising, "up"), (engine._falling, falling, "down")):
            fire = self._in_quote_order(ladder, fire)
            ladder.armed[fire] = FIRED
            self._record(ladder, fire, False)
            ladder.armed[rearm] = ARMED
            self._record(ladder, rearm, True)
            self._price_firings(ladder, fire, direction)

    def _split(self, ladder: _Ladder, hits: I64, firing: npt.NDArray[np.bool_]) -> tuple[I64, I64]:
        """Hits of a firing ticker that are armed fire; hits of the other direction that had fired re-arm."""
        fires_here = np.zeros(self.n_tickers, bool)
        fires_here[self.tixes] = firing[self.qtix >= 0]
        fire_side = fires_here[ladder.tix[hits]]
        armed = ladder.armed[hits]
        return hits[fire_side & (armed == ARMED)], hits[~fire_side & (armed == FIRED)]

    def _in_quote_order(self, ladder: _Ladder, slots: I64) -> I64:
        """Slots grouped by quote, each ticker's in (threshold, id) order, as the reference fires them."""
        if not len(slots):
            return slots
        rows = self.quote_of[ladder.tix[slots]]
        if (slots >= ladder.sorted_size).any():  # some in the unsorted tail: sort fully
            order = np.lexsort((ladder.ids[slots], ladder.thr[slots], rows))
        else:
            order = np.argsort(rows, kind="stable")
        return slots[order]

    def _record(self, ladder: _Ladder, slots: I64, value: bool) -> None:
        """Note armed changes; `_results` hands them to each quote in the order they were made.
        A rule re-armed says so at once, as the reference's does (firing rules are marked as
        their alerts are built)."""
        if not len(slots):
            return
        self.changes.append((self.quote_of[ladder.tix[slots]], ladder.ids[slots], value))
        if value:
            rules = ladder.rules
            for slot in slots.tolist():
                rules[slot].armed = True

    def _price_firings(self, ladder: _Ladder, slots: I64, direction: str) -> None:
        if not len(slots):
            return
        rules, quotes, firings, now = ladder.rules, self.quotes, self.firings, self.now
        change = self.change.tolist()
        rows = self.quote_of[ladder.tix[slots]].tolist()
        plain = AlertKind.PRICE_ABOVE if direction == "up" else AlertKind.PRICE_BELOW
        cross, member = RuleKind.CROSS, RuleSource.MEMBER
        for slot, row in zip(slots.tolist(), rows, strict=True):
            rule = rules[slot]
            assert rule is not None
            rule.armed = False
            until = rule.snoozed_until
            if until is not None and now < until:
                continue
            quote = quotes[row]
            delta = change[row]
            level = rule.level_name
            firings[row].append(Firing(rule, Alert(
                AlertKind.ANALYST_LEVEL if rule.kind is cross else plain, rule.ticker, quote.at, quote.price,
                None if delta != delta else delta, quote.prev_close, rule.threshold, level.value if level else None,
                None, direction, None, None, rule.id, rule.note, rule.owner if rule.source is member else None,
            )))

    def _moves(self) -> None:
        ladder = self.engine._moves
        change = self.change
        max_up = np.fromiter((s.max_up_pct for s in self.states), np.float64, self.n)
        max_down = np.fromiter((s.max_down_pct for s in self.states), np.float64, self.n)
        up = change > max_up  # False where the change is unknown (NaN)
        down = -change > max_down
        self.move_up, self.move_down = up, down
        if not ladder.size:
            return
        lo = np.where(up, max_up, np.where(down, max_down, _INF))
        hi = np.where(up, change, np.where(down, -change, -_INF))
        hits = self._window(ladder, lo, hi)
        need = np.zeros(self.n_tickers, np.int8)
        need[self.tixes] = np.where(up, UP, DOWN)[self.qtix >= 0]
        tix = ladder.tix[hits]
        fire = hits[((ladder.dirs[hits] & need[tix]) != 0) & (ladder.armed[hits] != FIRED)]
        fire = self._in_quote_order(ladder, fire)
        ladder.armed[fire] = FIRED
        self._record(ladder, fire, False)
        self._percent_firings(ladder, fire, up)

    def _drawdowns(self) -> None:
        ladder = self.engine._drawdowns
        price = self.price
        peak = np.fromiter((np.nan if s.peak is None else s.peak for s in self.states), np.float64, self.n)
        deepest = np.fromiter((s.max_drawdown_pct for s in self.states), np.float64, self.n)
        new_peak = np.isnan(peak) | (price > peak)
        with np.errstate(invalid="ignore"):
            drawdown = (1.0 - price / peak) * 100.0
        deeper = ~new_peak & (drawdown > deepest)
        self.peak, self.new_peak, self.drawdown, self.deeper = peak, new_peak, drawdown, deeper
        if not ladder.size:
            return
        slots = self._scan_slots(ladder)
        peaked = np.zeros(self.n_tickers, bool)
        peaked[self.tixes] = new_peak[self.qtix >= 0]
        rearm = slots[peaked[ladder.tix[slots]] & (ladder.armed[slots] == FIRED) & ~np.isnan(ladder.thr[slots])]
        ladder.armed[rearm] = ARMED
        self._record(ladder, rearm, True)
        hits = self._window(ladder, np.where(deeper, deepest, _INF), np.where(deeper, drawdown, -_INF))
        fire = self._in_quote_order(ladder, hits[ladder.armed[hits] != FIRED])
        ladder.armed[fire] = FIRED
        self._record(ladder, fire, False)
        self._percent_firings(ladder, fire, None)

    def _percent_firings(self, ladder: _Ladder, slots: I64, up: npt.NDArray[np.bool_] | None) -> None:
        """Alerts for move rules (`up` says which way each quote moved) or drawdown rules (`up` None)."""
        if not len(slots):
            return
        rules, quotes, firings, now = ladder.rules, self.quotes, self.firings, self.now
        change = self.change.tolist()
        rows = self.quote_of[ladder.tix[slots]].tolist()
        went_up = up.tolist() if up is not None else None
        peaks, drawdowns = (self.peak.tolist(), self.drawdown.tolist()) if up is None else ([], [])
        watch, member = RuleSource.WATCH, RuleSource.MEMBER
        for slot, row in zip(slots.tolist(), rows, strict=True):
            rule = rules[slot]
            assert rule is not None
            rule.armed = False
            until = rule.snoozed_until
            if until is not None and now < until:
                continue
            quote = quotes[row]
            delta = change[row]
            delta_value = None if delta != delta else delta
            mention = rule.owner if rule.source is member else None
            if went_up is not None:
                kind = AlertKind.SELLOFF if rule.source is watch else AlertKind.DAILY_MOVE
                alert = Alert(kind, rule.ticker, quote.at, quote.price, delta_value, quote.prev_close, None, None,
                              rule.threshold, "up" if went_up[row] else "down", None, None, rule.id, None, mention)
            else:
                alert = Alert(AlertKind.DRAWDOWN, rule.ticker, quote.at, quote.price, delta_value, quote.prev_close, None, None,
                              rule.threshold, "down", peaks[row], drawdowns[row], rule.id, None, mention)
            firings[row].append(Firing(rule, alert))

    def _hand_out_changes(self) -> None:
        """Each quote's armed changes, later ones overriding earlier ones as in the reference."""
        if not self.changes:
            return
        rows = np.concatenate([rows for rows, _, _ in self.changes])
        order = np.argsort(rows, kind="stable")
        ids = np.concatenate([ids for _, ids, _ in self.changes])[order].tolist()
        values = np.concatenate([np.full(len(r), v) for r, _, v in self.changes])[order].tolist()
        bounds = np.searchsorted(rows[order], np.arange(self.n + 1)).tolist()
        armed = self.armed
        for row in range(self.n):
            start, stop = bounds[row], bounds[row + 1]
            if start < stop:
                armed[row].update(zip(ids[start:stop], values[start:stop], strict=True))

    def _results(self) -> list[CheckResult]:
        """Write each ticker's state as the reference leaves it, and the results."""
        prices = self.price.tolist()
        change = self.change.tolist()
        up, down = self.move_up.tolist(), self.move_down.tolist()
        new_peak, deeper, drawdown = self.new_peak.tolist(), self.deeper.tolist(), self.drawdown.tolist()
        self._hand_out_changes()
        results = []
        for i, state in enumerate(self.states):
            price = prices[i]
            if up[i]:
                state.max_up_pct = change[i]
            if down[i]:
                state.max_down_pct = -change[i]
            if new_peak[i]:
                state.peak = price
                state.max_drawdown_pct = 0.0
            elif deeper[i]:
                state.max_drawdown_pct = drawdown[i]
            state.last_price = price
            results.append(CheckResult(state.ticker, self.firings[i], self.armed[i], state))
        return results
