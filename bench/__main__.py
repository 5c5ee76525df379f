"""`make bench`: figures for the rule engine and the data provider, from one run.

- One check cycle of 1,000,000 rules over 5,000 tickers with every price moving, through
  the indexed engine and through a naive loop over every rule, in the same run.
- The peak memory with those rules loaded.
- For 500 watched tickers, how many provider requests one cycle makes.
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

from bot.core.engine import RuleEngine, condition_holds
from bot.core.market import Quote
from bot.core.models import ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef

AT = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
SESSION = date(2025, 1, 27)


@dataclass
class Figures:
    rules: int
    tickers: int
    indexed_ms: float
    indexed_best_ms: float
    quiet_ms: float  # a cycle where prices barely move
    naive_ms: float
    fired_per_cycle: float
    load_seconds: float
    rules_mb: float  # the Rule objects themselves
    index_mb: float  # the engine's index on top of them
    max_rss_mb: float


def current_rss_mb() -> float:
    """The process's resident memory now, from /proc (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_rules(n_rules: int, n_tickers: int, rng: random.Random) -> list[Rule]:
    owner, chat = UserRef("bench", "u"), ChatRef("bench", "c")
    kinds = (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.MOVE, RuleKind.DRAWDOWN)
    rules = []
    for rule_id in range(1, n_rules + 1):
        kind = kinds[rule_id % 4]
        if kind in (RuleKind.ABOVE, RuleKind.BELOW):
            threshold = round(100 * rng.uniform(0.7, 1.3), 2)
        elif kind is RuleKind.MOVE:
            threshold = round(rng.uniform(1, 20), 1)
        else:
            threshold = round(rng.uniform(5, 50), 1)
        rules.append(
            Rule(id=rule_id, ticker=f"T{rule_id % n_tickers:05d}", kind=kind, threshold=threshold, source=RuleSource.MEMBER,
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


def bench_engine(n_rules: int, n_tickers: int, cycles: int, seed: int) -> Figures:
    rng = random.Random(seed)
    rss_start = current_rss_mb()
    rules = make_rules(n_rules, n_tickers, rng)
    gc.collect()
    rss_rules = current_rss_mb()
    started = time.perf_counter()
    engine = RuleEngine(rearm_band_pct=1.0)
    engine.load(rules, {})
    load_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as App.create does after loading the rules
    rss_loaded = current_rss_mb()

    prices = {f"T{i:05d}": 100.0 for i in range(n_tickers)}
    baseline = moving_quotes(prices, rng, SESSION)
    for quote in baseline.values():
        engine.evaluate(quote, now=AT)  # the first price of each ticker
    naive = NaiveEngine(rules)
    naive.cycle(baseline)

    indexed_times, naive_times, fired = [], [], []
    for cycle in range(cycles):
        quotes = moving_quotes(prices, rng, SESSION + timedelta(days=cycle // 2))
        started = time.perf_counter()
        count = 0
        for quote in quotes.values():
            count += len(engine.evaluate(quote, now=AT).firings)
        indexed_times.append(time.perf_counter() - started)
        fired.append(count)
        started = time.perf_counter()
        naive.cycle(quotes)
        naive_times.append(time.perf_counter() - started)
    quiet = moving_quotes(prices, rng, SESSION + timedelta(days=cycles), step=0.00001)
    for quote in quiet.values():  # a new session, so that this cycle is not a continuation
        engine.evaluate(quote, now=AT)
    quiet_times = []
    for _ in range(cycles):
        quotes = moving_quotes(prices, rng, SESSION + timedelta(days=cycles), step=0.00001)
        started = time.perf_counter()
        for quote in quotes.values():
            engine.evaluate(quote, now=AT)
        quiet_times.append(time.perf_counter() - started)
    return Figures(
        quiet_ms=statistics.median(quiet_times) * 1000,
        rules=n_rules,
        tickers=n_tickers,
        indexed_ms=statistics.median(indexed_times) * 1000,
        indexed_best_ms=min(indexed_times) * 1000,
        naive_ms=statistics.median(naive_times) * 1000,
        fired_per_cycle=statistics.mean(fired),
        load_seconds=load_seconds,
        rules_mb=rss_rules - rss_start,
        index_mb=rss_loaded - rss_rules,
        max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
    print(f"  load into the engine        {figures.load_seconds:8.2f} s")
    print(f"  one check cycle, indexed    {figures.indexed_ms:8.1f} ms   (median of {args.cycles}, best {figures.indexed_best_ms:.1f} ms; {figures.fired_per_cycle:,.0f} rules fired a cycle)")
    print(f"  one check cycle, naive loop {figures.naive_ms:8.1f} ms")
    print(f"  a quiet cycle, indexed      {figures.quiet_ms:8.1f} ms   (prices move 0.001%: nothing crosses)")
    print(f"  naive / indexed             {figures.naive_ms / figures.indexed_ms:8.1f} x")
    print(f"  memory: the rules           {figures.rules_mb:8.0f} MB")
    print(f"  memory: the engine's index  {figures.index_mb:8.0f} MB   (process peak RSS {figures.max_rss_mb:.0f} MB)")
    requests = asyncio.run(provider_requests(args.watched))
    print(f"provider requests for one cycle over {args.watched} watched tickers:")
    for name, count in requests.items():
        print(f"  {name:<10} {count}")
    __import__("bench.stream").stream.print_stream_figures()  # streamed quotes: tick -> sendMessage latency, CPU
    from bench.cluster import run_cluster_bench  # several processes on PostgreSQL

    asyncio.run(run_cluster_bench())


if __name__ == "__main__":
    main()
