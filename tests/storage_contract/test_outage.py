"""A database that goes away while running: the check that could not be recorded is neither lost nor
doubled once it is back (the rule book does not run ahead of storage), and the market timer waits,
saying so once with a count, then resumes."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.core.clock import ReplayClock
from bot.core.engine import RuleEngine
from bot.core.market import Quote
from bot.core.models import ChatKind, ChatRef, Rule, RuleKind, RuleSource, UserRef
from bot.core.ports import StorageError
from bot.core.rules import RuleBook
from bot.market.calendar import MarketCalendar
from jobs.scheduler import MarketTimer
from storage.postgres import PostgresStorage
from tests.conftest import ny
from tests.storage_contract.test_postgres_open import Proxy

SESSION = date(2025, 1, 27)
NOW = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
ANN = UserRef("telegram", "101", "Ann")


def quote(price: float) -> Quote:
    return Quote("NVDA", price, prev_close=100.0, session=SESSION, at=NOW)


async def test_a_crossing_that_could_not_be_recorded_fires_again_once_storage_is_back(pg_url: str, calendar: MarketCalendar) -> None:
    async with Proxy(pg_url) as proxy:
        storage = await PostgresStorage.open(proxy.url)
        try:
            await storage.db.execute("TRUNCATE rules, ticker_state, outbox RESTART IDENTITY")
            book = RuleBook(store=storage.rules, checks=storage.checks, engine=RuleEngine(rearm_band_pct=0.5), market=Any, calendar=calendar, clock=ReplayClock(NOW))  # type: ignore[arg-type]
            await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 105.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
            await book.load()
            await book.record_check([book.evaluate(quote(101.0), now=NOW)], [], now=NOW)  # a baseline below the level

            crossing = book.evaluate(quote(110.0), now=NOW)
            assert len(crossing.firings) == 1
            await proxy.cut()
            with pytest.raises(StorageError):
                await book.record_check([crossing], [], now=NOW)
            with pytest.raises(StorageError):  # still away: the next check cannot start from stale memory
                await book.reload_if_stale()
            await proxy.restore()

            await book.reload_if_stale()
            again = book.evaluate(quote(110.0), now=NOW)
            assert len(again.firings) == 1, "the crossing storage never recorded must fire again, not be lost"
            await book.record_check([again], [], now=NOW)
            assert book.evaluate(quote(111.0), now=NOW).firings == []  # recorded now: once, not twice
        finally:
            await storage.close()


async def test_the_timer_waits_while_storage_is_away_says_so_once_and_retries_what_it_owed(calendar: MarketCalendar, caplog: pytest.LogCaptureFixture) -> None:
    clock = ReplayClock(ny(SESSION, 16, 5))  # after the close: one check still owed for the official close
    away = {"on": True}
    checks: list[datetime] = []

    async def check() -> None:
        if away["on"]:
            raise StorageError("postgresql://db/tb: the database cannot be reached (connection refused)")
        checks.append(clock.now())

    daily_runs: list[date] = []

    class Job:
        name = "reminders"
        at = time(16, 0)

        async def run(self, day: date) -> None:
            if away["on"]:
                raise StorageError("away")
            daily_runs.append(day)

    timer = MarketTimer(clock=clock, calendar=calendar, check=check, daily_jobs=[Job()])
    caplog.set_level(logging.INFO, logger="jobs.scheduler")
    for _ in range(5):
        assert await timer.tick() == "storage-away"
        clock.set(clock.now() + timedelta(seconds=60))
    away["on"] = False
    assert await timer.tick() == "checked-after-close"
    assert await timer.tick() == "idle"
    assert len(checks) == 1 and daily_runs == [SESSION]
    lines = [r.getMessage() for r in caplog.records if r.name == "jobs.scheduler"]
    assert len([line for line in lines if "storage unreachable" in line]) == 1, lines
    assert any("storage reachable again after 5 failed ticks" in line for line in lines), lines
