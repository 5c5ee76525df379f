"""Replay: step a ReplayClock through exchange sessions and run the live pipeline at each step.

For each session: the daily jobs before the open, a price check just after the open
(the CSV provider serves the open), one after the close (it serves the close), then the
after-close jobs (earnings recaps), each followed by the dispatcher delivering what was queued.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import ReplayClock
from bot.market.calendar import MarketCalendar, Session

NEW_YORK = ZoneInfo("America/New_York")
Step = Callable[[], Awaitable[object]]


async def replay_sessions(
    *,
    clock: ReplayClock,
    calendar: MarketCalendar,
    start: date,
    end: date,
    check: Step,
    deliver: Step,
    before_open: Callable[[date], Awaitable[object]] | None = None,
    after_close: Callable[[date], Awaitable[object]] | None = None,
    progress: Callable[[Session, int, int], None] | None = None,
) -> int:
    """Replay every session from start to end; returns how many sessions ran."""
    sessions = calendar.sessions(start, end)
    for index, session in enumerate(sessions):
        morning = datetime.combine(session.day, time(8, 0), NEW_YORK)
        if morning > clock.now():
            clock.set(morning)
        if before_open is not None:
            await before_open(session.day)
            await deliver()
        for moment in (session.open + timedelta(minutes=1), session.close + timedelta(minutes=5)):
            if moment > clock.now():
                clock.set(moment)
            await check()
            await deliver()
        if after_close is not None:
            await after_close(session.day)
            await deliver()
        if progress is not None:
            progress(session, index + 1, len(sessions))
    return len(sessions)
