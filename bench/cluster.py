"""Scale-out figures for `make bench`: delivery throughput with 1, 2 and 4 `tickerbell run --role delivery`
processes on one PostgreSQL database against a fake Telegram that enforces 30 messages a second
bot-wide and one a second per chat (answering 429 beyond), and one check cycle at 100,000 rules on
PostgreSQL against SQLite (the same App, the same price check, only the storage differs).

Skipped, with a line saying so, when no PostgreSQL server answers at 127.0.0.1:5432.
"""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from bench.__main__ import make_rules
from bot.config import Config, StorageConfig
from bot.core.market import Bar, EarningsEvent, Fundamentals, Quote, Split
from bot.core.models import ChatKind, ChatRef
from tests.cluster.parts import SERVER, TOKEN, SlowBotApi, cluster_config, flat_prices, fresh_database, start_tickerbell
from tests.faults.parts import NOW, alert

TELEGRAM_LIMIT = 30  # messages a second, bot-wide, as the fake enforces
CHECK_RULES, CHECK_TICKERS = 100_000, 1_000
AT = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York: in session
SESSION = date(2025, 1, 27)


async def server_answers() -> bool:
    try:
        conn = await asyncpg.connect(f"{SERVER}/postgres", timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


# -- delivery throughput ----------------------------------------------------------------------------


async def delivery_throughput(processes: int, *, alerts: int, chats: int, folder: Path) -> tuple[float, int, float]:
    """(messages a second from the first send to the last, 429 answers, seconds) for `alerts` alerts
    to `chats` private chats delivered by `processes` delivery processes sharing the limits."""
    async with fresh_database(f"bench_delivery_{processes}") as url:
        from storage.postgres import PostgresStorage

        storage = await PostgresStorage.open(url)
        api = SlowBotApi(token=TOKEN, slowest=0.02, bot_rate=TELEGRAM_LIMIT, chat_rate=1.0)
        await api.start()
        flat_prices(folder / "prices", ["TBX"])
        config = cluster_config(folder, url, api, role="delivery", extra="max_chats = 40\n")
        running = []
        try:
            running.extend([await start_tickerbell(config, folder / f"delivery-{processes}-{n}.log") for n in range(processes)])
            async with asyncio.timeout(60):
                while len(api.calls("setMyCommands")) < processes:  # noqa: ASYNC110 (another process's progress)
                    await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # the last one's dispatcher starts right after its adapter
            queued = [_envelope(n, chats) for n in range(alerts)]
            began = time.monotonic()
            await storage.outbox.enqueue(queued, now=NOW)  # NOTIFY wakes every process
            async with asyncio.timeout(alerts / 10 + 60):
                while (await storage.outbox.counts()).sent < alerts:  # noqa: ASYNC110 (other processes' progress)
                    await asyncio.sleep(0.1)
            took = time.monotonic() - began
            if api.flood_log:
                print(f"      (429s: {'; '.join(api.flood_log[:5])})")
            return api.throughput(), api.flooded, took
        finally:
            for proc in running:
                proc.send_signal(signal.SIGTERM)
            for proc in running:
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
            await api.stop()
            await storage.close()


def _envelope(n: int, chats: int):  # type: ignore[no-untyped-def]
    from bot.core.messages import Envelope

    return Envelope(ChatRef("telegram", str(9000 + n % chats), ChatKind.PRIVATE), alert(n), f"bench{n}")


# -- a check cycle at 100,000 rules ----------------------------------------------------------------


class MovingMarket:
    """Every price moves up to ±3 % a call; nothing else (no splits, earnings or fundamentals)."""

    def __init__(self, tickers: Sequence[str], seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.prices = dict.fromkeys(tickers, 100.0)

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        found = {}
        for ticker in tickers:
            if ticker in self.prices:
                self.prices[ticker] *= 1 + self.rng.uniform(-0.03, 0.03)
                found[ticker] = Quote(ticker=ticker, price=self.prices[ticker], prev_close=100.0, session=SESSION, at=AT)
        return found

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        return []

    async def splits(self, ticker: str) -> list[Split]:
        return []

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        return []

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        return None

    async def aclose(self) -> None: ...


RULE_COLUMNS = ("ticker", "kind", "threshold", "direction", "source", "owner_platform", "owner_id", "owner_name",
                "chat_platform", "chat_id", "chat_kind", "armed", "created_at")


def rule_rows(n_rules: int, n_tickers: int) -> list[tuple[object, ...]]:
    rows = []
    for rule in make_rules(n_rules, n_tickers, random.Random(7)):
        assert rule.owner is not None and rule.chat is not None
        rows.append((rule.ticker, rule.kind.value, rule.threshold, rule.direction.value, rule.source.value, rule.owner.platform,
                     rule.owner.user_id, rule.owner.display_name, rule.chat.platform, rule.chat.chat_id, rule.chat.kind.value, 1, NOW.isoformat()))
    return rows


async def check_cycle(target: str, rows: list[tuple[object, ...]], tickers: list[str], calendar: object) -> tuple[float, float, float, int]:
    """(seconds to load the rules, median ms of a check cycle, best, deliveries queued a cycle)."""
    from bot.app import App
    from bot.core.clock import ReplayClock
    from storage.factory import open_storage

    storage = await open_storage(target)
    if hasattr(storage.db, "pool"):
        async with storage.db.pool.acquire() as conn:
            await conn.copy_records_to_table("rules", records=rows, columns=RULE_COLUMNS)
    else:
        marks = ",".join("?" for _ in RULE_COLUMNS)
        await storage.db.conn.executemany(f"INSERT INTO rules ({', '.join(RULE_COLUMNS)}) VALUES ({marks})", rows)
        await storage.db.conn.commit()
    await storage.close()
    url = target if target.startswith("postgresql") else ""
    config = Config(storage=StorageConfig(path=target if not url else StorageConfig.path, url=url))
    began = time.perf_counter()
    app = await App.create(config, clock=ReplayClock(AT), market=MovingMarket(tickers), calendar=calendar, features=())  # type: ignore[arg-type]
    loaded = time.perf_counter() - began
    try:
        cycles = []
        queued = []
        for _ in range(5):
            before = (await app.storage.outbox.counts()).pending
            began = time.perf_counter()
            await app.price_check.run_once()
            cycles.append((time.perf_counter() - began) * 1000)
            queued.append((await app.storage.outbox.counts()).pending - before)
        return loaded, statistics.median(cycles), min(cycles), int(statistics.median(queued))
    finally:
        await app.close()


async def run_cluster_bench() -> None:
    print("scale-out (PostgreSQL at 127.0.0.1:5432):")
    if not await server_answers():
        print("  skipped: no PostgreSQL server answers at 127.0.0.1:5432")
        return
    from bot.market.calendar import MarketCalendar

    with tempfile.TemporaryDirectory(prefix="tickerbell-bench-") as tmp:
        folder = Path(tmp)
        print(f"  delivery, fake Telegram enforcing {TELEGRAM_LIMIT}/s bot-wide and 1/s per chat (429 beyond), shared limits on:")
        for processes in (1, 2, 4):
            rate, flooded, took = await delivery_throughput(processes, alerts=600, chats=300, folder=folder / f"d{processes}")
            print(f"    {processes} process{'es' if processes > 1 else '  '}  {rate:5.1f} messages/s  ({rate / TELEGRAM_LIMIT:4.0%} of the limit; "
                  f"{flooded} answers 429; 600 alerts in {took:.1f} s)")
        tickers = [f"T{n:05d}" for n in range(CHECK_TICKERS)]
        rows = rule_rows(CHECK_RULES, CHECK_TICKERS)
        calendar = MarketCalendar()
        print(f"  one check cycle at {CHECK_RULES:,} rules over {CHECK_TICKERS:,} tickers (prices moving ±3 %; median of 5):")
        sqlite = await check_cycle(str(folder / "check.sqlite3"), rows, tickers, calendar)
        async with fresh_database("bench_check") as url:
            postgres = await check_cycle(url, rows, tickers, calendar)
        for name, (loaded, median, best, queued) in (("SQLite", sqlite), ("PostgreSQL", postgres)):
            print(f"    {name:<10}  {median:7.0f} ms a cycle (best {best:.0f} ms; {queued:,} deliveries queued a cycle); loading the rules {loaded:.1f} s")


def main() -> None:
    asyncio.run(run_cluster_bench())


if __name__ == "__main__":
    main()
