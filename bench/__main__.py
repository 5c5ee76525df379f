"""`make bench`: figures for the rule engine and the data provider, from one run.

- One check cycle of 1,000,000 rules over 5,000 tickers with every price moving, through
  the app's engine (numpy, `bot/vector`: its verdicts, then every result read, which builds the
  `Firing`s, `Alert`s and armed-change dicts), today's pure-Python engine (`bot/core/engine.py`,
  the reference: their verdicts are asserted equal on every cycle) and a naive loop over every
  rule, in the same run.
- The peak memory with those rules loaded.
- The whole check on the same rules and cycles: quotes -> engine -> routing -> outbox committed
  (`bench/check.py`).
- A three-year backtest of 10,000 alerts beside a naive loop over the same checks (`bench/replay.py`).
- For 500 watched tickers, how many provider requests one cycle makes.

Each section is one call in `main()`; each figure is printed beside the one it is compared to.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench import check, replay
from bot.core.engine import CheckResult, Firing, RuleEngine, collector_paused, condition_holds
from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef
from bot.vector import VectorEngine

AT = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
SESSION = date(2025, 1, 27)


@dataclass
class Figures:
    rules: int
    tickers: int
    indexed_ms: float  # the numpy engine (bot/vector), the app's: its verdicts (what fired, armed changes, states)
    indexed_best_ms: float
    built_ms: float  # the same cycle with every result read: its Firing and Alert objects and armed-change dicts built
    reference_ms: float  # today's pure-Python engine (bot/core/engine.py), the reference
    quiet_ms: float  # a cycle where prices barely move (verdicts, then every result read)
    reference_quiet_ms: float
    naive_ms: float
    fired_per_cycle: float
    alerts_floor_ms: float  # building that many Alert and Firing objects, nothing else
    load_seconds: float
    reference_load_seconds: float
    rules_mb: float  # the Rule objects themselves
    index_mb: float  # the engine's index on top of them
    max_rss_mb: float  # the process's peak with the rules loaded and checked, before the reference engines exist
    cycles_compared: int  # cycles whose verdicts were checked equal to the reference engine's
    cpu_ms: dict[str, float]  # median CPU time a cycle (indexed, built, reference, naive, quiet): steadier than wall time on a shared machine


def current_rss_mb() -> float:
    """The process's resident memory now, from /proc (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_rules(n_rules: int, n_tickers: int, rng: random.Random) -> list[Rule]:
    owner, chat = UserRef("bench", "u"), ChatRef("bench", "c")
    kinds = (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.MOVE, RuleKind.DRAWDOWN)
    rules = []
    names = [f"T{i:05d}" for i in range(n_tickers)]  # one string per ticker, as the app's rules share them when read
    for rule_id in range(1, n_rules + 1):
        kind = kinds[rule_id % 4]
        if kind in (RuleKind.ABOVE, RuleKind.BELOW):
            threshold = round(100 * rng.uniform(0.7, 1.3), 2)
        elif kind is RuleKind.MOVE:
            threshold = round(rng.uniform(1, 20), 1)
        else:
            threshold = round(rng.uniform(5, 50), 1)
        rules.append(
            Rule(id=rule_id, ticker=names[rule_id % n_tickers], kind=kind, threshold=threshold, source=RuleSource.MEMBER,
                 direction=Direction.EITHER if kind is RuleKind.MOVE else Direction.DOWN, owner=owner, chat=chat, armed=True)
        )
    return rules


class NaiveEngine:
    """The obvious loop: every rule checked against its ticker's price on every cycle."""

    def __init__(self, rules: list[Rule], band: float = 0.01) -> None:
        self.rules = rules
        self.band = band
        self.armed = {r.id: True for r in rules}
        self.last: dict[str, float] = {}
        self.peak: dict[str, float] = {}

    def cycle(self, quotes: dict[str, Quote]) -> int:
        fired = 0
        for ticker, quote in quotes.items():
            self.peak[ticker] = max(self.peak.get(ticker, quote.price), quote.price)
        for rule in self.rules:
            quote = quotes[rule.ticker]
            price = quote.price
            if rule.kind in (RuleKind.ABOVE, RuleKind.BELOW):
                holds = condition_holds(rule, price)
                if holds and self.armed[rule.id]:
                    self.armed[rule.id] = False
                    fired += 1
                elif not holds and not self.armed[rule.id]:
                    edge = rule.threshold * (1 - self.band) if rule.kind is RuleKind.ABOVE else rule.threshold * (1 + self.band)
                    if (price <= edge) if rule.kind is RuleKind.ABOVE else (price >= edge):
                        self.armed[rule.id] = True
            elif rule.kind is RuleKind.MOVE:
                change = abs(quote.change_pct or 0.0)
                if change >= rule.threshold and self.armed[rule.id]:
                    self.armed[rule.id] = False
                    fired += 1
            else:
                drawdown = (1 - price / self.peak[rule.ticker]) * 100
                if drawdown >= rule.threshold and self.armed[rule.id]:
                    self.armed[rule.id] = False
                    fired += 1
        return fired


