"""`VectorEngine`: the rule engine's verdicts for a whole check at once, with numpy.

It implements `bot.core.engine.RuleIndex` with exactly the semantics of the reference
`RuleEngine` (crossings, the re-arm band, moves once a session, drawdowns once a peak, snoozes,
baselines of rules that saw no price), but finds what every quoted ticker crossed in a few array
operations instead of bisecting one ticker at a time.

Layout. Rules sit in four ladders: price rules that fire rising (`above`, levels approached from
below), price rules that fire falling, `move` rules and `drawdown` rules. A ladder is a set of
parallel arrays (threshold, ticker index, armed flag, rule id, a snoozed flag; for moves also the
directions and the session a rule was met in) plus the list of the `Rule` objects, sorted by
(ticker, threshold, id) when built, with where each ticker's run starts. A rule added later is
appended after the sorted part, and the ladder is sorted again once that tail grows; a removed
rule leaves a dead slot (armed code DEAD, its threshold kept so that the runs stay sorted) until
then. The tickers' states are `TickerState` objects, with their figures mirrored in arrays
(`_StateTable`) that a check reads; the check writes both.

A check. Each quoted ticker's move becomes a window per ladder, as the reference's
`between(low, high)`, with every bound made left-open and right-closed (`x >= a` is
`x > nextafter(a, -inf)`). Both ends of every window are bisected at once within their
ticker's run (`_Ladder.bisect_right`), so a check costs what crossed and the number of quotes,
not how many rules exist; the unsorted tail is compared slot by slot.

What a check returns. The verdicts (which rules fired, in order, which armed flags changed, each
ticker's new state) are made in the check, in arrays; each quote's `Firing`s and `Alert`s and
its armed-change dict are built from them when its `CheckResult` is first read (every quote's at
once), from figures kept at the check. `make bench` times the verdicts and the building apart.

The armed flag lives in the arrays (1 armed, 0 fired and waiting, -1 no price seen yet); a
`Rule` object gets it written when its firing is built (as the arrays hold it then) and when the
engine hands it out (`rules_of`, `remove`, `replace_ticker`). A rule's snooze is read from its
object when it is indexed, and set through `snooze` (`/snooze`).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime
from itertools import compress, repeat
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from bot.core.engine import CheckResult, Firing, already_met, collector_paused, is_price_rule, is_rising
from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import Direction, Rule, RuleKind, RuleSource, TickerState

ARMED, FIRED, PENDING, DEAD = 1, 0, -1, -2
UP, DOWN = 1, 2  # direction bits of a move rule
_DIRECTION_BITS = {Direction.UP: UP, Direction.DOWN: DOWN, Direction.EITHER: UP | DOWN}
_INF = float("inf")
_TICKER = attrgetter("ticker")
_PRICE = attrgetter("price")
_AT = attrgetter("at")
_PREV_CLOSE = attrgetter("prev_close")
_SESSION = attrgetter("session")
_PRICE_STAGE, _MOVE_STAGE, _DRAWDOWN_STAGE = 0, 1, 2

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def _armed_code(armed: bool | None) -> int:
    return PENDING if armed is None else (ARMED if armed else FIRED)


def _armed_value(code: int) -> bool | None:
    return None if code == PENDING else code == ARMED


def _ranges(starts: I64, stops: I64) -> I64:
    """The concatenation of `arange(start, stop)` for each pair (empty where stop <= start)."""
    counts = np.maximum(stops - starts, 0)
    total = int(counts.sum())
    if not total:
        return np.empty(0, np.int64)
    offsets = np.cumsum(counts) - counts
    slots: I64 = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, counts)
    return slots


class _Ladder:
    """Rules sorted by (ticker index, threshold, id) in parallel arrays, with an unsorted tail."""

    __slots__ = (
        "armed", "dead", "dirs", "generation", "ids", "met", "rules", "runs", "size", "snoozy", "sorted_size", "thr", "tix",
    )

    def __init__(self, capacity: int = 16) -> None:
        self.thr: F64 = np.empty(capacity, np.float64)
        self.tix = np.empty(capacity, np.int32)
        self.armed = np.empty(capacity, np.int8)
        self.ids: I64 = np.empty(capacity, np.int64)
        self.met = np.empty(capacity, np.int32)  # moves: the session (ordinal) a rule was met in, 0 if none
        self.dirs = np.empty(capacity, np.int8)  # moves: UP | DOWN bits
        self.snoozy = np.empty(capacity, np.bool_)  # the rule has a snooze (past or not): look at it when it fires
        self.rules: list[Rule] = []  # a removed rule's object stays (dead slot) until the ladder is sorted again
        self.size = 0
        self.sorted_size = 0
        self.dead = 0
        self.runs: I64 = np.zeros(1, np.int64)  # per ticker index t, its run in the sorted part: runs[t]..runs[t + 1]
        self.generation = 0  # how many times the ladder was filled: slots of an older one mean other rules

    def fill(self, rules: list[Rule], tix: Sequence[int], armed: Sequence[int], met: Sequence[int], dirs: Sequence[int]) -> None:
        """Replace the contents with these rules, sorted, and key them."""
        n = len(rules)
        thr = np.fromiter((r.threshold for r in rules), np.float64, n)
        ids = np.fromiter((r.id for r in rules), np.int64, n)
        snoozy = np.fromiter((r.snoozed_until is not None for r in rules), np.bool_, n)
        tix_a = np.asarray(tix, np.int32)
        order = np.lexsort((ids, thr, tix_a))
        capacity = max(16, n + n // 8)
        self.thr = np.empty(capacity, np.float64)
        self.ids = np.empty(capacity, np.int64)
        self.tix = np.empty(capacity, np.int32)
        self.armed = np.empty(capacity, np.int8)
        self.met = np.empty(capacity, np.int32)
        self.dirs = np.empty(capacity, np.int8)
        self.snoozy = np.empty(capacity, np.bool_)
        self.thr[:n] = thr[order]
        self.ids[:n] = ids[order]
        self.tix[:n] = tix_a[order]
        self.armed[:n] = np.asarray(armed, np.int8)[order]
        self.met[:n] = np.asarray(met, np.int32)[order]
        self.dirs[:n] = np.asarray(dirs, np.int8)[order]
        self.snoozy[:n] = snoozy[order]
        del thr, ids, tix_a, snoozy
        self.rules = [rules[i] for i in order]  # one index at a time: no million ints at once
        self.size = self.sorted_size = n
        self.dead = 0
        self.generation += 1
        n_runs = int(self.tix[:n].max()) + 1 if n else 0
        self.runs = np.searchsorted(self.tix[:n], np.arange(n_runs + 1)).astype(np.int64)

    def append(self, rule: Rule, tix: int, armed: int, met: int, dirs: int) -> None:
        if self.size == len(self.thr):
            for name in ("thr", "ids", "tix", "armed", "met", "dirs", "snoozy"):
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
        self.snoozy[i] = rule.snoozed_until is not None
        self.rules.append(rule)
        self.size += 1

    def kill(self, slots: Iterable[int]) -> None:
        """Mark slots dead (their thresholds stay, so that the sorted part stays sorted)."""
        for slot in slots:
            self.armed[slot] = DEAD
            self.met[slot] = 0
            self.dead += 1

    def live(self) -> list[int]:
        live: list[int] = np.flatnonzero(self.armed[: self.size] != DEAD).tolist()
        return live

    def needs_sorting(self) -> bool:
        tail = self.size - self.sorted_size
        return (tail > 64 and tail * 8 > self.sorted_size) or self.dead * 4 > max(self.size, 64)

    def slots_of(self, tix: int) -> list[int]:
        """The live slots of one ticker."""
        s = self.sorted_size
        start, stop = self.run_of(np.array([tix], np.int64))
        slots = list(range(int(start[0]), int(stop[0]))) + (np.flatnonzero(self.tix[s : self.size] == tix) + s).tolist()
        armed = self.armed
        return [slot for slot in slots if armed[slot] != DEAD]

    def run_of(self, tix: I64) -> tuple[I64, I64]:
        """Where each ticker's run starts and stops in the sorted part (empty for a ticker added since)."""
        runs = self.runs
        known = tix < len(runs) - 1
        t = np.where(known, tix, 0)
        s = self.sorted_size
        return np.where(known, runs[t], s), np.where(known, runs[np.where(known, tix + 1, 0)], s)

    def fired_of(self, tix: I64, n_tickers: int) -> I64:
        """The fired slots of these tickers: through their runs and the tail when they are few,
        else by one pass over the ladder."""
        if len(tix) * 8 >= n_tickers:
            fired: I64 = np.flatnonzero(self.armed[: self.size] == FIRED)
            return fired
        start, stop = self.run_of(tix)
        slots = _ranges(start, stop)
        s = self.sorted_size
        if self.size > s:
            slots = np.concatenate((slots, np.flatnonzero(np.isin(self.tix[s : self.size], tix)) + s))
        fired_here: I64 = slots[self.armed[slots] == FIRED]
        return fired_here

    def bisect_right(self, starts: I64, stops: I64, bounds: F64) -> I64:
        """For each query, the first slot in [start, stop) of the sorted part whose threshold
        exceeds its bound (thresholds ascend within a run): one bisection step for all queries
        at once, as many steps as the longest run needs."""
        lo = starts.astype(np.int64)
        longest = int((stops - lo).max()) if len(lo) else 0
        thr = self.thr[: self.sorted_size]
        step = 1 << longest.bit_length()
        while step > 1:  # lo moves up by each power of two whose last slot is still <= the bound
            step >>= 1
            ahead = lo + step
            fits = thr.take(ahead - 1, mode="clip") <= bounds
            fits &= ahead <= stops
            lo = np.where(fits, ahead, lo)
        return lo

    def window(self, rows: I64, tix: I64, lo: F64, hi: F64, n_tickers: int) -> tuple[I64, I64]:
        """The slots whose threshold lies in (lo, hi] of their row's ticker (`rows` ascending,
        each with its ticker index and bounds), dead ones included, and their rows: grouped by
        row, each row's in (threshold, id) order."""
        s = self.sorted_size
        if s and len(rows):
            run_start, run_stop = self.run_of(tix)
            k = len(rows)
            after = self.bisect_right(np.concatenate((run_start, run_start)), np.concatenate((run_stop, run_stop)), np.concatenate((lo, hi)))
            starts, stops = after[:k], after[k:]
            slots = _ranges(starts, stops)
            hit_rows = np.repeat(rows, np.maximum(stops - starts, 0))
        else:
            slots = hit_rows = np.empty(0, np.int64)
        if self.size > s and len(rows):  # the unsorted tail, slot by slot
            low = np.full(n_tickers, _INF)
            high = np.full(n_tickers, -_INF)
            low[tix] = lo
            high[tix] = hi
            row_of = np.full(n_tickers, -1, np.int64)
            row_of[tix] = rows
            tail_tix = self.tix[s : self.size]
            thr = self.thr[s : self.size]
            tail = np.flatnonzero((thr > low[tail_tix]) & (thr <= high[tail_tix])) + s
            if len(tail):
                slots = np.concatenate((slots, tail))
                hit_rows = np.concatenate((hit_rows, row_of[self.tix[tail]]))
                order = np.lexsort((self.ids[slots], self.thr[slots], hit_rows))
                slots, hit_rows = slots[order], hit_rows[order]
        return slots, hit_rows


