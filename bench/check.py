"""The whole price check, honestly: quotes -> split guard -> engine -> routing -> outbox committed.

The app is built as `tickerbell run` builds it (`App.create`: the SQLite file, the rules loaded
from it, the numpy engine, routing, the outbox), over the bench's 1,000,000 member rules written
to the file beforehand. A market double hands the price check the same moving quotes as the
engine bench, and each `PriceCheck.run_once` is timed from the request for quotes to the commit
of the outbox. Each stage is timed on the side: the engine, routing, and the storage transaction.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import QuotesOnlyMarket
from bot.core.clock import ReplayClock
from bot.core.market import Quote
from bot.core.models import Rule
from storage.sqlite import SqliteStorage


@dataclass
class CheckFigures:
    whole_ms: list[float] = field(default_factory=list)
    whole_cpu_ms: list[float] = field(default_factory=list)  # the process's CPU time (every thread: SQLite's too)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    alerts: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    write_rules_seconds: float = 0.0
    load_seconds: float = 0.0


class BenchMarket(QuotesOnlyMarket):
    """A market double: this cycle's quotes, no splits, no history."""

    def __init__(self) -> None:
        self.next: dict[str, Quote] = {}

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        return {t: self.next[t] for t in tickers if t in self.next}


async def write_rules(path: Path, rules: list[Rule], now: datetime) -> None:
    """The bench's rules as rows of a fresh file (set-up, not measured as the check)."""
    storage = await SqliteStorage.open(path)
    try:
        async with storage.db.transaction() as tx:
            await tx.executemany(
                """INSERT INTO rules (id, ticker, kind, threshold, direction, source, owner_platform, owner_id, owner_name,
                       chat_platform, chat_id, chat_kind, armed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    (r.id, r.ticker, r.kind.value, r.threshold, r.direction.value, r.source.value, r.owner.platform if r.owner else None,
                     r.owner.user_id if r.owner else None, r.owner.display_name if r.owner else None, r.chat.platform if r.chat else None,
                     r.chat.chat_id if r.chat else None, r.chat.kind.value if r.chat else None, int(bool(r.armed)), now.isoformat())
                    for r in rules
                ),
            )
    finally:
        await storage.close()


def timed(times: list[float], call: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a step of the check (sync or async) to add its time, in ms, to `times`."""
    if asyncio.iscoroutinefunction(call):

        async def async_step(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                times.append((time.perf_counter() - started) * 1000)

        return async_step

    def step(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    return step


async def bench_check(rules: list[Rule], rng: random.Random, tickers: int, cycles: int, at: datetime, session: date,
                      moving_quotes: Callable[..., dict[str, Quote]]) -> CheckFigures:
    from bot.app import App  # here, not at the top: the engine bench's memory figure is taken without the app's imports
    from bot.config import Config
    from bot.market.calendar import MarketCalendar

    figures = CheckFigures()
    with tempfile.TemporaryDirectory(prefix="tickerbell-bench-") as folder:
        path = Path(folder) / "bench.sqlite3"
        started = time.perf_counter()
        await write_rules(path, rules, at)
        figures.write_rules_seconds = time.perf_counter() - started
        rules.clear()  # the app loads its own from the file
        market = BenchMarket()
        clock = ReplayClock(at)
        started = time.perf_counter()
        app = await App.create(Config(), clock=clock, market=market, storage_path=path, calendar=MarketCalendar(), features=[])
        figures.load_seconds = time.perf_counter() - started
        try:
            check, book = app.price_check, app.rules
            calls: dict[str, list[float]] = {}
            for stage, owner, name in (("engine", book, "evaluate_many"), ("engine", book, "evaluate"), ("routing", check.routing, "for_firings"),
                                       ("storage", book, "record_check")):
                if hasattr(owner, name):  # (also runs against the engine before numpy, which had no evaluate_many)
                    setattr(owner, name, timed(calls.setdefault(stage, []), getattr(owner, name)))
            prices = {f"T{i:05d}": 100.0 for i in range(tickers)}
            market.next = moving_quotes(prices, rng, session)
            await check.run_once()  # the first price of each ticker: its baseline
            for cycle in range(cycles):
                clock.set(at + timedelta(minutes=cycle + 1))  # a new moment: each firing is a new delivery
                quotes = moving_quotes(prices, rng, session + timedelta(days=cycle // 2))
                market.next = {ticker: replace(quote, at=clock.now()) for ticker, quote in quotes.items()}
                for times in calls.values():
                    times.clear()
                started, cpu = time.perf_counter(), time.process_time()
                summary = await check.run_once()
                figures.whole_ms.append((time.perf_counter() - started) * 1000)
                figures.whole_cpu_ms.append((time.process_time() - cpu) * 1000)
                for stage, times in calls.items():
                    figures.stages_ms.setdefault(stage, []).append(sum(times))
                figures.alerts.append(summary.alerts)
                figures.queued.append(summary.queued)
        finally:
            await app.close()
    return figures


def print_check(figures: CheckFigures, engine_ms: float, cycles: int) -> None:
    median = statistics.median
    print(f"the whole check, quotes -> guard -> engine -> routing -> outbox committed ({cycles} busy cycles, the app's own parts over SQLite):")
    print(f"  rules written to the file   {figures.write_rules_seconds:8.2f} s     (set-up; the app loads them in {figures.load_seconds:.2f} s)")
    print(f"  one check, whole            {median(figures.whole_ms):8.1f} ms   (median, best {min(figures.whole_ms):.1f} ms, CPU {median(figures.whole_cpu_ms):.1f} ms; "
          f"{statistics.mean(figures.alerts):,.0f} alerts and {statistics.mean(figures.queued):,.0f} deliveries queued a check; goal < 250 ms)")
    print(f"    the engine bench's cycle  {engine_ms:8.1f} ms   (engine only, above)")
    for stage, times in figures.stages_ms.items():
        print(f"    of which {stage:<17}{median(times):8.1f} ms")


def run(make_rules: Callable[..., list[Rule]], moving_quotes: Callable[..., dict[str, Quote]], *, n_rules: int, tickers: int, cycles: int,
        seed: int, engine_ms: float, at: datetime, session: date) -> CheckFigures:
    """The bench's rules and quotes (the same seed as the engine bench: the same busy cycles)."""
    rng = random.Random(seed)
    rules = make_rules(n_rules, tickers, rng)
    figures = asyncio.run(bench_check(rules, rng, tickers, cycles, at, session, moving_quotes))
    print_check(figures, engine_ms, cycles)
    return figures
