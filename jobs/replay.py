"""Replay: step a ReplayClock through exchange sessions and drive the live market timer.

The timer decides what runs, exactly as live; replay only chooses the moments it looks at.
For each session: 08:00 (the daily jobs due before the open), a tick just after the open (the
CSV provider serves the open), one after the close (it serves the close), then each later daily
job's time (earnings recaps at 16:30). The dispatcher delivers what was queued after each step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, time, timedelta

from bot.core.calendar import Calendar, Session
from bot.core.clock import ReplayClock
from jobs.scheduler import MarketTimer

MORNING = time(8, 0)
Step = Callable[[], Awaitable[object]]


async def replay_sessions(
    *,
    clock: ReplayClock,
    calendar: Calendar,
    timer: MarketTimer,
    sessions: list[Session],
    deliver: Step,
    progress: Callable[[Session, int, int], None] | None = None,
    batch: Callable[[], AbstractAsyncContextManager[object]] | None = None,
) -> int:
    """Replay the sessions given; returns how many ran. With `batch`, each session's writes
    (checks, outbox, deliveries marked sent) go to storage together, in one batch."""
    for index, session in enumerate(sessions):
        async with batch() if batch is not None else nullcontext():
            _move(clock, datetime.combine(session.day, MORNING, calendar.tz))
            await timer.run_daily_jobs()
            await deliver()
            for moment in (session.open + timedelta(minutes=1), session.close + timedelta(minutes=5)):
                _move(clock, moment)
                await timer.tick()
                await deliver()
            await _later_daily_jobs(clock, calendar, timer, session)
            await deliver()
        if progress is not None:
            progress(session, index + 1, len(sessions))
    return len(sessions)


async def _later_daily_jobs(clock: ReplayClock, calendar: Calendar, timer: MarketTimer, session: Session) -> None:
    """The daily jobs timed after the close (earnings recaps), each at its own time."""
    after = clock.now().astimezone(calendar.tz).time()
    for at in sorted({job.at for job in timer.daily_jobs if job.at > after}):
        _move(clock, datetime.combine(session.day, at, calendar.tz))
        await timer.run_daily_jobs()


def _move(clock: ReplayClock, moment: datetime) -> None:
    if moment > clock.now():
        clock.set(moment)
