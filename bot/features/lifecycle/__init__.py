"""Alert lifecycle: members' alerts that expire (`/alert ... until 2025-03-31`, `for 5d`) are
removed, quietly, before the first session after their last day opens. (A `once` alert is
removed by the rules owner right after its firing is recorded.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, time

from bot.core.commands import Command
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.messages import AlertKind
from bot.core.router import Context

EXPIRE_AT = time(6, 50)  # before the open, so an expired alert never sees a session after its last day


class LifecycleFeature:
    name = "lifecycle"

    def __init__(self, context: Context) -> None:
        self.context = context

    def commands(self) -> Sequence[Command]:
        return ()

    def daily_jobs(self) -> Sequence[DailyJob]:
        return (DailyJob(EXPIRE_AT, self.expire, "expired alerts"),)

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    async def expire(self, day: date) -> None:
        await self.context.rules.expire(day)

    async def start(self) -> None:
        """Remove what expired while the bot was stopped."""
        await self.context.rules.expire(self.context.calendar.local_date(self.context.clock.now()))


__all__ = ["LifecycleFeature"]
