"""Catalysts beyond earnings: an admin names an event on a ticker's day (NVDA's GTC keynote), and
the chats subscribed to the ticker's earnings (`/subscribe NVDA`) get what they get for a report:

- a reminder from the morning `days` trading days before (their subscription's days) until the
  day before;
- a note on the morning of the day;
- a recap after the close of the first session on the news (the day itself when it is a session,
  else the next one): the gap at the open and the change at the close.

Like every job, it queues alerts in the outbox with stable dedupe keys and wakes the dispatcher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.market import MarketData, MarketDataError
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.ports import EarningsStore, OutboxStore
from bot.core.routing import Routing, dedupe_key, subject

log = logging.getLogger(__name__)

MORNING = time(8, 5)  # reminders and day-of notes, before the open
EVENING = time(16, 35)  # recaps, after the close
RECAP_WITHIN_DAYS = 10  # a recap missed for longer than this is not sent


@dataclass(frozen=True, slots=True)
class Catalyst:
    ticker: str
    day: date
    name: str


class CatalystStore(Protocol):
    """Implemented by `storage.sqlite.catalysts`."""

    async def set(self, ticker: str, day: date, name: str, *, by: str, now: datetime) -> bool: ...

    async def clear(self, ticker: str, day: date | None = None) -> int: ...

    async def between(self, start: date, end: date, ticker: str | None = None) -> list[tuple[str, date, str]]: ...


class CatalystDesk:
    def __init__(
        self,
        *,
        store: CatalystStore,
        subscriptions: EarningsStore,
        outbox: OutboxStore,
        routing: Routing,
        market: MarketData,
        calendar: Calendar,
        clock: Clock,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.routing = routing
        self.market = market
        self.calendar = calendar
        self.clock = clock
        self.on_queued = on_queued

    def today(self) -> date:
        return self.calendar.local_date(self.clock.now())

    def reaction_session(self, day: date) -> date:
        return day if self.calendar.is_session(day) else self.calendar.next_session(day)

    def trading_days_until(self, day: date, today: date | None = None) -> int:
        today = today or self.today()
        return 0 if day <= today else len(self.calendar.sessions(today + timedelta(days=1), day))

    async def between(self, start: date, end: date, ticker: str | None = None) -> list[Catalyst]:
        return [Catalyst(t, d, n) for t, d, n in await self.store.between(start, end, ticker)]

    async def next_of(self, ticker: str) -> Catalyst | None:
        """The ticker's next catalyst, today's included (for /primer)."""
        today = self.today()
        upcoming = await self.between(today, today + timedelta(days=3660), ticker)
        return upcoming[0] if upcoming else None

    async def run(self, day: date) -> int:
        """The daily job (morning and evening): queue the reminders, day-of notes and recaps due now."""
        now = self.clock.now()
        deliveries: list[Envelope] = []
        for catalyst in await self.between(day - timedelta(days=RECAP_WITHIN_DAYS), day + timedelta(days=40)):
            subscribers = await self.subscriptions.subscribers(catalyst.ticker)
            if not subscribers:
                continue
            base: dict[str, object] = {"name": catalyst.name, "event_day": catalyst.day.isoformat(),
                    "reaction_session": self.reaction_session(catalyst.day).isoformat()}
            about = subject(AlertKind.CATALYST_REMINDER, catalyst.ticker, catalyst.day.isoformat())
            if catalyst.day > day:
                for sub in subscribers:
                    reminder_day = self.calendar.add_sessions(catalyst.day, -sub.days_before) if sub.days_before > 0 else catalyst.day
                    if reminder_day <= day:
                        extra = {**base, "trading_days": self.trading_days_until(catalyst.day, day), "calendar_days": (catalyst.day - day).days}
                        alert = Alert(kind=AlertKind.CATALYST_REMINDER, ticker=catalyst.ticker, at=now, extra=extra)
                        deliveries.append(Envelope(sub.chat, alert, dedupe_key(f"{about}:{sub.days_before}", sub.chat)))
            elif catalyst.day == day:
                alert = Alert(kind=AlertKind.CATALYST_DAY, ticker=catalyst.ticker, at=now, extra=base)
                about = subject(AlertKind.CATALYST_DAY, catalyst.ticker, catalyst.day.isoformat())
                deliveries.extend(Envelope(s.chat, alert, dedupe_key(about, s.chat)) for s in subscribers)
            recap = await self._recap(catalyst, base, now)
            if recap is not None:
                about = subject(AlertKind.CATALYST_RECAP, catalyst.ticker, catalyst.day.isoformat())
                deliveries.extend(Envelope(s.chat, recap, dedupe_key(about, s.chat)) for s in subscribers)
        deliveries = await self.routing.reachable(deliveries)
        queued = await self.outbox.enqueue(deliveries, now=now) if deliveries else 0
        if queued and self.on_queued:
            self.on_queued()
        return queued

    async def _recap(self, catalyst: Catalyst, base: dict[str, object], now: datetime) -> Alert | None:
        """The first session on the news, once it has closed and its bar is known."""
        day = self.reaction_session(catalyst.day)
        session = self.calendar.session(day)
        if session is None or now < session.close:
            return None
        try:
            bars = await self.market.history(catalyst.ticker, day - timedelta(days=14), day)
        except MarketDataError as problem:
            log.warning("catalysts: no bars for %s's recap (%s); asked again at the next run", catalyst.ticker, problem.reason)
            return None
        bar = next((b for b in bars if b.day == day), None)
        before = [b for b in bars if b.day < day]
        if bar is None or not before or before[-1].close <= 0:
            return None
        prev = before[-1].close
        extra = {**base, "session": day.isoformat(), "open": bar.open, "prev_close": prev, "gap_pct": (bar.open / prev - 1.0) * 100.0}
        return Alert(kind=AlertKind.CATALYST_RECAP, ticker=catalyst.ticker, at=now, price=bar.close,
                     change_pct=(bar.close / prev - 1.0) * 100.0, prev_close=prev, extra=extra)
