"""Market time: when to check prices and run daily jobs, decided by the exchange calendar.

`MarketTimer.tick()` holds the decisions and is driven by any clock (tests call it
directly); `MarketScheduler` asks APScheduler to call it every `poll_seconds`.
No checks on holidays; during a session, a check every tick; once the session has
closed (early closes included), exactly one more check to see the official close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.feature import DailyJob
from bot.core.ports import StorageError

log = logging.getLogger(__name__)


class MarketTimer:
    def __init__(
        self,
        *,
        clock: Clock,
        calendar: Calendar,
        check: Callable[[], Awaitable[object]],
        daily_jobs: Sequence[DailyJob] = (),
        paused: Callable[[], bool] | None = None,
    ) -> None:
        self.clock = clock
        self.calendar = calendar
        self.check = check
        self.paused = paused  # while True (storage refuses writes), no new check starts
        self._was_paused = False
        self.daily_jobs = daily_jobs  # each runs once per exchange calendar day, after its market time
        self._closed_checked: date | None = None
        self._daily_done: dict[int, date] = {}
        self._away_ticks = 0  # ticks in a row that storage could not be reached (StorageError)

    async def tick(self) -> str:
        """Do what the market's clock calls for now; return a word for logs and tests.

        While storage cannot be used (StorageError), the check and daily jobs a tick owed are owed
        still: each tick tries again; the wait is said once when it begins and once, with a count,
        when it ends."""
        try:
            done = await self._tick()
        except StorageError as problem:
            self._away_ticks += 1
            if self._away_ticks == 1:
                log.warning("storage unreachable (%s): price checks and daily jobs wait and retry every tick", problem)
            return "storage-away"
        if self._away_ticks:
            log.warning("storage reachable again after %d failed ticks: price checks and daily jobs resume", self._away_ticks)
            self._away_ticks = 0
        return done

    async def _tick(self) -> str:
        now = self.clock.now()
        if self._checks_paused():
            return "paused"
        await self.run_daily_jobs()
        if self.calendar.current_session(now) is not None:
            await self.check()
            return "checked"
        last = self.calendar.last_closed_or_open_session(now)
        session = self.calendar.session(last)
        if session is not None and now > session.close and self._closed_checked != last:
            self._closed_checked = last
            try:
                await self.check()
            except StorageError:
                self._closed_checked = None  # not done: the next tick checks the close again
                raise
            return "checked-after-close"
        return "idle"

    def _checks_paused(self) -> bool:
        """Whether storage refuses writes; said once when checks pause and once when they resume."""
        paused = bool(self.paused and self.paused())
        if paused != self._was_paused:
            if paused:
                log.warning("price checks and daily jobs paused: storage refuses writes (deliveries are paused too)")
            else:
                log.warning("storage accepts writes again: price checks and daily jobs resume")
            self._was_paused = paused
        return paused

    async def run_daily_jobs(self) -> None:
        """Run each daily job whose market time has passed today and that has not run today."""
        local = self.clock.now().astimezone(self.calendar.tz)
        for index, job in enumerate(self.daily_jobs):
            if local.time() >= job.at and self._daily_done.get(index) != local.date():
                self._daily_done[index] = local.date()
                try:
                    await job.run(local.date())
                except StorageError:
                    del self._daily_done[index]  # not done: the next tick runs it again
                    raise
                except Exception:
                    log.exception("daily job %s failed", job.name)


class MarketScheduler:
    """APScheduler calling `timer.tick` every `poll_seconds` on the running loop.

    Stopping pauses the scheduler, lets a tick that is under way finish (APScheduler's
    shutdown would cancel it mid-write) for up to `timeout` seconds, then cancels it (a
    provider call may hang; the tick's writes are transactions, so a cancelled one leaves
    nothing half-done), and shuts down.
    """

    STOP_TIMEOUT = 2.0  # seconds a running tick may take to finish at shutdown
    CANCEL_GRACE = 0.2  # seconds a cancelled tick may take to unwind before it is left behind

    def __init__(self, timer: MarketTimer, *, poll_seconds: int) -> None:
        self.timer = timer
        self.poll_seconds = poll_seconds
        self.scheduler = AsyncIOScheduler(timezone=timer.calendar.tz)
        self._running: asyncio.Task[str] | None = None

    def start(self) -> None:
        self.scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self.poll_seconds),
            id="market-tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(60, self.poll_seconds),  # the default of 1 s would skip late runs
            next_run_time=self.timer.clock.now(),
        )
        self.scheduler.start()

    async def stop(self, *, timeout: float = STOP_TIMEOUT) -> bool:  # noqa: ASYNC109 (how long a running tick may finish)
        """Stop ticking; True if no tick had to be abandoned."""
        self.scheduler.pause()
        finished = await self._let_finish(timeout)
        self.scheduler.shutdown(wait=False)
        return finished

    async def _let_finish(self, timeout: float) -> bool:  # noqa: ASYNC109
        running = self._running
        if running is None or running.done():
            return True
        await asyncio.wait({running}, timeout=timeout)
        if running.done():
            return True
        running.cancel()
        await asyncio.wait({running}, timeout=self.CANCEL_GRACE)
        log.warning("a market tick was still running %.1f s after the stop; it was cancelled", timeout)
        return False

    async def _tick(self) -> None:
        # Run the tick as its own task, so that a shutdown waits for it instead of cancelling it.
        self._running = asyncio.ensure_future(self.timer.tick())
        try:
            result = await asyncio.shield(self._running)
            log.debug("market tick: %s", result)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("market tick failed; the next one runs as scheduled")
