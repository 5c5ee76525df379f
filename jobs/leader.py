"""The market timer when several processes share one database: only the lease holder ticks.

`LeasedTimer` is asked every `lease_seconds` (often, so that a takeover is quick) and each time
makes sure this process holds the market-timer lease (`Lease.hold`). A process that does not hold
it does nothing. A process that has just taken it first reloads the rules and each ticker's state
from storage (the previous leader may have recorded checks since this process loaded them), then
ticks at once; after that it ticks every `poll_seconds`, as one process would. Rules changed by
another process (`rules_changed()`) are reloaded before the next tick.

Why the next check neither repeats nor skips: a check is recorded in one transaction (ticker
states, armed flags and the deliveries it owes). A leader that died before committing recorded
nothing, so the new leader, which reloads from storage, sees the same crossing and records it; a
leader that committed left the crossing recorded (the rule disarmed, the last price moved), so the
new leader does not see it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.feature import DailyJob
from bot.core.ports import Lease
from jobs.scheduler import MarketTimer

log = logging.getLogger(__name__)


class LeasedTimer(MarketTimer):
    def __init__(
        self,
        *,
        lease: Lease,
        reload: Callable[[], Awaitable[object]],
        poll_seconds: float,
        clock: Clock,
        calendar: Calendar,
        check: Callable[[], Awaitable[object]],
        daily_jobs: Sequence[DailyJob] = (),
        paused: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(clock=clock, calendar=calendar, check=check, daily_jobs=daily_jobs, paused=paused)
        self.lease = lease
        self.reload = reload
        self.poll = timedelta(seconds=poll_seconds)
        self.leading = False
        self.took_lease_at: datetime | None = None
        self._stale = False
        self._next_tick: datetime | None = None

    def is_leading(self) -> bool:
        """Whether this process holds the lease (streamed ticks are checked only here)."""
        return self.leading

    def rules_changed(self) -> None:
        """Another process changed rules: reload them before the next tick (if leading)."""
        self._stale = True

    async def tick(self) -> str:
        try:
            held = await self.lease.hold()
        except Exception:
            log.exception("market-timer lease: asking for it failed; not leading")
            held = False
        if not held:
            if self.leading:
                log.warning("market-timer lease lost: this process stops running price checks and daily jobs")
            self.leading = False
            return "standby"
        if not self.leading:
            self._stale = False
            await self.reload()  # what the previous leader recorded
            self._closed_checked = None  # the day's after-close check and daily jobs: asked afresh
            self._daily_done.clear()
            self.leading = True
            self.took_lease_at = self.clock.now()
            self._next_tick = None
            log.warning("market-timer lease taken: this process now runs price checks and daily jobs")
        elif self._stale:
            self._stale = False
            await self.reload()
        now = self.clock.now()
        if self._next_tick is not None and now < self._next_tick:
            return "leading"
        self._next_tick = now + self.poll
        return await super().tick()