def moving_quotes(prices: dict[str, float], rng: random.Random, session: date, *, step: float = 0.03) -> dict[str, Quote]:
    """Every price moves: a random step of up to `step` (3 %) either way."""
    quotes = {}
    for ticker, price in prices.items():
        new = price * (1 + rng.uniform(-step, step))
        prices[ticker] = new
        quotes[ticker] = Quote(ticker=ticker, price=new, prev_close=100.0, session=session, at=AT)
    return quotes


def alerts_floor_ms(count: int) -> float:
    """How long building `count` alerts and their firings takes with nothing else around them:
    the part of a busy cycle no index can save (positional arguments, as the engine builds them)."""
    owner = UserRef("bench", "u")
    rule = Rule(id=1, ticker="T00001", kind=RuleKind.ABOVE, threshold=100.0, source=RuleSource.MEMBER, owner=owner)
    with collector_paused():  # as the engine builds them
        started = time.perf_counter()
        built = [
            Firing(rule, Alert(AlertKind.PRICE_ABOVE, rule.ticker, AT, 101.0, 1.0, 100.0, 100.0, None, None, "up", None, None, i, None, owner, {}, []))
            for i in range(count)
        ]
        elapsed = time.perf_counter() - started
    del built
    return elapsed * 1000


def read_all(results: list[CheckResult]) -> int:
    """Read every result's firings and armed changes, as the price check does (the numpy engine
    builds them on this first read); returns how many rules fired."""
    fired = 0
    for result in results:
        fired += len(result.firings)
        len(result.armed_changes)
    return fired


def first_difference(expected: list[CheckResult], got: list[CheckResult]) -> str:
    for ref, vec in zip(expected, got, strict=True):
        if ref != vec:
            return f"{ref.ticker}: reference {ref} != numpy {vec}"
    return "different lengths"


