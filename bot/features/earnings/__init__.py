"""Earnings catalysts: report dates, reminders before and on the day, and a recap of the move after.

    desk.py      the dates and the daily job that queues reminders and recaps
    commands.py  /earnings, /subscribe, /unsubscribe, /subscriptions, /setearnings
    describe.py  what its alerts say
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.commands import Command
from bot.core.feature import AlertKindSpec, DailyJob, FeatureDefaults
from bot.core.messages import AlertKind
from bot.core.ports import OutboxStore
from bot.core.router import Context
from bot.features.earnings.commands import earnings_commands
from bot.features.earnings.describe import EARNINGS_KINDS
from bot.features.earnings.desk import EVENING, MORNING, EarningsDesk


class EarningsFeature(FeatureDefaults):
    name = "earnings"

    def __init__(self, context: Context, *, outbox: OutboxStore) -> None:
        self.desk = EarningsDesk(
            store=context.store.earnings,
            watches=context.store.watches,
            outbox=outbox,
            routing=context.routing,
            market=context.market,
            calendar=context.calendar,
            clock=context.clock,
            on_queued=context.wake_dispatcher,
        )

    def commands(self) -> Sequence[Command]:
        return earnings_commands(self.desk)

    def daily_jobs(self) -> Sequence[DailyJob]:
        return (DailyJob(MORNING, self.desk.run, "earnings reminders"), DailyJob(EVENING, self.desk.run, "earnings recaps"))

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return EARNINGS_KINDS


__all__ = ["EarningsDesk", "EarningsFeature"]
