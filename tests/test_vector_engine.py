"""The numpy engine (`bot/vector/`) against the reference engine (`bot/core/engine.py`): the same
verdicts (firings with their alerts, armed changes, ticker state) and the same rules afterwards,
on randomized rules and prices that hit every edge: thresholds on the price grid (crossings that
land exactly on a level), the re-arm band, snoozes, rules that saw no price yet, moves and
drawdowns, new sessions, new peaks, rules added, removed and replaced between checks."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.engine import CheckResult, RuleEngine
from bot.core.market import Quote
from bot.core.models import ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef
from bot.vector import VectorEngine

T0 = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
DAY = date(2025, 1, 27)
OWNER, CHAT = UserRef("console", "alice", "Alice"), ChatRef("console", "c1")


def random_rule(rng: random.Random, rule_id: int, tickers: list[str]) -> Rule:
    kind = rng.choice([RuleKind.ABOVE, RuleKind.BELOW, RuleKind.CROSS, RuleKind.MOVE, RuleKind.DRAWDOWN])
    if kind in (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.CROSS):
        threshold = rng.choice([round(90 + 0.5 * k, 2) for k in range(41)] + [0.0])  # on the price grid
    else:
        threshold = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0])
    source = rng.choice([RuleSource.MEMBER, RuleSource.MEMBER, RuleSource.WATCH, RuleSource.ANALYST])
    direction = rng.choice(list(Direction)) if kind in (RuleKind.MOVE, RuleKind.CROSS) else Direction.DOWN
    snoozed = rng.random() < 0.15
    return Rule(
        id=rule_id, ticker=rng.choice(tickers), kind=kind, threshold=threshold, source=source, direction=direction,
        owner=OWNER if source is RuleSource.MEMBER else None, chat=CHAT, note=rng.choice([None, "why"]),
        level_name=rng.choice(list(LevelName)) if kind is RuleKind.CROSS else None,
        armed=rng.choice([True, True, True, False, None]),
        snoozed_until=(T0 + timedelta(hours=rng.choice([-1, 5, 30]))) if snoozed else None,
        met_session=rng.choice([None, None, DAY, DAY + timedelta(days=1)]) if kind is RuleKind.MOVE else None,
    )


def same(reference: list[CheckResult], vector: list[CheckResult]) -> None:
    assert [r.ticker for r in vector] == [r.ticker for r in reference]
    for ref, vec in zip(reference, vector, strict=True):
        assert vec.firings == ref.firings, ref.ticker
        assert vec.armed_changes == ref.armed_changes, ref.ticker
        assert vec.state == ref.state, ref.ticker


def same_index(reference: RuleEngine, vector: VectorEngine, tickers: list[str]) -> None:
    assert vector.tickers() == reference.tickers()
    assert vector.rule_count() == reference.rule_count()
    for ticker in tickers:
        assert sorted(vector.rules_of(ticker), key=lambda r: r.id) == sorted(reference.rules_of(ticker), key=lambda r: r.id)
        assert vector.state(ticker) == reference.state(ticker)
        assert vector.needs_peak(ticker) == reference.needs_peak(ticker)


@pytest.mark.parametrize("seed", range(12))
def test_the_numpy_engine_gives_the_reference_verdicts(seed: int) -> None:
    rng = random.Random(seed)
    tickers = [f"T{i}" for i in range(rng.randint(1, 6))]
    band = rng.choice([0.0, 0.5, 1.0, 2.0])
    reference, vector = RuleEngine(rearm_band_pct=band), VectorEngine(rearm_band_pct=band)
    rules = [random_rule(rng, i, tickers) for i in range(1, rng.randint(20, 300))]
    states = {t: TickerState(t, last_price=100.0, session=DAY, peak=rng.choice([None, 105.0, 110.0])) for t in tickers if rng.random() < 0.5}
    reference.load(copy.deepcopy(rules), copy.deepcopy(states))
    vector.load(copy.deepcopy(rules), copy.deepcopy(states))
    prices = dict.fromkeys(tickers, 100.0)
    session, next_id = DAY, len(rules) + 1
    for step in range(60):
        if rng.random() < 0.2:
            session += timedelta(days=1)
        moving = [t for t in tickers if rng.random() < 0.8]
        quotes = []
        for ticker in moving:
            prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-8, 8)))  # on the grid
            prev_close = rng.choice([100.0, 100.0, 98.0, None, 0.0])
            quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=prev_close, session=session, at=T0 + timedelta(minutes=step)))
        if quotes and rng.random() < 0.1:  # the same ticker twice in one batch: taken in order
            again = rng.choice(quotes)
            quotes.append(Quote(ticker=again.ticker, price=min(110.0, again.price + 1.0), prev_close=again.prev_close, session=session, at=again.at))
        now = T0 + timedelta(hours=rng.choice([0, 10, 40]))
        same([reference.evaluate(q, now=now) for q in quotes], vector.evaluate_many(quotes, now=now))
        same_index(reference, vector, tickers)
        change = rng.random()
        if change < 0.25:  # a new rule, armed from a quote or waiting for its first price
            new = random_rule(rng, next_id, tickers)
            next_id += 1
            quote = Quote(ticker=new.ticker, price=prices[new.ticker], prev_close=100.0, session=session, at=T0)
            twin = copy.deepcopy(new)
            if rng.random() < 0.7:
                assert reference.prepare(new, quote) == vector.prepare(twin, quote)
            reference.add(new)
            vector.add(twin)
        elif change < 0.35:
            victim = rng.choice(rules).id
            assert reference.remove(victim) == vector.remove(victim)
        elif change < 0.4:
            ticker = rng.choice(tickers)
            fresh = [random_rule(rng, next_id + k, [ticker]) for k in range(rng.randint(0, 5))]
            next_id += len(fresh)
            state = copy.deepcopy(reference.state(ticker))
            reference.replace_ticker(ticker, copy.deepcopy(fresh), state)
            vector.replace_ticker(ticker, copy.deepcopy(fresh), copy.deepcopy(state))
        elif change < 0.45:
            ticker = rng.choice(tickers)
            quote = Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=session, at=T0)
            ref, vec = reference.rebase(quote), vector.rebase(quote)
            assert (vec.armed_changes, vec.state) == (ref.armed_changes, ref.state)
        elif change < 0.5:
            ticker = rng.choice(tickers)
            reference.seed_peak(ticker, 104.0)
            vector.seed_peak(ticker, 104.0)
        same_index(reference, vector, tickers)


def test_a_big_index_is_checked_in_one_pass_with_the_same_verdicts() -> None:
    """Enough tickers that a check scans whole ladders, and enough later adds that they are sorted again."""
    rng = random.Random(99)
    tickers = [f"T{i:03d}" for i in range(60)]
    rules = [random_rule(rng, i, tickers) for i in range(1, 3000)]
    reference, vector = RuleEngine(), VectorEngine()
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    for step in range(30):
        quotes = []
        for ticker in tickers:
            prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-6, 6)))
            quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=DAY + timedelta(days=step // 3), at=T0))
        same([reference.evaluate(q, now=T0) for q in quotes], vector.evaluate_many(quotes, now=T0))
        for k in range(40):
            new = random_rule(rng, 10_000 + 40 * step + k, tickers)
            reference.add(copy.deepcopy(new))
            vector.add(new)
        for victim in rng.sample(range(1, 10_000 + 40 * step + 40), 25):  # dead slots, in the sorted part and in the tail
            assert reference.remove(victim) == vector.remove(victim)
    same_index(reference, vector, tickers)


def test_checks_of_a_few_tickers_among_many_give_the_reference_verdicts() -> None:
    """A check of a few tickers looks at their runs (and the tail) only: new sessions re-arm
    their moves and new peaks their drawdowns, and no other ticker's."""
    rng = random.Random(11)
    tickers = [f"T{i:02d}" for i in range(80)]
    rules = [random_rule(rng, i, tickers) for i in range(1, 4000)]
    reference, vector = RuleEngine(), VectorEngine()
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    for step in range(300):
        quotes = []
        for ticker in rng.sample(tickers, rng.randint(1, 4)):
            prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-8, 8)))
            quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=DAY + timedelta(days=step // 30), at=T0))
        same([reference.evaluate(q, now=T0) for q in quotes], vector.evaluate_many(quotes, now=T0))
        if step % 3 == 0:
            new = random_rule(rng, 10_000 + step, tickers)
            reference.add(copy.deepcopy(new))
            vector.add(new)
    same_index(reference, vector, tickers)


def test_results_read_after_later_checks_are_what_the_reference_said() -> None:
    """A result's firings and armed changes are built when first read: read only after later
    checks, removals, replaced tickers and re-sorted ladders, they are still the reference's
    (its alerts as at their check, its rules' armed flags as they are now)."""
    rng = random.Random(5)
    tickers = [f"T{i}" for i in range(5)]
    rules = [random_rule(rng, i, tickers) for i in range(1, 600)]
    reference, vector = RuleEngine(), VectorEngine()
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    expected: list[CheckResult] = []
    unread: list[CheckResult] = []
    next_id = 1000
    for step in range(40):
        quotes = []
        for ticker in tickers:
            prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-8, 8)))
            quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=DAY + timedelta(days=step // 4), at=T0 + timedelta(minutes=step)))
        expected += [reference.evaluate(q, now=T0) for q in quotes]
        unread += vector.evaluate_many(quotes, now=T0)
        for _ in range(30):  # enough new rules that the ladders are sorted again
            new = random_rule(rng, next_id, tickers)
            next_id += 1
            reference.add(copy.deepcopy(new))
            vector.add(new)
        for victim in rng.sample(range(1, next_id), 10):
            assert reference.remove(victim) == vector.remove(victim)
        if step % 10 == 9:
            ticker = rng.choice(tickers)
            fresh = [random_rule(rng, next_id + k, [ticker]) for k in range(3)]
            next_id += 3
            state = copy.deepcopy(reference.state(ticker))
            reference.replace_ticker(ticker, copy.deepcopy(fresh), state)
            vector.replace_ticker(ticker, copy.deepcopy(fresh), copy.deepcopy(state))
    assert sum(len(r.firings) for r in expected) > 100
    same(expected, unread)
    same_index(reference, vector, tickers)


def test_a_snooze_set_through_the_engine_holds_from_the_next_check_and_a_wake_lifts_it() -> None:
    """`/snooze` reaches the index through `snooze`: the numpy engine, which keeps a flag per
    rule, quiets the rule as the reference does, and wakes it."""
    rules = [Rule(id=i, ticker="T0", kind=RuleKind.ABOVE, threshold=100.0 + i, source=RuleSource.MEMBER, owner=OWNER, chat=CHAT, armed=True)
             for i in range(1, 6)]
    reference, vector = RuleEngine(), VectorEngine()
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})

    def check(price: float, minutes: int) -> list[int]:
        quote = Quote(ticker="T0", price=price, prev_close=100.0, session=DAY, at=T0 + timedelta(minutes=minutes))
        now = T0 + timedelta(minutes=minutes)
        ref, vec = [reference.evaluate(quote, now=now)], vector.evaluate_many([quote], now=now)
        same(ref, vec)
        return [f.rule.id for f in vec[0].firings]

    def snooze(until: datetime | None) -> None:
        for engine in (reference, vector):
            for rule_id in (2, 4):
                engine.snooze(rule_id, until)

    check(100.0, 0)
    snooze(T0 + timedelta(hours=1))
    assert check(106.0, 1) == [1, 3, 5]  # 2 and 4 crossed while snoozed: disarmed, not told
    assert check(90.0, 2) == []
    snooze(None)
    assert check(106.0, 3) == [1, 2, 3, 4, 5]


