"""The cooldown drops held firings before the numpy engine builds them (`hold_firings`), and
indicator rules add theirs to a result without building the engine's (`add_firing`,
`set_armed`): the verdicts read afterwards are the reference engine's, less what was held."""

from __future__ import annotations

import copy
import logging
import random
from datetime import timedelta

import pytest

from bot.core.cooldown import Cooldown
from bot.core.engine import CheckResult, Firing, RuleEngine, hold_firings, merged_armed_changes
from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import Rule, RuleKind, RuleSource
from bot.vector import VectorEngine
from tests.test_vector_engine import CHAT, DAY, OWNER, T0, random_rule, same


def unbuilt(results: list[CheckResult]) -> bool:
    """No result's firings were built (the numpy engine's columns are untouched)."""
    return all(r._firings is None for r in results) and all(getattr(r._source, "built_firings", None) is None for r in results)


def moved(rng: random.Random, prices: dict[str, float], step: int) -> list[Quote]:
    """Each ticker's next quote: its price moved on the grid, a new session every five steps."""
    quotes = []
    for ticker in prices:
        prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-8, 8)))
        quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=DAY + timedelta(days=step // 5), at=T0 + timedelta(minutes=step)))
    return quotes


def without(results: list[CheckResult], held: set[int]) -> list[CheckResult]:
    return [CheckResult(r.ticker, [f for f in r.firings if f.rule.id not in held], r.armed_changes, r.state) for r in results]


@pytest.mark.parametrize("seed", range(6))
def test_held_firings_are_dropped_in_the_columns_and_the_rest_is_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    tickers = [f"T{i}" for i in range(4)]
    rules = [random_rule(rng, i, tickers) for i in range(1, 400)]
    reference, vector = RuleEngine(), VectorEngine()
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    dropped_in_columns = 0
    for step in range(30):
        quotes = moved(rng, prices, step)
        expected = [reference.evaluate(q, now=T0) for q in quotes]
        got = vector.evaluate_many(quotes, now=T0)
        held = {rule.id for rule in rules if rng.random() < 0.4}
        way = step % 3
        if way == 1:
            assert isinstance(got[0].firings, list)  # one result read first: every row is built, and held from the built lists
        elif way == 2:
            extra = Firing(rules[0], Alert(AlertKind.INDICATOR, "T0", T0, rule_id=rules[0].id))
            got[1].add_firing(extra)
            expected[1].firings.append(extra)
        fired = sum(len(r.firings) for r in expected)
        was_unbuilt = unbuilt(got)
        dropped = hold_firings(got, held.__contains__)
        if was_unbuilt:
            assert unbuilt(got)  # held before anything was built
            dropped_in_columns += dropped
        kept = without(expected, held)
        assert dropped == fired - sum(len(r.firings) for r in kept)
        same(kept, got)
    assert dropped_in_columns > 50


def test_indicator_verdicts_are_added_without_building_the_engines_and_override_its_armed_changes() -> None:
    rules = [Rule(id=i, ticker="T0", kind=RuleKind.ABOVE, threshold=100.0 + i, source=RuleSource.MEMBER, owner=OWNER, chat=CHAT, armed=True)
             for i in range(1, 4)]
    vector = VectorEngine()
    vector.load(rules, {})
    vector.evaluate_many([Quote(ticker="T0", price=100.0, prev_close=100.0, session=DAY, at=T0)], now=T0)
    [result] = vector.evaluate_many([Quote(ticker="T0", price=102.5, prev_close=100.0, session=DAY, at=T0)], now=T0)
    extra = Firing(rules[2], Alert(AlertKind.INDICATOR, "T0", T0, rule_id=3))
    result.add_firing(extra)
    result.set_armed(2, True)
    result.set_armed(7, None)
    assert unbuilt([result])
    assert [f.rule.id for f in result.firings] == [1, 2, 3] and result.firings[-1] is extra
    assert result.armed_changes == {1: False, 2: True, 7: None}
    result.add_firing(extra)  # once built, added in place
    result.set_armed(1, True)
    assert len(result.firings) == 4 and result.armed_changes[1] is True


def test_the_cooldown_holds_a_storm_in_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    rules = [Rule(id=i, ticker="T0", kind=RuleKind.ABOVE, threshold=100.0 + i / 100, source=RuleSource.MEMBER, owner=OWNER, chat=CHAT, armed=True)
             for i in range(1, 301)]
    vector = VectorEngine()
    vector.load(rules, {})
    vector.evaluate_many([Quote(ticker="T0", price=100.0, prev_close=100.0, session=DAY, at=T0)], now=T0)
    cooldown = Cooldown(minutes=30)
    cooldown.seed({i: T0 - timedelta(minutes=5) for i in range(1, 201)} | {250: T0 - timedelta(minutes=31)}, T0)
    results = vector.evaluate_many([Quote(ticker="T0", price=104.0, prev_close=100.0, session=DAY, at=T0)], now=T0)
    with caplog.at_level(logging.INFO, logger="bot.core.cooldown"):
        assert cooldown.admit_all(results, T0) == 200
    assert unbuilt(results)
    assert [f.rule.id for f in results[0].firings] == list(range(201, 301))  # 250's last alert is past the cooldown
    assert len(results[0].armed_changes) == 300  # the held rules are disarmed all the same
    [record] = [r for r in caplog.records if r.name == "bot.core.cooldown"]
    assert "200 alert(s)" in record.getMessage() and "#1, #2, #3, #4, #5, ..." in record.getMessage()
    assert cooldown.suppressed_total == 200


@pytest.mark.parametrize("seed", range(4))
def test_a_checks_armed_changes_merged_in_the_columns_are_each_results_in_turn(seed: int) -> None:
    """`merged_armed_changes` gives what updating one dict with each result's changes gives, the
    same ticker twice in a batch included, whether the results were read before or not."""
    rng = random.Random(seed)
    tickers = [f"T{i}" for i in range(5)]
    rules = [random_rule(rng, i, tickers) for i in range(1, 500)]
    vector = VectorEngine()
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    merged_in_columns = 0
    for step in range(25):
        quotes = moved(rng, prices, step)
        if step % 4 == 3:  # the same ticker twice (the engine then takes the quotes one at a time)
            again = rng.choice(quotes)
            quotes.append(Quote(ticker=again.ticker, price=min(110.0, again.price + 2.0), prev_close=100.0, session=again.session, at=again.at))
        got = vector.evaluate_many(quotes, now=T0)
        twins = [CheckResult(r.ticker, None, None, r.state, r._source, r._row) for r in got]  # the same columns, read after the merge
        if step % 3 == 1:
            got[2].set_armed(rules[0].id, None)  # an indicator's change on top of one result's
            twins[2].set_armed(rules[0].id, None)
        elif step % 3 == 2:
            assert isinstance(got[0].armed_changes, dict)  # one read first: the rows are built
        merged = merged_armed_changes(got)
        columns = got[0]._source.built_changes is None  # type: ignore[union-attr]  # merged without building a dict per row
        expected: dict[int, bool | None] = {}
        for result in twins:
            expected.update(result.armed_changes)
        assert merged == expected and list(merged.items()) == list(expected.items())
        assert sum(map(len, (r.armed_changes for r in got))) >= len(merged) > 0
        merged_in_columns += columns and len({id(r._source) for r in got}) == 1
    assert merged_in_columns >= 6, merged_in_columns
