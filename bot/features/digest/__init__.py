"""Digests: `/digest on|off [HH:MM]`. A chat that turns them on gets, each trading day, a brief
before the open (yesterday's moves of what it follows, the analyst's levels within 5 %, today's
earnings reports) and a wrap after the close (the day's moves, the alerts it got, tomorrow's
reports).

    desk.py      what a brief and a wrap say, and the daily jobs that queue them
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, time

from bot.core.commands import Command
from bot.core.feature import AlertKindSpec, DailyJob, FeatureDefaults
from bot.core.messages import AlertKind
from bot.core.ports import OutboxStore
from bot.core.router import Context
from bot.features.digest.desk import BRIEF_SLOTS, WRAP_AT, DigestDesk, describe_digest, digest_command_spec


class DigestFeature(FeatureDefaults):
    name = "digest"

    def __init__(self, context: Context, *, outbox: OutboxStore) -> None:
        self.desk = DigestDesk(context, outbox=outbox)

    def commands(self) -> Sequence[Command]:
        return (digest_command_spec(self.desk),)

    def daily_jobs(self) -> Sequence[DailyJob]:
        briefs = [DailyJob(slot, self._brief_job(slot), f"digest brief {slot:%H:%M}") for slot in BRIEF_SLOTS]
        return (*briefs, DailyJob(WRAP_AT, self.desk.wrap, "digest wrap"))

    def _brief_job(self, slot: time) -> Callable[[date], Awaitable[int]]:
        async def run(day: date) -> int:
            return await self.desk.brief(day, slot)

        return run

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {AlertKind.DIGEST: AlertKindSpec(describe_digest, actions=lambda alert: ())}


__all__ = ["DigestFeature"]