def test_a_result_is_a_plain_list_and_dict_to_its_readers() -> None:
    """Readers change a result in place (the cooldown replaces the firings, indicator rules add
    theirs and their armed changes): the numpy engine's results allow it, and compare as values."""
    rules = [Rule(id=i, ticker="T0", kind=RuleKind.ABOVE, threshold=100.0 + i, source=RuleSource.MEMBER, owner=OWNER, chat=CHAT, armed=True)
             for i in range(1, 4)]
    vector = VectorEngine()
    vector.load(rules, {})
    vector.evaluate_many([Quote(ticker="T0", price=100.0, prev_close=100.0, session=DAY, at=T0)], now=T0)
    [result] = vector.evaluate_many([Quote(ticker="T0", price=102.5, prev_close=100.0, session=DAY, at=T0)], now=T0)
    assert isinstance(result.firings, list) and isinstance(result.armed_changes, dict)
    assert [f.rule.id for f in result.firings] == [1, 2] and result.armed_changes == {1: False, 2: False}
    result.armed_changes[99] = True
    result.firings.append(result.firings[0])
    assert len(result.firings) == 3 and result.armed_changes[99] is True
    result.firings = []
    assert result.firings == [] and result == CheckResult("T0", [], {1: False, 2: False, 99: True}, result.state)


