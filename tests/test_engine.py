"""The rule engine on hand-made quotes: crossings, re-arming, baselines, moves and drawdowns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.engine import RuleEngine
from bot.core.market import Quote
from bot.core.messages import AlertKind
from bot.core.models import ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef

OWNER = UserRef("console", "alice", "Alice")
CHAT = ChatRef("console", "chat-1")
T0 = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
DAY1, DAY2, DAY3 = date(2025, 1, 27), date(2025, 1, 28), date(2025, 1, 29)

_ids = iter(range(1, 10_000))


def rule(kind: RuleKind, threshold: float, *, direction: Direction = Direction.EITHER, armed: bool | None = True, ticker: str = "NVDA", source: RuleSource = RuleSource.MEMBER) -> Rule:
    return Rule(id=next(_ids), ticker=ticker, kind=kind, threshold=threshold, source=source, direction=direction, owner=OWNER, chat=CHAT, armed=armed)


def quote(price: float, *, prev: float | None = 100.0, session: date = DAY1, ticker: str = "NVDA") -> Quote:
    return Quote(ticker=ticker, price=price, prev_close=prev, session=session, at=T0)


def fired(engine: RuleEngine, price: float, **kw: object) -> list[int]:
    result = engine.evaluate(quote(price, **kw), now=T0)  # type: ignore[arg-type]
    return [f.rule.id for f in result.firings]


def test_above_fires_on_the_crossing_not_while_it_stays_above() -> None:
    engine = RuleEngine(rearm_band_pct=1.0)
    above = rule(RuleKind.ABOVE, 110)
    engine.add(above)
    assert fired(engine, 105) == []  # first price: a baseline
    assert fired(engine, 111) == [above.id]
    assert fired(engine, 115) == []
    assert fired(engine, 109.5) == []  # back under the level but inside the 1 % band: still disarmed
    assert fired(engine, 111) == []
    assert fired(engine, 108.8) == []  # 110 * 0.99 = 108.9: re-armed now
    assert fired(engine, 110) == [above.id]


def test_below_mirrors_above_with_the_band() -> None:
    engine = RuleEngine(rearm_band_pct=2.0)
    below = rule(RuleKind.BELOW, 100)
    engine.add(below)
    fired(engine, 105)
    assert fired(engine, 99) == [below.id]
    assert fired(engine, 101.5) == []  # inside the 2 % band
    assert fired(engine, 98) == []
    assert fired(engine, 102.1) == []  # re-arms
    assert fired(engine, 100) == [below.id]


def test_a_gap_through_many_levels_fires_each_once_in_price_order() -> None:
    engine = RuleEngine()
    rules = [rule(RuleKind.BELOW, level) for level in (130, 125, 120, 140)]
    for r in rules:
        engine.add(r)
    fired(engine, 142.62)
    hits = fired(engine, 118.42)
    assert sorted(hits) == sorted(r.id for r in rules if r.threshold >= 118.42 and r.threshold < 142.62)
    assert fired(engine, 117) == []


def test_first_check_sets_a_baseline_without_firing() -> None:
    engine = RuleEngine()
    pending = rule(RuleKind.BELOW, 120, armed=None)  # created with no price known
    engine.add(pending)
    result = engine.evaluate(quote(118), now=T0)  # already below at the first check
    assert result.firings == []
    assert result.armed_changes[pending.id] is False  # waits for the price to come back and cross again
    assert fired(engine, 125) == []
    assert fired(engine, 119) == [pending.id]


def test_a_baseline_that_does_not_hold_arms_the_rule() -> None:
    engine = RuleEngine()
    pending = rule(RuleKind.ABOVE, 120, armed=None)
    engine.add(pending)
    assert engine.evaluate(quote(110), now=T0).armed_changes[pending.id] is True
    assert fired(engine, 121) == [pending.id]


def test_daily_move_fires_once_per_session_and_again_the_next() -> None:
    engine = RuleEngine()
    move = rule(RuleKind.MOVE, 10)
    engine.add(move)
    assert fired(engine, 95) == []
    assert fired(engine, 88) == [move.id]  # -12 %
    assert fired(engine, 83) == []  # deeper, same session
    assert fired(engine, 112, prev=100.0) == []  # +12 % later the same session: still once
    assert fired(engine, 89, prev=100.0, session=DAY2) == [move.id]


@pytest.mark.parametrize(("direction", "price", "fires"), [("up", 111, True), ("up", 89, False), ("down", 89, True), ("down", 111, False), ("either", 111, True), ("either", 89, True)])
def test_move_directions(direction: str, price: float, fires: bool) -> None:
    engine = RuleEngine()
    move = rule(RuleKind.MOVE, 10, direction=Direction(direction))
    engine.add(move)
    hits = fired(engine, price)
    assert (move.id in hits) is fires


def test_move_alert_carries_the_figures() -> None:
    engine = RuleEngine()
    move = rule(RuleKind.MOVE, 10)
    engine.add(move)
    result = engine.evaluate(quote(118.42, prev=142.62), now=T0)
    [firing] = result.firings
    assert firing.alert.kind is AlertKind.DAILY_MOVE
    assert firing.alert.change_pct == pytest.approx(-16.97, abs=0.01)
    assert firing.alert.direction == "down"
    assert firing.alert.mention == OWNER


def test_no_previous_close_means_no_move_alert() -> None:
    engine = RuleEngine()
    engine.add(rule(RuleKind.MOVE, 1))
    assert fired(engine, 50, prev=None) == []


def test_drawdown_fires_once_per_peak() -> None:
    engine = RuleEngine()
    draw = rule(RuleKind.DRAWDOWN, 20, direction=Direction.DOWN)
    engine.add(draw)
    engine.seed_peak("NVDA", 150.0)
    assert fired(engine, 130) == []  # 13.3 %
    assert fired(engine, 118, session=DAY2) == [draw.id]  # 21.3 %
    assert fired(engine, 110, session=DAY3) == []  # deeper, same peak
    assert fired(engine, 151, session=date(2025, 1, 30)) == []  # a new peak re-arms
    assert fired(engine, 120, session=date(2025, 1, 31)) == [draw.id]


def test_watch_rules_make_selloff_alerts_without_a_mention() -> None:
    engine = RuleEngine()
    watch = rule(RuleKind.MOVE, 5, direction=Direction.DOWN, source=RuleSource.WATCH)
    engine.add(watch)
    [firing] = engine.evaluate(quote(83), now=T0).firings
    assert firing.alert.kind is AlertKind.SELLOFF
    assert firing.alert.mention is None


def test_snoozed_rule_stays_quiet_and_does_not_fire_late() -> None:
    engine = RuleEngine()
    below = rule(RuleKind.BELOW, 100)
    below.snoozed_until = T0 + timedelta(days=1)
    engine.add(below)
    fired(engine, 105)
    assert fired(engine, 95) == []
    assert below.armed is False  # the crossing was consumed while snoozed


def test_rules_are_indexed_per_ticker() -> None:
    engine = RuleEngine()
    nvda = rule(RuleKind.BELOW, 100, ticker="NVDA")
    avgo = rule(RuleKind.BELOW, 100, ticker="AVGO")
    engine.add(nvda)
    engine.add(avgo)
    engine.evaluate(quote(105, ticker="AVGO"), now=T0)
    result = engine.evaluate(quote(95, ticker="AVGO"), now=T0)
    assert [f.rule.id for f in result.firings] == [avgo.id]
    assert engine.tickers() == ["AVGO", "NVDA"]


def test_remove_takes_a_rule_out_of_every_index() -> None:
    engine = RuleEngine()
    below = rule(RuleKind.BELOW, 100)
    engine.add(below)
    fired(engine, 105)
    assert engine.remove(below.id) is below
    assert fired(engine, 95) == []
    assert engine.rule_count() == 0


def test_analyst_level_fires_in_the_direction_it_was_set() -> None:
    engine = RuleEngine()
    exit_level = rule(RuleKind.CROSS, 140, direction=Direction.UP, source=RuleSource.ANALYST)
    engine.add(exit_level)
    fired(engine, 130)
    [firing] = engine.evaluate(quote(141), now=T0).firings
    assert firing.alert.kind is AlertKind.ANALYST_LEVEL
    assert firing.alert.direction == "up"
    assert firing.alert.mention is None


def test_a_new_ticker_takes_the_creation_price_as_baseline_so_the_first_check_sees_a_crossing() -> None:
    engine = RuleEngine()
    below = rule(RuleKind.BELOW, 130)
    assert engine.prepare(below, quote(142.62, session=DAY1)) is None  # armed: 142.62 is above
    engine.add(below)
    assert fired(engine, 118.42, session=DAY2) == [below.id]  # the first check ever, after a gap down


def test_a_move_rule_set_after_the_days_extreme_waits_for_the_next_session() -> None:
    engine = RuleEngine()
    engine.add(rule(RuleKind.MOVE, 50))  # some other rule, so the ticker is checked
    fired(engine, 88)  # -12 % at the open
    fired(engine, 97)  # recovered to -3 %
    late = rule(RuleKind.MOVE, 10)
    assert engine.prepare(late, quote(97)) == pytest.approx(-12)  # the session's largest fall already met it
    engine.add(late)
    assert fired(engine, 85) == []  # -15 % later the same session: said at creation, not now
    assert fired(engine, 89, session=DAY2) == [late.id]  # the next session


def test_a_move_rule_met_in_a_session_the_engine_has_not_started_stays_quiet_in_it() -> None:
    engine = RuleEngine()
    engine.add(rule(RuleKind.MOVE, 50))
    fired(engine, 99, session=DAY1)
    late = rule(RuleKind.MOVE, 10)
    assert engine.prepare(late, quote(85, session=DAY2)) == pytest.approx(-15)  # set mid-session, before DAY2's first check
    engine.add(late)
    assert fired(engine, 84, session=DAY2) == []
    assert fired(engine, 88, session=DAY3) == [late.id]


def test_a_drawdown_rule_set_after_the_deepest_point_waits_for_a_new_peak() -> None:
    engine = RuleEngine()
    engine.add(rule(RuleKind.DRAWDOWN, 90, direction=Direction.DOWN))
    engine.seed_peak("NVDA", 150.0)
    fired(engine, 120)  # 20 % below the peak
    fired(engine, 140)  # back to 6.7 %
    late = rule(RuleKind.DRAWDOWN, 15, direction=Direction.DOWN)
    assert engine.prepare(late, quote(140)) == pytest.approx(20.0)
    engine.add(late)
    assert fired(engine, 125, session=DAY2) == []  # 16.7 %, but 20 % was already reached from this peak
    fired(engine, 151, session=DAY3)  # a new peak
    assert fired(engine, 128, session=date(2025, 1, 30)) == [late.id]


# -- rules saved without a price (the market data was down): the same test at the first check


def test_a_move_rule_saved_without_a_price_after_the_move_waits_for_the_next_session() -> None:
    engine = RuleEngine()
    late = rule(RuleKind.MOVE, 10, armed=None)
    engine.add(late)
    result = engine.evaluate(quote(88), now=T0)  # the first price: the session is already 12 % down
    assert result.firings == [] and result.armed_changes[late.id] is False
    assert late.met_session == DAY1
    assert fired(engine, 85) == []  # deeper, the same session
    assert fired(engine, 89, session=DAY2) == [late.id]


def test_a_move_rule_saved_without_a_price_before_the_move_fires_on_it() -> None:
    engine = RuleEngine()
    early = rule(RuleKind.MOVE, 10, armed=None)
    engine.add(early)
    assert engine.evaluate(quote(97), now=T0).armed_changes[early.id] is True
    assert fired(engine, 89) == [early.id]


def test_a_drawdown_rule_saved_without_a_price_past_its_threshold_waits_for_a_new_peak() -> None:
    engine = RuleEngine()
    deep = rule(RuleKind.DRAWDOWN, 20, direction=Direction.DOWN, armed=None)
    engine.add(deep)
    engine.seed_peak("NVDA", 150.0)  # the price check seeds the peak before it evaluates
    result = engine.evaluate(quote(105), now=T0)  # 30 % below the peak when first seen
    assert result.firings == [] and result.armed_changes[deep.id] is False
    assert fired(engine, 100, session=DAY2) == []  # deeper, the same peak
    assert fired(engine, 151, session=DAY3) == []  # a new peak re-arms it
    assert fired(engine, 115, session=date(2025, 1, 30)) == [deep.id]


def test_a_drawdown_rule_saved_without_a_price_short_of_its_threshold_fires_when_reached() -> None:
    engine = RuleEngine()
    shallow = rule(RuleKind.DRAWDOWN, 20, direction=Direction.DOWN, armed=None)
    engine.add(shallow)
    engine.seed_peak("NVDA", 150.0)
    assert engine.evaluate(quote(130), now=T0).armed_changes[shallow.id] is True  # 13.3 %
    assert fired(engine, 119, session=DAY2) == [shallow.id]  # 20.7 %


def test_rules_loaded_without_a_price_take_their_baseline_at_the_first_check() -> None:
    """After a restart the rules come from storage (`load`), still waiting for a price."""
    engine = RuleEngine()
    below, move = rule(RuleKind.BELOW, 120, armed=None), rule(RuleKind.MOVE, 10, armed=None)
    engine.load([below, move], {})
    result = engine.evaluate(quote(88), now=T0)  # below 120 and 12 % down already
    assert result.firings == []
    assert (result.armed_changes[below.id], result.armed_changes[move.id]) == (False, False)
    assert fired(engine, 89, session=DAY2) == [move.id]  # the next session, a new move
