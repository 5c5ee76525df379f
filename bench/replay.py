"""A three-year backtest: 10,000 members' alerts replayed over 2023-07-03..2026-06-30 on the real
prices (`../shared/data/prices`), through `tickerbell replay`'s own code (`bot.replay.run_replay`),
beside a naive pure-Python loop over the same rules and the same checks (each session's open
and close), in the same run.

The script that sets the rules is timed on its own: it is most of a backtest's set-up.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.market import Quote
from bot.core.models import ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"
START, END = date(2023, 7, 3), date(2026, 6, 30)
TICKERS = ("NVDA", "AVGO", "CRDO", "ANET", "TSM", "MSFT", "GOOG", "META", "SOXX", "SMH", "^SOX")


@dataclass
class ReplayFigures:
    rules: int
    sessions: int
    checks: int
    alerts: int
    script_seconds: float
    total_seconds: float
    total_cpu_seconds: float  # CPU time of the process (all its threads): what neighbours on a shared machine do not inflate
    naive_seconds: float
    naive_cpu_seconds: float
    naive_fired: int


def closes(ticker: str) -> list[tuple[date, float, float]]:
    """(day, open, close) of each session in the data."""
    with (DATA / f"{ticker}.csv").open(newline="") as handle:
        return [(date.fromisoformat(row["Date"]), float(row["Open"]), float(row["Close"])) for row in csv.DictReader(handle)]


def make_script(n_rules: int, seed: int) -> tuple[list[str], list[Rule]]:
    """`/alert` commands for every ticker and kind, around each ticker's first price, each a different
    alert (`/alert` refuses one the member already has); and the same rules as values, for the naive loop."""
    rng = random.Random(seed)
    first = {t: next(c for d, _, c in closes(t) if d >= START) for t in TICKERS}
    lines: list[str] = []
    rules: list[Rule] = []
    owner, chat = UserRef("console", "analyst"), ChatRef("console", "console")
    seen: set[str] = set()
    rule_id = 0
    while len(lines) < n_rules:
        ticker = TICKERS[(rule_id + 1) % len(TICKERS)]
        price = first[ticker]
        kind = (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.MOVE, RuleKind.DRAWDOWN)[rng.randrange(4)]
        direction = Direction.DOWN
        if kind is RuleKind.ABOVE:
            threshold = round(price * rng.uniform(1.02, 3.0), 2)
            lines.append(f"/alert {ticker} above {threshold}")
        elif kind is RuleKind.BELOW:
            threshold = round(price * rng.uniform(0.4, 0.98), 2)
            lines.append(f"/alert {ticker} below {threshold}")
        elif kind is RuleKind.MOVE:
            threshold = round(rng.uniform(4, 15), 1)
            direction = rng.choice(list(Direction))
            lines.append(f"/alert {ticker} move {threshold} {direction.value}")
        else:
            threshold = round(rng.uniform(10, 45), 1)
            lines.append(f"/alert {ticker} drawdown {threshold}")
        if lines[-1] in seen:
            lines.pop()  # the same alert again: draw another
            continue
        seen.add(lines[-1])
        rule_id += 1
        rules.append(Rule(id=rule_id, ticker=ticker, kind=kind, threshold=threshold, source=RuleSource.MEMBER, direction=direction,
                          owner=owner, chat=chat))
    return lines, rules


def replay_quotes() -> list[dict[str, Quote]]:
    """The checks a replay makes: each session's open, then its close, for every ticker."""
    series = {t: closes(t) for t in TICKERS}
    days = sorted({d for rows in series.values() for d, _, _ in rows if START <= d <= END})
    by_day = {t: {d: (o, c, prev) for (d, o, c), (_, _, prev) in zip(rows[1:], rows, strict=False)} for t, rows in series.items()}
    checks = []
    for day in days:
        moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=14, minutes=31)
        opened, closed = {}, {}
        for ticker in TICKERS:
            found = by_day[ticker].get(day)
            if found is None:
                continue
            open_price, close_price, prev = found
            opened[ticker] = Quote(ticker, open_price, prev, day, moment)
            closed[ticker] = Quote(ticker, close_price, prev, day, moment + timedelta(hours=7), final=True)
        checks += [opened, closed]
    return checks


def naive_loop(rules: list[Rule], checks: list[dict[str, Quote]], engine_class: Callable[..., Any]) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    naive = engine_class(rules)
    fired = 0
    for quotes in checks:
        present = [r for r in rules if r.ticker in quotes] if len(quotes) < len(TICKERS) else None
        if present is not None:
            naive.rules = present
        fired += naive.cycle(quotes)
        naive.rules = rules
    return time.perf_counter() - started, time.process_time() - cpu, fired


async def replay(script: list[str]) -> tuple[float, float, float, int, int]:
    import bot.replay as replay_module  # the wiring, imported here: the engine bench's memory figure is taken without it
    from bot.config import Config

    config = Config()
    config = replace(config, bot=replace(config.bot, max_alerts_per_user=10_000), alerts=replace(config.alerts, look_back=False))  # --no-look-back
    run_script = replay_module._run_script
    script_time: list[float] = []

    async def timed_script(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        await run_script(*args, **kwargs)
        script_time.append(time.perf_counter() - started)

    replay_module._run_script = timed_script  # type: ignore[assignment]
    logging.disable(logging.WARNING)  # the CSV data has no fundamentals: the valuation job says so each day
    try:
        out = io.StringIO()
        started, cpu = time.perf_counter(), time.process_time()
        await replay_module.run_replay(config, data_dir=DATA, start=START, end=END, script=script, jsonl=True, out=out)
        total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        logging.disable(logging.NOTSET)
        replay_module._run_script = run_script
    return script_time[0], total, total_cpu, len(out.getvalue().splitlines()), len(replay_module.MarketCalendar().sessions(START, END))


def run(engine_class: Callable[..., Any], *, n_rules: int = 10_000, seed: int = 7) -> ReplayFigures | None:
    if not (DATA / "NVDA.csv").is_file():
        print(f"replay: not measured (no price data at {DATA})")
        return None
    script, rules = make_script(n_rules, seed)
    checks = replay_quotes()
    naive_seconds, naive_cpu, naive_fired = naive_loop(rules, checks, engine_class)
    script_seconds, total, total_cpu, alerts, sessions = asyncio.run(replay(script))
    figures = ReplayFigures(n_rules, sessions, len(checks), alerts, script_seconds, total, total_cpu, naive_seconds, naive_cpu, naive_fired)
    print(f"a backtest: {n_rules:,} members' alerts over {START}..{END} ({sessions} sessions, real prices), `tickerbell replay`'s own code:")
    print(f"  the whole replay            {total:8.2f} s     (CPU {total_cpu:.2f} s; {alerts:,} alerts delivered; goal < 10 s)")
    print(f"    of which the script       {script_seconds:8.2f} s     ({n_rules:,} /alert commands, in one transaction)")
    print(f"    naive loop, same checks   {naive_seconds:8.2f} s     (CPU {naive_cpu:.2f} s; the same rules over each session's open and close, {len(checks):,} checks; counts firings)")
    print(f"  replay / naive              {total / naive_seconds:8.1f} x    (CPU {total_cpu / naive_cpu:.1f} x; goal < 10 x)")
    return figures
