"""Market time: no checks on holidays or at night, a check per tick in a session, one after the close."""

from __future__ import annotations

import asyncio
from datetime import date

from bot.core.clock import ReplayClock
from bot.core.feature import DailyJob
from bot.market.calendar import MarketCalendar
from jobs.scheduler import MarketScheduler, MarketTimer
from tests.conftest import ny


def timer_at(start, calendar: MarketCalendar) -> tuple[MarketTimer, ReplayClock, list[str]]:
    clock = ReplayClock(start)
    runs: list[str] = []

    async def check() -> None:
        runs.append(clock.now().isoformat())

    return MarketTimer(clock=clock, calendar=calendar, check=check), clock, runs


async def test_a_session_is_checked_every_tick_and_once_after_the_close(calendar: MarketCalendar) -> None:
    timer, clock, runs = timer_at(ny(date(2025, 1, 27), 9, 0), calendar)
    assert await timer.tick() == "checked-after-close"  # on start: catch up on the close of Friday the 24th
    clock.set(ny(date(2025, 1, 27), 9, 10))
    assert await timer.tick() == "idle"  # before the open
    clock.set(ny(date(2025, 1, 27), 9, 31))
    assert await timer.tick() == "checked"
    clock.set(ny(date(2025, 1, 27), 15, 59))
    assert await timer.tick() == "checked"
    clock.set(ny(date(2025, 1, 27), 16, 1))
    assert await timer.tick() == "checked-after-close"
    clock.set(ny(date(2025, 1, 27), 16, 2))
    assert await timer.tick() == "idle"
    clock.set(ny(date(2025, 1, 27), 23, 0))
    assert await timer.tick() == "idle"
    assert len(runs) == 4


async def test_no_check_on_the_day_of_mourning_2025_01_09(calendar: MarketCalendar) -> None:
    timer, clock, runs = timer_at(ny(date(2025, 1, 8), 17, 0), calendar)
    assert await timer.tick() == "checked-after-close"  # the close of the 8th
    for hour in (9, 11, 14, 16, 18):
        clock.set(ny(date(2025, 1, 9), hour, 30))
        assert await timer.tick() == "idle"
    assert len(runs) == 1


async def test_an_early_close_is_respected(calendar: MarketCalendar) -> None:
    timer, clock, _runs = timer_at(ny(date(2024, 11, 29), 12, 30), calendar)  # the day after Thanksgiving closes at 13:00
    assert await timer.tick() == "checked"
    clock.set(ny(date(2024, 11, 29), 13, 5))
    assert await timer.tick() == "checked-after-close"
    clock.set(ny(date(2024, 11, 29), 14, 30))
    assert await timer.tick() == "idle"
    assert calendar.session(date(2024, 11, 29)).early_close


async def test_daily_jobs_run_once_a_day_after_their_time(calendar: MarketCalendar) -> None:
    from datetime import time

    timer, clock, _ = timer_at(ny(date(2025, 1, 27), 7, 0), calendar)
    days: list[date] = []

    async def job(day: date) -> None:
        days.append(day)

    timer.daily_jobs = [DailyJob(time(8, 0), job, "test job")]
    await timer.tick()
    clock.set(ny(date(2025, 1, 27), 8, 1))
    await timer.tick()
    clock.set(ny(date(2025, 1, 27), 12, 0))
    await timer.tick()
    clock.set(ny(date(2025, 1, 28), 8, 30))
    await timer.tick()
    assert days == [date(2025, 1, 27), date(2025, 1, 28)]


async def test_apscheduler_runs_the_tick_with_a_generous_misfire_grace(calendar: MarketCalendar) -> None:
    timer, _, _ = timer_at(ny(date(2025, 1, 27), 7, 0), calendar)
    scheduler = MarketScheduler(timer, poll_seconds=60)
    scheduler.start()
    try:
        [job] = scheduler.scheduler.get_jobs()
        assert job.misfire_grace_time >= 60  # APScheduler's default of 1 s would skip late runs
        assert job.max_instances == 1 and job.coalesce
    finally:
        await scheduler.stop()


async def test_stopping_lets_a_running_tick_finish(calendar: MarketCalendar) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), []

    async def slow_check() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    timer = MarketTimer(clock=ReplayClock(ny(date(2025, 1, 27), 10, 0)), calendar=calendar, check=slow_check)
    scheduler = MarketScheduler(timer, poll_seconds=60)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    stopping = asyncio.ensure_future(scheduler.stop())
    await asyncio.sleep(0)  # let stop() begin waiting
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert finished == [True]  # not cancelled mid-write


async def test_a_tick_that_does_not_finish_is_cancelled_after_the_timeout(calendar: MarketCalendar, caplog) -> None:
    started, cancelled = asyncio.Event(), []

    async def hung_check() -> None:  # a provider call that never answers
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    timer = MarketTimer(clock=ReplayClock(ny(date(2025, 1, 27), 10, 0)), calendar=calendar, check=hung_check)
    scheduler = MarketScheduler(timer, poll_seconds=60)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await asyncio.wait_for(scheduler.stop(timeout=0.1), timeout=2) is False
    assert loop.time() - began < 0.1 + MarketScheduler.CANCEL_GRACE + 0.2
    assert cancelled == [True]
    assert "it was cancelled" in caplog.text
    assert not scheduler.scheduler.running


async def test_a_tick_that_ignores_its_cancellation_is_left_behind_in_bounded_time(calendar: MarketCalendar) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn_check() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows the cancellation, as a careless library might

    timer = MarketTimer(clock=ReplayClock(ny(date(2025, 1, 27), 10, 0)), calendar=calendar, check=stubborn_check)
    scheduler = MarketScheduler(timer, poll_seconds=60)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    assert await asyncio.wait_for(scheduler.stop(timeout=0.05), timeout=2) is False
    release.set()  # let it end, so the test leaves nothing running