def bench_engine(n_rules: int, n_tickers: int, cycles: int, seed: int) -> Figures:
    rng = random.Random(seed)
    rss_start = current_rss_mb()
    rules = make_rules(n_rules, n_tickers, rng)
    gc.collect()
    rss_rules = current_rss_mb()
    started = time.perf_counter()
    engine = VectorEngine(rearm_band_pct=1.0)  # as App.create wires it
    engine.load(rules, {})
    load_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as App.create does after loading the rules
    rss_loaded = current_rss_mb()

    prices = {f"T{i:05d}": 100.0 for i in range(n_tickers)}
    baseline = moving_quotes(prices, rng, SESSION)
    baseline_results = engine.evaluate_many(list(baseline.values()), now=AT)  # the first price of each ticker
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Today's engine, on twins of the same rules (it changes their armed flags), and the naive loop.
    started = time.perf_counter()
    reference = RuleEngine(rearm_band_pct=1.0)
    reference.load(make_rules(n_rules, n_tickers, random.Random(seed)), {})
    reference_load_seconds = time.perf_counter() - started
    expected = [reference.evaluate(quote, now=AT) for quote in baseline.values()]
    assert expected == baseline_results, first_difference(expected, baseline_results)
    naive = NaiveEngine(rules)
    naive.cycle(baseline)
    gc.collect()
    gc.freeze()

    indexed_times, built_times, reference_times, naive_times, fired = [], [], [], [], []
    cpu: dict[str, list[float]] = {"indexed": [], "built": [], "reference": [], "naive": [], "quiet": []}
    for cycle in range(cycles):
        quotes = moving_quotes(prices, rng, SESSION + timedelta(days=cycle // 2))
        batch = list(quotes.values())
        gc.collect()  # each engine starts from a clean heap: neither pays for the other's garbage
        started, started_cpu = time.perf_counter(), time.process_time()
        expected = [reference.evaluate(quote, now=AT) for quote in batch]
        reference_times.append(time.perf_counter() - started)
        cpu["reference"].append(time.process_time() - started_cpu)
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        results = engine.evaluate_many(batch, now=AT)
        indexed_times.append(time.perf_counter() - started)
        cpu["indexed"].append(time.process_time() - started_cpu)
        fired.append(read_all(results))
        built_times.append(time.perf_counter() - started)
        cpu["built"].append(time.process_time() - started_cpu)
        started, started_cpu = time.perf_counter(), time.process_time()
        naive.cycle(quotes)
        naive_times.append(time.perf_counter() - started)
        cpu["naive"].append(time.process_time() - started_cpu)
        assert results == expected, f"cycle {cycle}: " + first_difference(expected, results)
        del results, expected
    quiet = moving_quotes(prices, rng, SESSION + timedelta(days=cycles), step=0.00001)
    engine.evaluate_many(list(quiet.values()), now=AT)  # a new session, so that this cycle is not a continuation
    for quote in quiet.values():
        reference.evaluate(quote, now=AT)
    quiet_times, reference_quiet_times = [], []
    for _ in range(cycles):
        batch = list(moving_quotes(prices, rng, SESSION + timedelta(days=cycles), step=0.00001).values())
        gc.collect()
        started = time.perf_counter()
        expected = [reference.evaluate(quote, now=AT) for quote in batch]
        reference_quiet_times.append(time.perf_counter() - started)
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        results = engine.evaluate_many(batch, now=AT)
        read_all(results)
        quiet_times.append(time.perf_counter() - started)
        cpu["quiet"].append(time.process_time() - started_cpu)
        assert results == expected, "quiet cycle: " + first_difference(expected, results)
    return Figures(
        quiet_ms=statistics.median(quiet_times) * 1000,
        reference_quiet_ms=statistics.median(reference_quiet_times) * 1000,
        rules=n_rules,
        tickers=n_tickers,
        indexed_ms=statistics.median(indexed_times) * 1000,
        indexed_best_ms=min(indexed_times) * 1000,
        built_ms=statistics.median(built_times) * 1000,
        reference_ms=statistics.median(reference_times) * 1000,
        naive_ms=statistics.median(naive_times) * 1000,
        fired_per_cycle=statistics.mean(fired),
        alerts_floor_ms=alerts_floor_ms(round(statistics.mean(fired))),
        load_seconds=load_seconds,
        reference_load_seconds=reference_load_seconds,
        rules_mb=rss_rules - rss_start,
        index_mb=rss_loaded - rss_rules,
        max_rss_mb=max_rss_mb,
        cycles_compared=2 * cycles + 1,
        cpu_ms={name: statistics.median(times) * 1000 for name, times in cpu.items()},
    )


async def provider_requests(n_tickers: int) -> dict[str, int | str]:
    figures: dict[str, int | str] = {}
    import tempfile
    from pathlib import Path

    from bot.core.clock import ReplayClock
    from bot.market.calendar import MarketCalendar
    from bot.market.csv_provider import CsvMarket

    with tempfile.TemporaryDirectory() as folder:
        for i in range(n_tickers):
            (Path(folder) / f"T{i:04d}.csv").write_text("Date,Open,High,Low,Close\n2025-01-24,1,1,1,1\n2025-01-27,1,1,1,1\n")
        market = CsvMarket(folder, clock=ReplayClock(AT), calendar=MarketCalendar())
        await market.quotes([f"T{i:04d}" for i in range(n_tickers)])
        figures["csv"] = market.requests
    try:
        from tests.fakes.yahoo import count_cycle_requests  # the recorded-Yahoo fake server used by the tests
    except ImportError as missing:
        figures["yfinance"] = f"not measured ({missing})"
    else:
        figures["yfinance"] = await count_cycle_requests(n_tickers)
    return figures


def print_engine(figures: Figures, cycles: int) -> None:
    """Each figure beside the one it is compared to, and the goal."""
    cpu = figures.cpu_ms
    print(f"  load into the engine        {figures.load_seconds:8.2f} s     (today's engine: {figures.reference_load_seconds:.2f} s)")
    print(f"  one check cycle, verdicts   {figures.indexed_ms:8.1f} ms   (median of {cycles}, best {figures.indexed_best_ms:.1f} ms, CPU {cpu['indexed']:.1f} ms; "
          f"{figures.fired_per_cycle:,.0f} rules fired a cycle; goal < 20 ms)")
    print(f"    with every alert built    {figures.built_ms:8.1f} ms   (CPU {cpu['built']:.1f} ms; the verdicts, then each result read: "
          f"its Firing + Alert objects and armed-change dict, built on that first read)")
    print(f"    today's engine            {figures.reference_ms:8.1f} ms   (CPU {cpu['reference']:.1f} ms; same quotes, builds its alerts; "
          f"verdicts equal on all {figures.cycles_compared} cycles, asserted)")
    print(f"    naive loop                {figures.naive_ms:8.1f} ms   (CPU {cpu['naive']:.1f} ms; every rule, every cycle; counts firings, builds no alert)")
    print(f"    building the alerts alone {figures.alerts_floor_ms:8.1f} ms   ({figures.fired_per_cycle:,.0f} Alert + Firing objects, nothing else)")
    print(f"  a quiet cycle, indexed      {figures.quiet_ms:8.1f} ms   (CPU {cpu['quiet']:.1f} ms, verdicts and every result read; "
          f"today's engine: {figures.reference_quiet_ms:.1f} ms; prices move 0.001%: nothing crosses)")
    print(f"  naive / verdicts            {figures.naive_ms / figures.indexed_ms:8.1f} x    (CPU {cpu['naive'] / cpu['indexed']:.1f} x; goal >= 50 x)")
    print(f"  naive / with alerts built   {figures.naive_ms / figures.built_ms:8.1f} x    (CPU {cpu['naive'] / cpu['built']:.1f} x; "
          f"today's engine: {figures.naive_ms / figures.reference_ms:.1f} x, CPU {cpu['naive'] / cpu['reference']:.1f} x)")
    print(f"  memory: the rules           {figures.rules_mb:8.0f} MB")
    print(f"  memory: the engine's index  {figures.index_mb:8.0f} MB   (process peak RSS {figures.max_rss_mb:.0f} MB with the rules loaded and checked; goal < 400 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--rules", type=int, default=1_000_000)
    parser.add_argument("--tickers", type=int, default=5_000)
    parser.add_argument("--cycles", type=int, default=7)
    parser.add_argument("--watched", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(f"tickerbell benchmark: {args.rules:,} rules over {args.tickers:,} tickers, every price moving up to ±3% a cycle")
    figures = bench_engine(args.rules, args.tickers, args.cycles, args.seed)
    print_engine(figures, args.cycles)
    check.run(make_rules, moving_quotes, n_rules=args.rules, tickers=args.tickers, cycles=3, seed=args.seed, engine_ms=figures.built_ms, at=AT, session=SESSION)
    replay.run(NaiveEngine, seed=args.seed)
    requests = asyncio.run(provider_requests(args.watched))
    print(f"provider requests for one cycle over {args.watched} watched tickers:")
    for name, count in requests.items():
        print(f"  {name:<10} {count}")
    __import__("bench.stream").stream.print_stream_figures()  # streamed quotes: tick -> sendMessage latency, CPU
    from bench.cluster import run_cluster_bench  # several processes on PostgreSQL

    asyncio.run(run_cluster_bench())
    bench_look_back()


def bench_look_back() -> None:
    """Issue 14: /alert's look-back (three years of daily bars through a private engine), target under 200 ms."""
    from bot.core.backtest import LOOKBACK_DAYS, backtest
    from bot.core.market import Bar

    rng = random.Random(3)
    day, price, bars = date(2023, 1, 3), 100.0, []
    while len(bars) < 800:
        if day.weekday() < 5:
            close = max(1.0, price * (1 + rng.gauss(0, 0.03)))
            bars.append(Bar(day, price, max(price, close) * 1.01, min(price, close) * 0.99, close, 1e6))
            price = close
        day += timedelta(days=1)
    start = bars[-1].day - timedelta(days=LOOKBACK_DAYS)
    print("an alert's look-back over three years of daily bars (/alert ... preview):")
    for kind, threshold in ((RuleKind.BELOW, 90.0), (RuleKind.MOVE, 5.0), (RuleKind.DRAWDOWN, 20.0)):
        rule = Rule(0, "SIM", kind, threshold, RuleSource.MEMBER, direction=Direction.EITHER if kind is not RuleKind.DRAWDOWN else Direction.DOWN)
        times = [backtest(rule, bars, start=start, zone=UTC, rearm_band_pct=1.0) for _ in range(5)]
        best = min(t.milliseconds for t in times)
        print(f"  {kind.value:<10} {best:8.1f} ms   ({len(times[0].fired)} firings over {len(bars)} bars; best of 5)")


if __name__ == "__main__":
    main()