def test_the_bisection_of_many_windows_at_once_finds_what_searchsorted_finds() -> None:
    """`_Ladder.bisect_right`: for each query, the first slot of its ticker's run whose threshold
    exceeds the bound, runs of every length (none, one, hundreds) and thresholds repeated."""
    import numpy as np

    from bot.vector.engine import _Ladder

    rng = random.Random(3)
    n_tickers = 40
    rules, tix = [], []
    for t in range(n_tickers):
        for _ in range(rng.choice([0, 1, 2, 7, 64, 300])):
            rules.append(Rule(id=len(rules) + 1, ticker=f"T{t}", kind=RuleKind.ABOVE, threshold=rng.choice([1.0, 2.0, 2.5, 3.0, 7.25]) * rng.randint(1, 3),
                              source=RuleSource.MEMBER, owner=OWNER, chat=CHAT, armed=True))
            tix.append(t)
    ladder = _Ladder()
    ladder.fill(rules, tix, [1] * len(rules), [0] * len(rules), [0] * len(rules))
    queries = np.array([rng.randrange(n_tickers) for _ in range(500)], np.int64)
    bounds = np.array([rng.choice([0.0, 1.0, 2.0, 2.5, 4.9, 7.25, 21.75, 30.0]) for _ in range(500)])
    starts, stops = ladder.run_of(queries)
    found = ladder.bisect_right(starts, stops, bounds)
    for t, bound, start, stop, got in zip(queries.tolist(), bounds.tolist(), starts.tolist(), stops.tolist(), found.tolist(), strict=True):
        run = ladder.thr[start:stop]
        assert (ladder.tix[start:stop] == t).all()
        assert got == start + int(np.searchsorted(run, bound, side="right"))
