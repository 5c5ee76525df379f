"""Alerts on indicators of the daily closes (issue 14, "More conditions"): the price crossing a
moving average, the RSI crossing a level, the change over several sessions.

The figures and the alerts expected are computed here, independently of `bot.core.indicators`,
straight from the real price files (../shared/data/prices), and compared with what the live
pipeline (`tickerbell replay`, the app wired as for a live run) says."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.core.engine import RuleEngine
from bot.core.indicators import Basis, IndicatorIndex
from bot.core.market import Quote
from bot.core.models import Direction, Rule, RuleKind, RuleSource
from bot.replay import run_replay
from bot.vector import VectorEngine
from tests.conftest import ALICE, DEMO_DATA, Harness, ny, real_data
from tests.test_vector_engine import CHAT, DAY, OWNER, T0, random_rule, same, same_index

LOOKBACK = 500  # the closes the bot computes from, at most (as documented in README)
BAND = 0.01  # the default re-arm band


def read_closes(folder: Path, ticker: str) -> list[tuple[date, float, float]]:
    """(day, open, close) of each row of a price file, oldest first."""
    with (folder / f"{ticker}.csv").open(newline="") as handle:
        rows = [(date.fromisoformat(r["Date"]), float(r["Open"]), float(r["Close"])) for r in csv.DictReader(handle) if r["Close"]]
    return sorted(rows)


# -- the figures, written out the long way ------------------------------------------------


def expected_sma(closes: list[float], n: int, price: float) -> float | None:
    window = [*closes[-LOOKBACK:], price][-n:]
    return sum(window) / n if len(window) == n else None


def expected_ema(closes: list[float], n: int, price: float) -> float | None:
    series = [*closes[-LOOKBACK:], price]
    if len(series) < n + 1:
        return None
    value = sum(series[:n]) / n
    k = 2 / (n + 1)
    for x in series[n:]:
        value = x * k + value * (1 - k)
    return value


def expected_rsi(closes: list[float], price: float, n: int = 14) -> float | None:
    series = [*closes[-LOOKBACK:], price]
    if len(series) < n + 2:
        return None
    ups = [max(series[i] - series[i - 1], 0) for i in range(1, len(series))]
    downs = [max(series[i - 1] - series[i], 0) for i in range(1, len(series))]
    up, down = sum(ups[:n]) / n, sum(downs[:n]) / n
    for i in range(n, len(ups)):
        up = (up * (n - 1) + ups[i]) / n
        down = (down * (n - 1) + downs[i]) / n
    if down == 0:
        return 100.0 if up > 0 else 50.0
    return 100 * up / (up + down)  # the same as 100 - 100 / (1 + RS)


def expected_change(closes: list[float], sessions: int, price: float) -> float | None:
    return (price / closes[-sessions] - 1) * 100 if len(closes) >= sessions else None


def expected_fire_days(rows: list[tuple[date, float, float]], start: date, end: date, figure, fires, rearms) -> list[date]:
    """The days an edge-triggered alert set at `start`'s open fires, two checks a session (the
    open and the close, as the replay runs them): armed from the first figure, fires when its
    condition becomes true, re-arms once back past the band."""
    armed: bool | None = None
    days = []
    for index, (day, open_, close) in enumerate(rows):
        if not start <= day <= end:
            continue
        before = [c for _, _, c in rows[:index]]
        for price in (open_, close):
            value = figure(before, price)
            if value is None:
                continue
            if armed is None:
                armed = not fires(price, value)
            elif armed and fires(price, value):
                armed = False
                days.append(day)
            elif not armed and rearms(price, value):
                armed = True
    return days


def test_the_figures_match_an_independent_computation_on_real_closes() -> None:
    rows = read_closes(real_data(), "NVDA")
    checked = 0
    for index in range(30, len(rows), 37):
        day, open_, _ = rows[index]
        closes = [c for _, _, c in rows[:index]]
        basis = Basis.of(day, closes)
        for rule, want in (
            (Rule(0, "NVDA", RuleKind.MA, 0, RuleSource.MEMBER, Direction.DOWN, indicator="sma", period=20), expected_sma(closes, 20, open_)),
            (Rule(0, "NVDA", RuleKind.MA, 0, RuleSource.MEMBER, Direction.DOWN, indicator="sma", period=200), expected_sma(closes, 200, open_)),
            (Rule(0, "NVDA", RuleKind.MA, 0, RuleSource.MEMBER, Direction.UP, indicator="ema", period=20), expected_ema(closes, 20, open_)),
            (Rule(0, "NVDA", RuleKind.RSI, 30, RuleSource.MEMBER, Direction.DOWN, indicator="rsi", period=14), expected_rsi(closes, open_)),
            (Rule(0, "NVDA", RuleKind.CHANGE, 10, RuleSource.MEMBER, Direction.DOWN, period=5), expected_change(closes, 5, open_)),
        ):
            got = basis.value(rule, open_)
            if want is None:
                assert got is None, (day, rule.kind, rule.period)
            else:
                assert got == pytest.approx(want, rel=1e-9), (day, rule.kind, rule.period)
                checked += 1
    assert checked > 50


# -- through the live pipeline --------------------------------------------------------------

START, END = date(2024, 9, 3), date(2025, 6, 30)


async def replay_days(folder: Path, script: list[str]) -> dict[int, list[date]]:
    out = io.StringIO()
    await run_replay(Config(), data_dir=folder, start=START, end=END, script=script, jsonl=True, out=out, charts_dir=None)
    fired: dict[int, list[date]] = {}
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        assert record["kind"] == "indicator"
        fired.setdefault(int(record["rule_id"]), []).append(date.fromisoformat(str(record["at"])[:10]))
    return fired


async def test_the_new_conditions_replay_as_computed_from_the_real_closes() -> None:
    folder = real_data()
    rows = read_closes(folder, "NVDA")
    band_points = BAND * 100
    cases = [
        ("/alert NVDA below sma50", lambda c, p: expected_sma(c, 50, p), lambda p, v: p <= v, lambda p, v: p >= v * (1 + BAND)),
        ("/alert NVDA above sma200", lambda c, p: expected_sma(c, 200, p), lambda p, v: p >= v, lambda p, v: p <= v * (1 - BAND)),
        ("/alert NVDA above ema20", lambda c, p: expected_ema(c, 20, p), lambda p, v: p >= v, lambda p, v: p <= v * (1 - BAND)),
        ("/alert NVDA rsi below 35", lambda c, p: expected_rsi(c, p), lambda p, v: v <= 35, lambda p, v: v >= 35 + band_points),
        ("/alert NVDA rsi above 65", lambda c, p: expected_rsi(c, p), lambda p, v: v >= 65, lambda p, v: v <= 65 - band_points),
        ("/alert NVDA move -10 over 5d", lambda c, p: expected_change(c, 5, p), lambda p, v: v <= -10, lambda p, v: v >= -(10 - band_points)),
        ("/alert NVDA move 15 over 10d", lambda c, p: expected_change(c, 10, p), lambda p, v: abs(v) >= 15, lambda p, v: abs(v) <= 15 - band_points),
    ]
    fired = await replay_days(folder, [line for line, *_ in cases])
    total = 0
    for rule_id, (line, figure, fires, rearms) in enumerate(cases, start=1):
        want = expected_fire_days(rows, START, END, figure, fires, rearms)
        assert fired.get(rule_id, []) == want, line
        total += len(want)
    assert total >= 10  # the window really crosses these levels


async def test_a_replay_gives_what_the_live_checks_gave(make_harness) -> None:
    """The same alerts, checked one poll at a time through the app (as a live run), as the replay gives."""
    folder = real_data()
    script = ["/alert NVDA below sma50", "/alert NVDA rsi above 65", "/alert NVDA move -10 over 5d"]
    replayed = await replay_days(folder, script)
    chat = await make_harness(folder, ny(START, 9, 30), features=())
    for line in script:
        assert "Alert #" in await chat.say(line, user=ALICE)
    assert None not in [r.armed for r in await chat.app.storage.rules.all()]  # armed (or not) from the closes when set, not left waiting
    rows = [r for r in read_closes(folder, "NVDA") if START <= r[0] <= END]
    live: dict[int, list[date]] = {}
    for day, _, _ in rows:
        for moment in (ny(day, 9, 31), ny(day, 16, 5)):
            for _, alert in await chat.at(moment):
                assert alert.rule_id is not None
                live.setdefault(alert.rule_id, []).append(day)
    assert live == replayed
    assert sum(len(days) for days in live.values()) >= 3


# -- the two engines -------------------------------------------------------------------------


def random_indicator_rule(rng: random.Random, rule_id: int, tickers: list[str]) -> Rule:
    kind = rng.choice([RuleKind.MA, RuleKind.RSI, RuleKind.CHANGE])
    snoozed = rng.random() < 0.15
    common = {"id": rule_id, "ticker": rng.choice(tickers), "kind": kind, "source": RuleSource.MEMBER, "owner": OWNER, "chat": CHAT,
              "armed": rng.choice([True, True, False, None]), "snoozed_until": (T0 + timedelta(hours=rng.choice([-1, 5]))) if snoozed else None}
    if kind is RuleKind.MA:
        return Rule(threshold=0.0, direction=rng.choice([Direction.UP, Direction.DOWN]), indicator=rng.choice(["sma", "ema"]), period=rng.choice([2, 5, 10]), **common)
    if kind is RuleKind.RSI:
        return Rule(threshold=rng.choice([30.0, 50.0, 70.0]), direction=rng.choice([Direction.UP, Direction.DOWN]), indicator="rsi", period=14, **common)
    return Rule(threshold=rng.choice([1.0, 3.0, 5.0]), direction=rng.choice(list(Direction)), period=rng.choice([1, 3, 5]), **common)


@pytest.mark.parametrize("seed", range(8))
def test_both_engines_give_the_same_verdicts_with_indicator_rules(seed: int) -> None:
    rng = random.Random(1000 + seed)
    tickers = [f"T{i}" for i in range(rng.randint(1, 4))]
    band = rng.choice([0.0, 1.0, 2.0])
    reference = IndicatorIndex(RuleEngine(rearm_band_pct=band), rearm_band_pct=band)
    vector = IndicatorIndex(VectorEngine(rearm_band_pct=band), rearm_band_pct=band)
    rules = [rng.choice([random_rule, random_indicator_rule])(rng, i, tickers) for i in range(1, rng.randint(20, 120))]
    reference.load(copy.deepcopy(rules), {})
    vector.load(copy.deepcopy(rules), {})
    prices = dict.fromkeys(tickers, 100.0)
    history = {t: [100.0 + rng.uniform(-5, 5) for _ in range(rng.choice([3, 20, 40]))] for t in tickers}
    session, next_id = DAY, len(rules) + 1
    for step in range(60):
        if rng.random() < 0.2 or step == 0:
            if step:
                session += timedelta(days=1)
                for t in tickers:
                    history[t].append(prices[t])
            for index in (reference, vector):
                for t in tickers:
                    index.set_basis(t, Basis.of(session, history[t]))
        quotes = []
        for ticker in [t for t in tickers if rng.random() < 0.8]:
            prices[ticker] = min(110.0, max(90.0, prices[ticker] + 0.5 * rng.randint(-8, 8)))
            quotes.append(Quote(ticker=ticker, price=prices[ticker], prev_close=100.0, session=session, at=T0 + timedelta(minutes=step)))
        now = T0 + timedelta(hours=rng.choice([0, 10]))
        same([reference.evaluate(q, now=now) for q in quotes], vector.evaluate_many(quotes, now=now))
        same_index(reference, vector, tickers)  # type: ignore[arg-type]
        if rng.random() < 0.25:
            new = rng.choice([random_rule, random_indicator_rule])(rng, next_id, tickers)
            next_id += 1
            quote = Quote(ticker=new.ticker, price=prices[new.ticker], prev_close=100.0, session=session, at=T0)
            twin = copy.deepcopy(new)
            assert reference.prepare(new, quote) == vector.prepare(twin, quote)
            reference.add(new)
            vector.add(twin)
        elif rng.random() < 0.1:
            victim = rng.choice(rules).id
            assert reference.remove(victim) == vector.remove(victim)


# -- the command -----------------------------------------------------------------------------


async def test_alert_sets_each_new_kind_and_lists_it(make_harness) -> None:
    chat: Harness = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17))
    reply = await chat.say("/alert NVDA below sma200")
    assert "Alert #1 set: NVDA below its SMA200" in reply
    assert "would" in reply or "daily bars" in reply  # the look-back line
    assert "Alert #2 set: NVDA above its EMA20" in await chat.say("/alert NVDA above ema20")
    assert "Alert #3 set: NVDA RSI(14) below 30" in await chat.say("/alert NVDA rsi below 30 once")
    assert "Alert #4 set: NVDA moves down 10% over 5 sessions" in await chat.say("/alert NVDA move -10 over 5d")
    listed = await chat.say("/alerts")
    assert "#3 NVDA RSI(14) below 30" in listed and "· once" in listed
    assert "already have that alert" in await chat.say("/alert NVDA below sma200")
    assert "Preview, not saved: NVDA RSI(14) above 70" in await chat.say("/alert NVDA rsi above 70 preview")
    stored = {r.id: r for r in await chat.app.storage.rules.all()}
    assert (stored[1].kind, stored[1].indicator, stored[1].period, stored[1].direction) == (RuleKind.MA, "sma", 200, Direction.DOWN)
    assert (stored[3].kind, stored[3].threshold, stored[3].indicator, stored[3].period, stored[3].once) == (RuleKind.RSI, 30.0, "rsi", 14, True)
    assert (stored[4].kind, stored[4].threshold, stored[4].period, stored[4].direction) == (RuleKind.CHANGE, 10.0, 5, Direction.DOWN)
    assert "/alert NVDA below sma200" in await chat.say("/help alert")


@pytest.mark.parametrize(("line", "expected"), [
    ("/alert NVDA below sma300", "A moving average is 2 to 250 sessions long"),
    ("/alert NVDA above ema1", "A moving average is 2 to 250 sessions long"),
    ("/alert NVDA rsi sideways 30", "Say rsi above or rsi below and a level"),
    ("/alert NVDA rsi below", "Say rsi above or rsi below and a level"),
    ("/alert NVDA rsi below 130", "An RSI level is between 0 and 100"),
    ("/alert NVDA rsi below abc", "Value must be a number like 120 or 7.5, not 'abc'"),
    ("/alert NVDA above 120 over 5d", "over Nd only goes with move"),
    ("/alert NVDA move 10 over 0d", "'over' needs 1 to 250 sessions"),
    ("/alert NVDA move 10 over", "'over' needs a number of sessions"),
    ("/alert NVDA below abc", "Value must be a number like 120 or 7.5, not 'abc'"),
])
async def test_bad_new_conditions_get_a_clear_answer(make_harness, line: str, expected: str) -> None:
    chat: Harness = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17))
    assert expected in await chat.say(line)
    assert await chat.app.storage.rules.all() == []


async def test_a_snoozed_indicator_alert_disarms_silently_and_a_once_alert_is_removed(make_harness) -> None:
    folder = real_data()
    rows = read_closes(folder, "NVDA")
    chat: Harness = await make_harness(folder, ny(START, 9), features=("lifecycle",))
    await chat.say("/alert NVDA move -10 over 5d once")
    await chat.say("/alert NVDA move -10 over 5d every")  # not the same: once is a lifecycle, so this one is refused
    await chat.say("/alert NVDA move 8 over 5d down")
    ids = [r.id for r in await chat.app.storage.rules.all()]
    assert len(ids) == 2
    await chat.say(f"/snooze {ids[1]} 30")
    fired = []
    for day, _, _ in [r for r in rows if START <= r[0] <= END]:
        for moment in (ny(day, 9, 31), ny(day, 16, 5)):
            fired += await chat.at(moment)
        if fired:
            break
    assert [a.rule_id for _, a in fired] == [ids[0]]  # the snoozed twin fired silently
    assert [r.id for r in await chat.app.storage.rules.all()] == [ids[1]]  # the once alert is gone
    assert (await chat.app.storage.rules.get(ids[1])).armed is False  # type: ignore[union-attr]


def test_an_indicator_rule_without_enough_closes_waits() -> None:
    index = IndicatorIndex(RuleEngine())
    rule = Rule(7, "NEW", RuleKind.MA, 0.0, RuleSource.MEMBER, Direction.DOWN, indicator="sma", period=50)
    index.set_basis("NEW", Basis.of(DAY, [10.0] * 10))
    quote = Quote(ticker="NEW", price=5.0, prev_close=10.0, session=DAY, at=datetime(2025, 1, 27, 15, tzinfo=UTC))
    assert index.prepare(rule, quote) is None and rule.armed is None
    index.add(rule)
    assert index.evaluate(quote, now=quote.at).firings == []
    assert rule.armed is None
