"""`make bench`, streamed quotes: latency from a tick leaving the streamer to the alert's
sendMessage at a Telegram server, and the CPU the bot spends while streaming.

The setup: a fake Yahoo streamer in its own process (so its CPU is not counted) pushes 500
tickers at 5 ticks a second each, in Yahoo's wire format, to the real `yfinance.AsyncWebSocket`;
the bot holds 100,000 rules and runs the whole pipeline (stream feed, price check, SQLite
outbox, dispatcher, python-telegram-bot) against a fake Bot API on 127.0.0.1.

Most rules sit far from the prices and never fire (they are there to be indexed). A few
"probe" tickers rise steadily through a ladder of `above` levels, each in its own chat, so
a level is crossed about every second per probe: each crossing is one latency sample, from
the moment the streamer sent the first tick at or above the level to the moment the fake
server received the alert for it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import QuotesOnlyMarket
from bot.core.market import Quote
from bot.core.models import ChatKind, ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef

SESSION = date(2025, 1, 28)
SESSION_START = datetime(2025, 1, 28, 10, 0, tzinfo=ZoneInfo("America/New_York"))
TOKEN = "7000000001:AAHbenchTokenValue_0123456789abcdefXYZ"
STEP = 0.0002  # a probe ticker rises 0.02 % a tick
RUNG = 0.001  # its levels are 0.1 % apart: one crossing a second at 5 ticks a second
ALERT_ID = re.compile(r"Alert #(\d+)")


@dataclass
class StreamFigures:
    tickers: int
    ticks_per_second: float
    rules: int
    samples: int
    p50: float
    p99: float
    worst: float
    cpu_share: float  # of one core, the bot's process while streaming
    batches: int
    poll_check_seconds: float


class ShiftedClock:
    """Real time, moved into a trading session (so the bench runs the same whenever it runs)."""

    def __init__(self) -> None:
        self._zero = time.monotonic()

    def now(self) -> datetime:
        return SESSION_START + timedelta(seconds=time.monotonic() - self._zero)


class FlatMarket(QuotesOnlyMarket):
    """Every ticker at 100 after a close of 100: what the polls see."""

    def __init__(self, clock: ShiftedClock) -> None:
        self.clock = clock

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        at = self.clock.now()
        return {t: Quote(ticker=t, price=100.0, prev_close=100.0, session=SESSION, at=at - timedelta(minutes=5), day_high=100.0, day_low=100.0)
                for t in tickers}


def ticker_name(index: int) -> str:
    return f"S{index:04d}"


def bench_rules(n_rules: int, n_tickers: int, probes: int, rungs: int, rng: random.Random) -> list[Rule]:
    """Probe ladders first (ids 1..probes*rungs), then quiet rules far from the prices."""
    owner = UserRef("telegram", "1", "Bench")
    rules: list[Rule] = []
    for probe in range(probes):
        chat = ChatRef("telegram", str(1000 + probe), ChatKind.PRIVATE)
        for rung in range(1, rungs + 1):
            rules.append(Rule(id=len(rules) + 1, ticker=ticker_name(probe), kind=RuleKind.ABOVE, threshold=round(100 * (1 + RUNG * rung), 4),
                              source=RuleSource.MEMBER, direction=Direction.UP, owner=owner, chat=chat, armed=True))
    quiet_chat = ChatRef("telegram", "999", ChatKind.PRIVATE)
    kinds = (RuleKind.ABOVE, RuleKind.BELOW, RuleKind.MOVE)
    while len(rules) < n_rules:
        rule_id = len(rules) + 1
        kind = kinds[rule_id % 3]
        threshold = {RuleKind.ABOVE: rng.uniform(150, 300), RuleKind.BELOW: rng.uniform(10, 60), RuleKind.MOVE: rng.uniform(25, 60)}[kind]
        rules.append(Rule(id=rule_id, ticker=ticker_name(rule_id % n_tickers), kind=kind, threshold=round(threshold, 2), source=RuleSource.MEMBER,
                          direction=Direction.EITHER if kind is RuleKind.MOVE else (Direction.UP if kind is RuleKind.ABOVE else Direction.DOWN),
                          owner=owner, chat=quiet_chat, armed=True))
    return rules


# -- the streamer, in its own process -------------------------------------------------------------

def _streamer_process(conn: Any, n_tickers: int, probes: int, rate: float, seconds: float) -> None:
    asyncio.run(_stream(conn, n_tickers, probes, rate, seconds))


async def _stream(conn: Any, n_tickers: int, probes: int, rate: float, seconds: float) -> None:
    from tests.fakes.streamer import FakeStreamer

    streamer = FakeStreamer()
    await streamer.start()
    conn.send(streamer.url)
    everyone = {ticker_name(i) for i in range(n_tickers)}
    await streamer.wait_for(lambda: streamer.subscribed == everyone, timeout=60)
    rng = random.Random(3)
    walk = [100.0] * n_tickers
    sent: list[tuple[str, float, float]] = []  # probe ticks: (ticker, price, when sent, monotonic)
    period = 1.0 / rate
    start = time.monotonic()
    step = 0
    cpu = time.process_time()
    while time.monotonic() - start < seconds:
        step += 1
        for index in range(n_tickers):
            symbol = ticker_name(index)
            if index < probes:
                price = round(100 * (1 + STEP * step), 4)
                sent.append((symbol, price, time.monotonic()))
            else:
                walk[index] = min(101.0, max(99.0, walk[index] * (1 + rng.uniform(-0.0005, 0.0005))))
                price = walk[index]
            await streamer.price(symbol, price)
        await asyncio.sleep(max(0.0, start + step * period - time.monotonic()))
    conn.send((sent, step * n_tickers, time.monotonic() - start, time.process_time() - cpu))
    await asyncio.to_thread(conn.recv)  # the bot has stopped streaming
    await streamer.stop()


# -- the bot ---------------------------------------------------------------------------------------

async def bench_stream(*, n_tickers: int = 500, rate: float = 5.0, n_rules: int = 100_000, seconds: float = 20.0, probes: int = 20) -> StreamFigures:
    from bot.adapters.telegram import TelegramAdapter
    from bot.app import App
    from bot.config import Config, MarketConfig, TelegramConfig
    from bot.market.stream import YahooStream
    from tests.telegram.fake_bot_api import FakeBotApi

    class TimedBotApi(FakeBotApi):
        """The fake Bot API, noting when each alert arrived."""

        def __init__(self) -> None:
            super().__init__(token=TOKEN)
            self.arrived: dict[int, float] = {}
            self._seen = 0

        async def _notify(self) -> None:
            now = time.monotonic()
            for request in self.requests[self._seen:]:
                found = ALERT_ID.search(request.text) if request.method == "sendMessage" else None
                if found:
                    self.arrived.setdefault(int(found.group(1)), now)
            self._seen = len(self.requests)
            await super()._notify()

    rungs = int(seconds * rate * STEP / RUNG) + 2
    rules = bench_rules(n_rules, n_tickers, probes, rungs, random.Random(5))
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_streamer_process, args=(child, n_tickers, probes, rate, seconds), daemon=True)
    process.start()
    url = await asyncio.to_thread(parent.recv)
    api = TimedBotApi()
    await api.start()
    clock = ShiftedClock()
    with tempfile.TemporaryDirectory() as folder:
        config = Config(market=MarketConfig(stream_url=url), telegram=TelegramConfig(enabled=True, api_base_url=api.base_url))
        app = await App.create(config, clock=clock, market=FlatMarket(clock), storage_path=Path(folder) / "bench.sqlite3", features=(),
                               stream=YahooStream(url=url, clock=clock))
        app.rules._engine.load(rules, {})  # straight into the index: 100,000 stored one by one would take minutes
        assert app.feed is not None
        started = time.perf_counter()
        await app.price_check.run_once()  # the first poll: every ticker's baseline at 100
        poll_seconds = time.perf_counter() - started
        adapter = TelegramAdapter(config.telegram, TOKEN, app.router, describer=app.describer(), poll_timeout=10)
        await adapter.start()
        app.add_adapter(adapter)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(app.feed.run()), asyncio.create_task(app.dispatcher.run(stop))]
        wall, cpu = time.monotonic(), time.process_time()
        done = await asyncio.to_thread(parent.recv)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        sent, frames, _, _ = done
        await asyncio.sleep(2.0)  # the last alerts on their way
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        batches = app.feed.batches
        await app.close()
    parent.send("stop")
    await api.stop()
    process.join(timeout=5)

    first_at: dict[int, float] = {}
    ladders: dict[str, list[tuple[float, int]]] = {}
    for rule in rules[: probes * rungs]:
        ladders.setdefault(rule.ticker, []).append((rule.threshold, rule.id))
    for ticker, price, when in sent:
        for threshold, rule_id in ladders.get(ticker, []):
            if price >= threshold and rule_id not in first_at:
                first_at[rule_id] = when
    latencies = sorted(api.arrived[rule_id] - when for rule_id, when in first_at.items() if rule_id in api.arrived)
    if not latencies:
        latencies = [float("nan")]
    return StreamFigures(
        tickers=n_tickers, ticks_per_second=frames / wall if wall else 0.0, rules=len(rules), samples=len(latencies),
        p50=statistics.median(latencies), p99=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], worst=latencies[-1],
        cpu_share=cpu / wall if wall else 0.0, batches=batches, poll_check_seconds=poll_seconds,
    )


def print_stream_figures(*, seconds: float = 20.0) -> None:
    """What `make bench` prints for streaming (called from bench/__main__.py)."""
    figures = asyncio.run(bench_stream(seconds=seconds))
    print(f"streamed quotes: {figures.tickers} tickers at {figures.ticks_per_second:,.0f} ticks/s, {figures.rules:,} rules loaded")
    print(f"  tick -> sendMessage, p50    {figures.p50 * 1000:8.0f} ms   ({figures.samples} alerts measured; goal p99 < 2000 ms)")
    print(f"  tick -> sendMessage, p99    {figures.p99 * 1000:8.0f} ms   (worst {figures.worst * 1000:.0f} ms)")
    print(f"  CPU while streaming         {figures.cpu_share * 100:8.0f} % of one core   ({figures.batches} batches checked)")
    print(f"  polling instead             up to 60 s + {figures.poll_check_seconds * 1000:.0f} ms  (one poll interval, default 60 s, plus one check of {figures.tickers} tickers)")