class _StateTable:
    """The tickers' states: the `TickerState` objects (handed out, and written by every check)
    and their figures in arrays by state index, which a check reads instead of the objects.
    Only the engine changes a state; each change outside a check is read back (`read`)."""

    def __init__(self, index: dict[str, int], index_of: Callable[[str], int]) -> None:
        self.objects: dict[str, TickerState] = {}
        self.index = index  # the engine's ticker indices, shared with the ladders
        self.index_of = index_of
        self.last = np.empty(0, np.float64)  # NaN: no price yet
        self.up = np.empty(0, np.float64)
        self.down = np.empty(0, np.float64)
        self.peak = np.empty(0, np.float64)  # NaN: no peak
        self.deepest = np.empty(0, np.float64)
        self.session = np.empty(0, np.int64)  # the session's ordinal, 0 for none

    def get(self, ticker: str) -> TickerState:
        """The ticker's state, a new one if it has none."""
        state = self.objects.get(ticker)
        return state if state is not None else self.put(TickerState(ticker))

    def put(self, state: TickerState) -> TickerState:
        self.objects[state.ticker] = state
        return self.read(state)

    def pop(self, ticker: str) -> None:
        self.objects.pop(ticker, None)

    def read(self, state: TickerState) -> TickerState:
        """Take the figures of a state changed outside a check."""
        i = self.index_of(state.ticker)
        if i >= len(self.last):
            for name in ("last", "up", "down", "peak", "deepest", "session"):
                old = getattr(self, name)
                new = np.empty(max(64, 2 * i), old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.last[i] = np.nan if state.last_price is None else state.last_price
        self.up[i] = state.max_up_pct
        self.down[i] = state.max_down_pct
        self.peak[i] = np.nan if state.peak is None else state.peak
        self.deepest[i] = state.max_drawdown_pct
        self.session[i] = state.session.toordinal() if state.session is not None else 0
        return state


class VectorEngine:
    """The `RuleIndex` port over numpy arrays; see the module's docstring."""

    def __init__(self, *, rearm_band_pct: float = 1.0) -> None:
        self.band = rearm_band_pct / 100.0
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
        self._states = _StateTable(self._tix, self._ticker_index)

    @property
    def _ladders(self) -> tuple[_Ladder, _Ladder, _Ladder, _Ladder]:
        return self._rising, self._falling, self._moves, self._drawdowns

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
        for state in states.values():
            self._states.put(state)
        columns: dict[int, tuple[list[Rule], array[int], array[int], array[int], array[int]]] = {
            id(ladder): ([], array("i"), array("b"), array("i"), array("b")) for ladder in self._ladders
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
        for ladder in self._ladders:
            ladder.fill(*columns.pop(id(ladder)))

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
        for ladder in self._ladders:
            slots = [s for s in np.flatnonzero(ladder.ids[: ladder.size] == rule_id).tolist() if ladder.armed[s] != DEAD]
            if slots:
                rule = ladder.rules[slots[0]]
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
            for ladder in self._ladders:
                slots = ladder.slots_of(t)
                for slot in slots:
                    self._sync(ladder, slot)
                    self._forget(ladder.rules[slot])
                ladder.kill(slots)
        for rule in rules:
            self.add(rule)
        if state is None:
            self._states.pop(ticker)
        else:
            self._states.put(state)

    def tickers(self) -> list[str]:
        return sorted(self._count)

    def rule_count(self) -> int:
        return sum(self._count.values())

    def rules_of(self, ticker: str) -> list[Rule]:
        """The ticker's rules, their armed flags written from the arrays."""
        t = self._tix.get(ticker)
        if t is None or ticker not in self._count:
            return []
        found: list[Rule] = []
        for ladder in self._ladders:
            for slot in ladder.slots_of(t):
                self._sync(ladder, slot)
                found.append(ladder.rules[slot])
        return sorted(found, key=lambda rule: rule.id)

    @staticmethod
    def _sync(ladder: _Ladder, slot: int) -> None:
        """Write a rule's armed flag from the arrays back to its object."""
        ladder.rules[slot].armed = _armed_value(int(ladder.armed[slot]))

    def snooze(self, rule_id: int, until: datetime | None) -> None:
        for ladder in self._ladders:
            for slot in np.flatnonzero(ladder.ids[: ladder.size] == rule_id).tolist():
                if ladder.armed[slot] != DEAD:
                    ladder.rules[slot].snoozed_until = until
                    ladder.snoozy[slot] = until is not None
                    return

    def state(self, ticker: str) -> TickerState | None:
        return self._states.objects.get(ticker)

    def needs_peak(self, ticker: str) -> bool:
        state = self._states.objects.get(ticker)
        return ticker in self._dd_count and (state is None or state.peak is None)

    def seed_peak(self, ticker: str, peak: float) -> None:
        state = self._states.get(ticker)
        if state.peak is None or peak > state.peak:
            state.peak = peak
            state.max_drawdown_pct = 0.0
            self._states.read(state)

    def prepare(self, rule: Rule, quote: Quote) -> float | None:
        state = self._states.get(rule.ticker)
        if state.last_price is None:
            self.start_session(quote)
            state.last_price = quote.price
            self._states.read(state)
        met = already_met(rule, state, quote)
        rule.armed = met is None
        return met

    def start_session(self, quote: Quote) -> None:
        """Move a ticker to the quote's session: reset the day's extremes and re-arm move rules."""
        state = self._states.get(quote.ticker)
        if state.session is not None and quote.session <= state.session:
            return
        state.session = quote.session
        state.max_up_pct = 0.0
        state.max_down_pct = 0.0
        self._states.read(state)
        t = self._tix.get(quote.ticker)
        if t is None:
            return
        pending = self._pending_armed.setdefault(quote.ticker, {})
        ladder = self._moves
        slots = self._session_rearms(np.array([t]), np.array([quote.session.toordinal()]))
        for slot, rule_id in zip(slots.tolist(), ladder.ids[slots].tolist(), strict=True):
            ladder.rules[slot].armed = True
            pending[rule_id] = True

    def _session_rearms(self, tixes: I64, sessions: I64) -> I64:
        """Re-arm the fired move rules of these tickers, starting these sessions, except those
        met in them; return their slots."""
        ladder = self._moves
        if not ladder.size or not len(tixes):
            return np.empty(0, np.int64)
        session_of = np.zeros(len(self._names), np.int64)
        session_of[tixes] = sessions
        fired = ladder.fired_of(tixes, len(self._names))
        new = session_of[ladder.tix[fired]]
        rearmed: I64 = fired[(new > 0) & (ladder.met[fired] != new)]
        ladder.armed[rearmed] = ARMED
        return rearmed

    def rebase(self, quote: Quote) -> CheckResult:
        self.start_session(quote)
        state = self._states.get(quote.ticker)
        state.last_price = quote.price
        state.peak = None
        state.max_drawdown_pct = 0.0
        self._states.read(state)
        return CheckResult(ticker=quote.ticker, firings=[], armed_changes=self._pending_armed.pop(quote.ticker, {}), state=state)

    # -- the check -----------------------------------------------------------------

    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult:
        return self.evaluate_many([quote], now=now)[0]

    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]:
        """The verdict on many quotes (one per ticker), in their order: as the reference's
        `evaluate` on each."""
        tickers = list(map(_TICKER, quotes))
        if len(set(tickers)) != len(tickers):  # the same ticker twice: one at a time
            return [self.evaluate_many([q], now=now)[0] for q in quotes]
        self._sort_if_needed()
        with collector_paused():
            return _Check(self, quotes, tickers, now).run()

    def _sort_if_needed(self) -> None:
        if not any(ladder.needs_sorting() for ladder in self._ladders):
            return
        for ladder in self._ladders:
            if ladder.needs_sorting():
                keep = ladder.live()
                idx = np.asarray(keep, np.int64)
                ladder.fill(
                    [ladder.rules[i] for i in keep],
                    ladder.tix[idx].tolist(),
                    ladder.armed[idx].tolist(),
                    ladder.met[idx].tolist(),
                    ladder.dirs[idx].tolist(),
                )


class _Check:
    """One `evaluate_many`: the steps of the reference's `evaluate`, each over every quote at once.
    Its verdicts stay in arrays (`_Verdicts`) until a result is read."""

    def __init__(self, engine: VectorEngine, quotes: Sequence[Quote], tickers: list[str], now: datetime) -> None:
        self.engine = engine
        self.quotes = quotes
        self.tickers = tickers
        self.now = now
        self.n = len(quotes)
        self.verdicts = _Verdicts(quotes)

    def run(self) -> list[CheckResult]:
        engine, quotes, tickers, n = self.engine, self.quotes, self.tickers, self.n
        table = engine._states
        try:
            state_list: list[TickerState] = list(map(table.objects.__getitem__, tickers))
        except KeyError:  # a ticker never seen: its state starts here
            state_list = list(map(table.get, tickers))
        self.states = state_list
        self.n_tickers = len(engine._names)
        qtix = sidx = np.fromiter(map(table.index.__getitem__, tickers), np.int64, n)  # every quoted ticker has a state, so an index
        self.qtix = self.sidx = qtix
        sessions = list(map(_SESSION, quotes))
        if len(distinct := set(sessions)) == 1:
            ordinals = np.full(n, distinct.pop().toordinal(), np.int64)
        else:
            ordinals = np.fromiter(map(date.toordinal, sessions), np.int64, n)
        new_session = np.flatnonzero(ordinals > table.session[sidx])
        if len(new_session):  # as the reference's `start_session`
            moved = sidx[new_session]
            table.session[moved] = ordinals[new_session]
            table.up[moved] = 0.0
            table.down[moved] = 0.0
            picked = new_session.tolist()
            _set(state_list, picked, "session", [sessions[i] for i in picked])
            _set(state_list, picked, "max_up_pct", repeat(0.0))
            _set(state_list, picked, "max_down_pct", repeat(0.0))
        if engine._pending_armed:
            for row, ticker in enumerate(tickers):
                waiting = engine._pending_armed.pop(ticker, None)
                if waiting:
                    self.verdicts.first_changes(row).update(waiting)
        self.prev, self.peak, self.deepest = table.last[sidx], table.peak[sidx], table.deepest[sidx]
        self.max_up, self.max_down = table.up[sidx], table.down[sidx]
        self.price = np.fromiter(map(_PRICE, quotes), np.float64, n)
        prev_close = np.array(list(map(_PREV_CLOSE, quotes)), np.float64)
        prev_close[prev_close == 0.0] = np.nan  # as `Quote.change_pct`: no previous close, no change
        self.change = (self.price / prev_close - 1.0) * 100.0
        rearm_rows = new_session
        if len(rearm_rows):
            ladder = engine._moves
            rearmed = engine._session_rearms(qtix[rearm_rows], ordinals[rearm_rows])
            row_of = np.full(self.n_tickers, -1, np.int64)
            row_of[qtix[rearm_rows]] = rearm_rows
            self.verdicts.changed(row_of[ladder.tix[rearmed]], ladder.ids[rearmed], True)
        if engine._pending:
            self._baselines()
        self._price_rules()
        self._moves()
        self._drawdowns()
        return self._results()

    # -- steps ---------------------------------------------------------------------

    def _baselines(self) -> None:
        """Arm the rules that had seen no price, as the reference's `_set_baselines`."""
        engine = self.engine
        for row, ticker in enumerate(self.tickers):
            waiting = engine._pending.pop(ticker, None)
            if not waiting:
                continue
            quote, state, t = self.quotes[row], self.states[row], int(self.qtix[row])
            changes = self.verdicts.first_changes(row)
            for ladder in engine._ladders:
                for slot in ladder.slots_of(t):
                    rule = ladder.rules[slot]
                    if rule.id not in waiting:
                        continue
                    met = already_met(rule, state, quote)
                    rule.armed = met is None
                    ladder.armed[slot] = ARMED if met is None else FIRED
                    if ladder is engine._moves:
                        ladder.met[slot] = rule.met_session.toordinal() if rule.met_session else 0
                    changes[rule.id] = rule.armed

    def _window(self, ladder: _Ladder, lo: F64, hi: F64) -> tuple[I64, I64]:
        """The slots whose threshold lies in (lo, hi] of their quote's ticker, and their quote rows."""
        rows = np.flatnonzero(lo < hi)
        if not ladder.size or not len(rows):
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return ladder.window(rows, self.qtix[rows], lo[rows], hi[rows], self.n_tickers)

    def _price_rules(self) -> None:
        engine = self.engine
        price, prev, band = self.price, self.prev, engine.band
        up = price > prev  # False where there is no previous price
        down = price < prev
        # rising rules fire on (prev, price]; re-arm on [price / (1 - band), prev / (1 - band))
        lo = np.where(up, prev, np.where(down, np.nextafter(price / (1 - band), -_INF), _INF))
        hi = np.where(up, price, np.where(down, np.nextafter(prev / (1 - band), -_INF), -_INF))
        self._price_ladder(engine._rising, lo, hi, up, "up")
        # falling rules fire on [price, prev); re-arm on (prev / (1 + band), price / (1 + band)]
        lo = np.where(down, np.nextafter(price, -_INF), np.where(up, prev / (1 + band), _INF))
        hi = np.where(down, np.nextafter(prev, -_INF), np.where(up, price / (1 + band), -_INF))
        self._price_ladder(engine._falling, lo, hi, down, "down")

    def _price_ladder(self, ladder: _Ladder, lo: F64, hi: F64, firing: Flags, direction: str) -> None:
        """Hits of a quote moving the firing way that are armed fire; hits of the other way that had fired re-arm."""
        slots, rows = self._window(ladder, lo, hi)
        if not len(slots):
            return
        armed = ladder.armed[slots]
        fire_side = firing[rows]
        fire = fire_side & (armed == ARMED)
        rearm = ~fire_side & (armed == FIRED)
        fired, fired_rows = slots[fire], rows[fire]
        ladder.armed[fired] = FIRED
        self.verdicts.changed(fired_rows, ladder.ids[fired], False)
        rearmed = slots[rearm]
        ladder.armed[rearmed] = ARMED
        self.verdicts.changed(rows[rearm], ladder.ids[rearmed], True)
        self._fired(ladder, fired, fired_rows, _PRICE_STAGE, direction)

    def _fired(self, ladder: _Ladder, slots: I64, rows: I64, stage: int, direction: str) -> None:
        """Keep what fired for its alerts, less the rules snoozed now (they stay fired)."""
        if not len(slots):
            return
        snoozy = ladder.snoozy[slots]
        if snoozy.any():
            now, rules = self.now, ladder.rules
            awake = [not ((until := rules[slot].snoozed_until) is not None and now < until) for slot in slots[snoozy].tolist()]
            keep = np.ones(len(slots), np.bool_)
            keep[np.flatnonzero(snoozy)] = awake
            slots, rows = slots[keep], rows[keep]
        self.verdicts.fired(ladder, slots, rows, stage, direction)

    def _moves(self) -> None:
        ladder = self.engine._moves
        change, max_up, max_down = self.change, self.max_up, self.max_down
        up = change > max_up  # False where the change is unknown (NaN)
        down = -change > max_down
        self.move_up, self.move_down = up, down
        if not ladder.size:
            return
        lo = np.where(up, max_up, np.where(down, max_down, _INF))
        hi = np.where(up, change, np.where(down, -change, -_INF))
        slots, rows = self._window(ladder, lo, hi)
        if not len(slots):
            return
        armed = ladder.armed[slots]
        need = np.where(up[rows], UP, DOWN).astype(np.int8)
        fire = ((ladder.dirs[slots] & need) != 0) & (armed != FIRED) & (armed != DEAD)
        fired, fired_rows = slots[fire], rows[fire]
        ladder.armed[fired] = FIRED
        self.verdicts.changed(fired_rows, ladder.ids[fired], False)
        self.verdicts.up = up
        self._fired(ladder, fired, fired_rows, _MOVE_STAGE, "")

    def _drawdowns(self) -> None:
        ladder = self.engine._drawdowns
        price, peak, deepest = self.price, self.peak, self.deepest
        new_peak = np.isnan(peak) | (price > peak)
        with np.errstate(invalid="ignore"):
            drawdown = (1.0 - price / peak) * 100.0
        deeper = ~new_peak & (drawdown > deepest)
        self.new_peak, self.drawdown, self.deeper = new_peak, drawdown, deeper
        if not ladder.size:
            return
        rows = np.flatnonzero(new_peak)
        fired = ladder.fired_of(self.qtix[rows], self.n_tickers) if len(rows) else rows
        if len(fired):  # a new peak re-arms its ticker's fired drawdown rules
            peaked = np.zeros(self.n_tickers, np.bool_)
            peaked[self.qtix[rows]] = True
            rearmed = fired[peaked[ladder.tix[fired]]]
            if len(rearmed):
                row_of = np.full(self.n_tickers, -1, np.int64)
                row_of[self.qtix[rows]] = rows
                ladder.armed[rearmed] = ARMED
                self.verdicts.changed(row_of[ladder.tix[rearmed]], ladder.ids[rearmed], True)
        slots, rows = self._window(ladder, np.where(deeper, deepest, _INF), np.where(deeper, drawdown, -_INF))
        if not len(slots):
            return
        armed = ladder.armed[slots]
        fire = (armed != FIRED) & (armed != DEAD)
        fired, fired_rows = slots[fire], rows[fire]
        ladder.armed[fired] = FIRED
        self.verdicts.changed(fired_rows, ladder.ids[fired], False)
        self.verdicts.peak, self.verdicts.drawdown = peak, drawdown
        self._fired(ladder, fired, fired_rows, _DRAWDOWN_STAGE, "down")

    def _results(self) -> list[CheckResult]:
        """Write each ticker's state as the reference leaves it, and the results."""
        states, table, sidx = self.states, self.engine._states, self.sidx
        for rows, name, figures, values in (
            (self.move_up, "max_up_pct", table.up, self.change),
            (self.move_down, "max_down_pct", table.down, -self.change),
            (self.new_peak, "peak", table.peak, self.price),
            (self.new_peak, "max_drawdown_pct", table.deepest, np.zeros(self.n)),
            (self.deeper, "max_drawdown_pct", table.deepest, self.drawdown),
        ):
            picked = np.flatnonzero(rows & (figures[sidx] != values))  # a figure that stays (a drawdown back at 0) is not written
            if len(picked):
                figures[sidx[picked]] = values[picked]
                _set(states, picked.tolist(), name, values[picked].tolist())
        table.last[sidx] = self.price
        deque(map(setattr, states, repeat("last_price"), self.price.tolist()), maxlen=0)
        verdicts = self.verdicts
        verdicts.change = self.change
        verdicts.seal()
        return list(map(CheckResult, self.tickers, repeat(None), repeat(None), states, repeat(verdicts), range(self.n)))


def _set(objects: list[TickerState], rows: list[int], name: str, values: Iterable[object]) -> None:
    """Set one attribute of the objects of these rows."""
    deque(map(setattr, map(objects.__getitem__, rows), repeat(name), values), maxlen=0)


class _Verdicts:
    """A check's verdicts in columns: what fired (by stage, each grouped by quote row in firing
    order) and the armed changes (in the order made), turned into each quote's `Firing`s and
    armed-change dict when the first result asks (all quotes at once)."""

    def __init__(self, quotes: Sequence[Quote]) -> None:
        self.quotes = quotes
        self.n = len(quotes)
        self.firing_stages: list[tuple[_Ladder, int, list[Rule], I64, I64, F64, I64, int, str]] = []
        self.changes: list[tuple[I64, I64, bool]] = []
        self.first: dict[int, dict[int, bool | None]] = {}  # per row: changes made before the arrays' (waiting, baselines)
        self.change: F64 = np.empty(0)
        self.up: Flags = np.empty(0, np.bool_)
        self.peak: F64 = np.empty(0)
        self.drawdown: F64 = np.empty(0)
        self.fired_count: list[int] = []
        self.changed_count: list[int] = []
        self.built_firings: list[list[Firing]] | None = None
        self.built_changes: list[dict[int, bool | None]] | None = None

    def first_changes(self, row: int) -> dict[int, bool | None]:
        return self.first.setdefault(row, {})

    def changed(self, rows: I64, ids: I64, armed: bool) -> None:
        if len(rows):
            self.changes.append((rows, ids, armed))

    def fired(self, ladder: _Ladder, slots: I64, rows: I64, stage: int, direction: str) -> None:
        if len(slots):
            self.firing_stages.append((ladder, ladder.generation, ladder.rules, slots, rows, ladder.thr[slots], ladder.ids[slots], stage, direction))

    def seal(self) -> None:
        """Count each row's firings and changes (a row without either needs nothing built)."""
        self._count_firings()
        changed = [rows for rows, _, _ in self.changes]
        self.changed_count = np.bincount(np.concatenate(changed), minlength=self.n).tolist() if changed else [0] * self.n

    def _count_firings(self) -> None:
        fired = [stage[4] for stage in self.firing_stages]  # their rows
        self.fired_count = np.bincount(np.concatenate(fired), minlength=self.n).tolist() if fired else [0] * self.n

    # -- the DeferredVerdicts port ---------------------------------------------------

    def firings_of(self, row: int) -> list[Firing]:
        if self.built_firings is None:
            if not self.fired_count[row]:
                return []
            with collector_paused():
                self.built_firings = self._firings()
        return self.built_firings[row]

    def armed_changes_of(self, row: int) -> dict[int, bool | None]:
        if self.built_changes is None:
            if not self.changed_count[row]:
                first = self.first.get(row)
                return {} if first is None else dict(first)
            with collector_paused():  # thousands of dicts, no cycles
                self.built_changes = self._build_changes()
        return self.built_changes[row]

    def merged_armed_changes(self, rows: Sequence[int]) -> dict[int, bool | None]:
        if self.built_changes is not None or any(map(self.first.get, rows)):  # (a row's first changes come before its arrays')
            merged: dict[int, bool | None] = {}
            for row in rows:
                merged.update(self.armed_changes_of(row))
            return merged
        if not self.changes:
            return {}
        in_rows = np.zeros(self.n, np.bool_)
        in_rows[np.fromiter(rows, np.int64, len(rows))] = True
        changed_rows = np.concatenate([changed for changed, _, _ in self.changes])
        order = np.argsort(changed_rows, kind="stable")  # in row order, each row's in the order made (as `_build_changes`)
        order = order[in_rows[changed_rows[order]]]
        ids = np.concatenate([ids for _, ids, _ in self.changes])[order].tolist()
        values = np.concatenate([np.full(len(r), v) for r, _, v in self.changes])[order].tolist()
        return dict(zip(ids, values, strict=True))

    def hold(self, held: Callable[[int], bool], rows: Collection[int]) -> int:
        if self.built_firings is not None:
            return _hold_built(self.built_firings, held, rows)
        in_rows = np.zeros(self.n, np.bool_)
        in_rows[np.fromiter(rows, np.int64, len(rows))] = True
        dropped = 0
        stages = []
        for ladder, generation, rules, slots, fired_rows, thresholds, ids, stage, direction in self.firing_stages:
            drop = np.fromiter(map(held, ids.tolist()), np.bool_, len(ids)) & in_rows[fired_rows]
            if drop.any():
                keep = ~drop
                dropped += len(ids) - int(keep.sum())
                slots, fired_rows, thresholds, ids = slots[keep], fired_rows[keep], thresholds[keep], ids[keep]
            if len(slots):
                stages.append((ladder, generation, rules, slots, fired_rows, thresholds, ids, stage, direction))
        if dropped:
            self.firing_stages = stages
            self._count_firings()
        return dropped

    def _firings(self) -> list[list[Firing]]:
        """Every row's firings: its price rules', then its moves', then its drawdowns' (the
        stages in that order, each row's in firing order)."""
        out: list[list[Firing]] = [[] for _ in range(self.n)]
        quotes = self.quotes
        change = [None if c != c else c for c in self.change.tolist()]
        went_up = self.up.tolist()
        peaks, drawdowns = self.peak.tolist(), self.drawdown.tolist()
        cross, member, watch = RuleKind.CROSS, RuleSource.MEMBER, RuleSource.WATCH
        analyst, daily, selloff, drawdown_kind = AlertKind.ANALYST_LEVEL, AlertKind.DAILY_MOVE, AlertKind.SELLOFF, AlertKind.DRAWDOWN
        tickers = list(map(_TICKER, quotes))
        ats, prices, prev_closes = list(map(_AT, quotes)), list(map(_PRICE, quotes)), list(map(_PREV_CLOSE, quotes))
        for ladder, generation, rules, slots, rows, thresholds, ids, stage, direction in self.firing_stages:
            fix_armed = _armed_now(ladder, generation, rules, slots)
            fired = zip(map(rules.__getitem__, slots.tolist()), rows.tolist(), thresholds.tolist(), ids.tolist(), strict=True)
            if stage == _PRICE_STAGE:
                plain = AlertKind.PRICE_ABOVE if direction == "up" else AlertKind.PRICE_BELOW
                for rule, row, threshold, rule_id in fired:
                    rule.armed = False
                    level = rule.level_name
                    out[row].append(Firing(rule, Alert(
                        analyst if rule.kind is cross else plain, tickers[row], ats[row], prices[row], change[row], prev_closes[row],
                        threshold, level.value if level else None, None, direction, None, None, rule_id, rule.note,
                        rule.owner if rule.source is member else None, {}, [],
                    )))
            elif stage == _MOVE_STAGE:
                for rule, row, threshold, rule_id in fired:
                    rule.armed = False
                    out[row].append(Firing(rule, Alert(
                        selloff if rule.source is watch else daily, tickers[row], ats[row], prices[row], change[row], prev_closes[row],
                        None, None, threshold, "up" if went_up[row] else "down", None, None, rule_id, None,
                        rule.owner if rule.source is member else None, {}, [],
                    )))
            else:
                for rule, row, threshold, rule_id in fired:
                    rule.armed = False
                    out[row].append(Firing(rule, Alert(
                        drawdown_kind, tickers[row], ats[row], prices[row], change[row], prev_closes[row], None, None,
                        threshold, "down", peaks[row], drawdowns[row], rule_id, None,
                        rule.owner if rule.source is member else None, {}, [],
                    )))
            fix_armed()
        return out

    def _build_changes(self) -> list[dict[int, bool | None]]:
        """Each row's armed changes, later ones overriding earlier ones as in the reference."""
        first = self.first
        out: list[dict[int, bool | None]] = [dict(first[row]) if row in first else {} for row in range(self.n)]
        if not self.changes:
            return out
        rows = np.concatenate([rows for rows, _, _ in self.changes])
        order = np.argsort(rows, kind="stable")
        ids = np.concatenate([ids for _, ids, _ in self.changes])[order].tolist()
        values = np.concatenate([np.full(len(r), v) for r, _, v in self.changes])[order].tolist()
        bounds = np.searchsorted(rows[order], np.arange(self.n + 1)).tolist()
        for row in compress(range(self.n), self.changed_count):
            start, stop = bounds[row], bounds[row + 1]
            out[row].update(zip(ids[start:stop], values[start:stop], strict=True))
        return out


def _hold_built(built: list[list[Firing]], held: Callable[[int], bool], rows: Collection[int]) -> int:
    """`_Verdicts.hold` once the firings are built: each row's list filtered in place."""
    dropped = 0
    for row in rows:
        firings = built[row]
        kept = [firing for firing in firings if not held(firing.rule.id)]
        dropped += len(firings) - len(kept)
        firings[:] = kept
    return dropped


def _armed_now(ladder: _Ladder, generation: int, rules: list[Rule], slots: I64) -> Callable[[], None]:
    """The fired rules' objects are marked fired as their alerts are built; a check since (the
    same ticker again in one batch, or a later check) may have re-armed some, or removed them.
    Returns what writes, after the build, the flag the arrays hold now (a removed rule's object
    keeps the flag it had)."""
    if generation == ladder.generation:
        codes = ladder.armed[slots]
    else:  # the ladder was sorted again: find the rules by id
        ids = [rules[slot].id for slot in slots.tolist()]
        size = ladder.size
        found = np.flatnonzero(np.isin(ladder.ids[:size], ids) & (ladder.armed[:size] != DEAD))
        code_of = dict(zip(ladder.ids[found].tolist(), ladder.armed[found].tolist(), strict=True))
        codes = np.fromiter((code_of.get(rule_id, DEAD) for rule_id in ids), np.int8, len(ids))
    changed = [(rules[int(slots[k])], int(codes[k])) for k in np.flatnonzero(codes != FIRED).tolist()]
    kept = [(rule, rule.armed) for rule, code in changed if code == DEAD]

    def write() -> None:
        for rule, code in changed:
            if code != DEAD:
                rule.armed = _armed_value(code)
        for rule, armed in kept:
            rule.armed = armed

    return write
