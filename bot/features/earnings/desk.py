"""The earnings watch: report dates, reminders before and on the day, and a recap after the
first session that trades on the news.

Dates come from the provider (`MarketData.earnings()`), refreshed once a day per ticker; an
admin's date (`/setearnings`) wins until the provider says something new about that quarter.
Every date that was once the next report is kept, so that recaps and "the move after the last
report" read from storage, not from a provider that may have forgotten it.

Like every job, this one never calls a platform: it queues alerts in the outbox with stable
dedupe keys (nothing repeats across restarts) and wakes the dispatcher.

When things happen, for a chat subscribed with `days` (1 by default):

- reminder: from the morning `days` trading days before the report (holidays skipped), until
  the day before it;
- on the day: the morning run (08:00 New York) says "before the open" or "after the close
  today"; a bmo reminder is dropped once the session has opened, the others once it closed;
- recap: after the close of the first session trading on the news (the report day for bmo,
  the next session for amc and for an unknown time), with the gap at the open and the change
  at the close; the evening run (16:30) sends it, the next morning's run catches up;
- moved: when the date (or a known time) of the upcoming report changes, once per change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.market import EarningsEvent, EarningsTime, MarketData, MarketDataError
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.ports import EarningsStore, EarningsSubscription, OutboxStore, WatchStore
from bot.core.routing import Routing, dedupe_key, subject

log = logging.getLogger(__name__)

MORNING = time(8, 0)  # reminders and day-of, before the open
EVENING = time(16, 30)  # recaps, after the close
SAME_QUARTER_DAYS = 45  # a provider date this close to ours is about the same report
MAX_DAYS_BEFORE = 10

TIMING_WORDS = {
    EarningsTime.BEFORE_OPEN: "before the open",
    EarningsTime.AFTER_CLOSE: "after the close",
    EarningsTime.UNKNOWN: "time not announced",
}



@dataclass(frozen=True, slots=True)
class Report:
    """One earnings report as we believe it."""

    ticker: str
    day: date
    time: EarningsTime = EarningsTime.UNKNOWN
    source: str = "provider"  # provider | admin
    provider_day: date | None = None  # for an admin's date: what the provider said then
    provider_time: EarningsTime | None = None

    @property
    def timing(self) -> str:
        return TIMING_WORDS[self.time]


@dataclass(frozen=True, slots=True)
class Reaction:
    """The first session that traded on a report: the gap at the open, the change at the close."""

    report: Report
    session: date
    prev_close: float
    open: float
    close: float
    report_day_change_pct: float | None = None  # for an unknown time: the report day's own change

    @property
    def gap_pct(self) -> float:
        return (self.open / self.prev_close - 1.0) * 100.0

    @property
    def change_pct(self) -> float:
        return (self.close / self.prev_close - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class Move:
    old: Report
    new: Report


class _Decision(Enum):
    KEEP = "keep"
    UPDATE = "update"  # same report, quietly: the provider confirmed an admin's date or gave the time
    MOVE = "move"  # the date (or a known time) changed: subscribers are told


def parse_timing(text: str | None) -> EarningsTime:
    try:
        return EarningsTime((text or "unknown").lower())
    except ValueError:
        return EarningsTime.UNKNOWN


def same_quarter(events: Iterable[EarningsEvent], day: date) -> EarningsEvent | None:
    """The provider's event about the same report as `day`: within SAME_QUARTER_DAYS, one with a
    known time before an untimed placeholder (Yahoo's estimated ranges), then the nearest."""
    near = [e for e in events if abs((e.day - day).days) <= SAME_QUARTER_DAYS]
    return min(near, key=lambda e: (e.time is EarningsTime.UNKNOWN, abs((e.day - day).days), e.day)) if near else None


def upcoming_event(events: Iterable[EarningsEvent], ours: Iterable[Report], today: date) -> EarningsEvent | None:
    """The provider's next report from `today` on, skipping a date about a quarter we already
    hold (say the provider still shows the date an admin corrected, after the real report)."""
    held = [r.day for r in ours if r.day < today]
    for event in events:
        if event.day >= today and all(abs((event.day - day).days) > SAME_QUARTER_DAYS for day in held):
            return event
    return None


def decide(current: Report, match: EarningsEvent) -> _Decision:
    """What the provider's word about the current quarter does to our date."""
    if current.source == "admin":
        if match.day == current.day and match.time in (current.time, EarningsTime.UNKNOWN):
            return _Decision.UPDATE  # the provider confirms the admin's date
        if (match.day, match.time) != (current.provider_day, current.provider_time):
            return _Decision.MOVE  # the provider published something new since the admin's correction
        return _Decision.KEEP  # the provider still says what the admin corrected
    if match.day == current.day:
        if match.time is current.time or match.time is EarningsTime.UNKNOWN:
            return _Decision.KEEP
        if current.time is EarningsTime.UNKNOWN:
            return _Decision.UPDATE  # the time became known: no news for subscribers
    elif match.time is EarningsTime.UNKNOWN and current.time is not EarningsTime.UNKNOWN:
        return _Decision.KEEP  # an untimed estimate does not move a dated, timed report
    return _Decision.MOVE


class EarningsDesk:
    """Report dates, subscriptions' reminders and recaps. Built once by the earnings feature."""

    def __init__(
        self,
        *,
        store: EarningsStore,
        watches: WatchStore,
        outbox: OutboxStore,
        routing: Routing,
        market: MarketData,
        calendar: Calendar,
        clock: Clock,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.watches = watches
        self.outbox = outbox
        self.routing = routing
        self.market = market
        self.calendar = calendar
        self.clock = clock
        self.on_queued = on_queued
        self._refreshed: dict[str, date] = {}  # ticker -> the day its dates were last read from the provider
        self._events: dict[str, list[EarningsEvent]] = {}

    # -- time ----------------------------------------------------------------------------

    def today(self) -> date:
        return self.calendar.local_date(self.clock.now())

    def reaction_session(self, report: Report) -> date:
        """The first session trading on the news: the report day for bmo, else the next session."""
        if report.time is EarningsTime.BEFORE_OPEN and self.calendar.is_session(report.day):
            return report.day
        return self.calendar.next_session(report.day)

    def reminder_day(self, report: Report, days: int) -> date:
        """`days` trading days before the report (holidays and weekends skipped)."""
        return self.calendar.add_sessions(report.day, -days) if days > 0 else report.day

    def trading_days_until(self, day: date, today: date | None = None) -> int:
        today = today or self.today()
        if day <= today:
            return 0
        return len(self.calendar.sessions(today + timedelta(days=1), day))

    # -- dates -----------------------------------------------------------------------------

    async def reports(self, ticker: str) -> list[Report]:
        """Every report date we keep for a ticker, oldest first."""
        return [
            Report(
                ticker=row.ticker,
                day=row.day,
                time=parse_timing(row.time),
                source=row.source,
                provider_day=row.provider_day,
                provider_time=parse_timing(row.provider_time) if row.provider_time else None,
            )
            for row in await self.store.dates(ticker)
        ]

    async def provider_events(self, ticker: str) -> list[EarningsEvent] | None:
        """The provider's dates, or None when it cannot answer now."""
        try:
            events = await self.market.earnings(ticker)
        except MarketDataError:
            log.warning("earnings: the provider has no dates for %s right now", ticker)
            return None
        return sorted(events, key=lambda e: e.day)

    async def refresh(self, ticker: str, *, today: date | None = None, force: bool = False) -> list[Move]:
        """Bring a ticker's upcoming date up to date with the provider (once a day unless forced).
        A move queues an EARNINGS_MOVED notice for each subscriber."""
        today = today or self.today()
        if not force and self._refreshed.get(ticker) == today:
            return []
        events = await self.provider_events(ticker)
        if events is None:
            return []
        self._refreshed[ticker] = today
        self._events[ticker] = events
        now = self.clock.now()
        moves: list[Move] = []
        for _ in range(4):  # a move into the past makes the next quarter the current one: look again
            ours = await self.reports(ticker)
            current = next((r for r in ours if r.day >= today), None)
            if current is None:
                upcoming = upcoming_event(events, ours, today)
                if upcoming is not None:
                    await self.store.set_date(ticker, upcoming.day, upcoming.time.value, source="provider", now=now)
                return moves
            match = same_quarter(events, current.day)
            if match is None:
                return moves  # the provider knows nothing of this quarter: keep ours
            decision = decide(current, match)
            if decision is _Decision.KEEP:
                return moves
            if decision is _Decision.UPDATE:
                timing = current.time if match.time is EarningsTime.UNKNOWN else match.time
                await self.store.set_date(ticker, current.day, timing.value, source="provider", now=now)
                return moves
            new = Report(ticker, match.day, match.time)
            notices = await self._moved_notices(current, new, today) if new.day >= today else []
            await self.store.set_date(
                ticker, new.day, new.time.value, source="provider", replaces=current.day, envelopes=notices, now=now
            )
            log.info("earnings: %s moved from %s (%s) to %s (%s)", ticker, current.day, current.time.value, new.day, new.time.value)
            moves.append(Move(current, new))
            if notices and self.on_queued:
                self.on_queued()
            if new.day >= today:
                return moves
        return moves

    async def set_by_admin(self, ticker: str, day: date, timing: EarningsTime | None) -> tuple[Report, Report | None]:
        """An admin's date for the upcoming report. Returns (the new report, the one it replaced)."""
        today = self.today()
        await self.refresh(ticker, today=today)  # what we believed before, so a change is told
        events = await self.provider_events(ticker) or []
        now = self.clock.now()
        current = next(
            (r for r in await self.reports(ticker)
             if r.day >= today and not self.released(r, now) and abs((r.day - day).days) <= SAME_QUARTER_DAYS),
            None,
        )  # the report this date corrects; a report already out (today's, after its time) is kept
        match = same_quarter(events, day)
        if timing is None:
            if match is not None and match.day == day:
                timing = match.time
            elif current is not None and current.day == day:
                timing = current.time
            else:
                timing = EarningsTime.UNKNOWN
        new = Report(
            ticker,
            day,
            timing,
            source="admin",
            provider_day=match.day if match else None,
            provider_time=match.time if match else None,
        )
        notices: list[Envelope] = []
        if current is not None and (current.day, current.time) != (new.day, new.time):
            notices = await self._moved_notices(current, new, today)
        await self.store.set_date(
            ticker,
            new.day,
            new.time.value,
            source="admin",
            provider_day=new.provider_day,
            provider_time=new.provider_time.value if new.provider_time else None,
            replaces=current.day if current else None,
            envelopes=notices,
            now=self.clock.now(),
        )
        self._refreshed[ticker] = today
        self._events[ticker] = events
        if notices and self.on_queued:
            self.on_queued()
        return new, current

    def released(self, report: Report, now: datetime) -> bool:
        """Whether a report is out: its day has passed, or it is today and past its time."""
        today = self.calendar.local_date(now)
        if report.day != today:
            return report.day < today
        session = self.calendar.session(report.day)
        if session is None:
            return False
        return now >= (session.open if report.time is EarningsTime.BEFORE_OPEN else session.close)

    async def next_report(self, ticker: str) -> Report | None:
        """The upcoming report (today's included), refreshed from the provider once a day."""
        today = self.today()
        await self.refresh(ticker, today=today)
        ours = await self.reports(ticker)
        current = next((r for r in ours if r.day >= today), None)
        if current is not None:
            return current
        upcoming = upcoming_event(self._events.get(ticker, []), ours, today)
        return Report(ticker, upcoming.day, upcoming.time) if upcoming else None

    async def last_report(self, ticker: str) -> Report | None:
        """The latest report whose first session on the news has closed."""
        await self.refresh(ticker)
        ours = await self.reports(ticker)
        candidates = list(ours)
        candidates.extend(
            Report(ticker, event.day, event.time)
            for event in self._events.get(ticker, [])
            if all(abs((event.day - r.day).days) > SAME_QUARTER_DAYS for r in ours)
        )
        now = self.clock.now()
        done = [r for r in candidates if self._reaction_closed(r, now)]
        return max(done, key=lambda r: r.day) if done else None

    def _reaction_closed(self, report: Report, now: datetime) -> bool:
        try:
            session = self.calendar.session(self.reaction_session(report))
        except ValueError:
            return False
        return session is not None and now >= session.close

    async def reaction(self, report: Report) -> Reaction | None:
        """The first session on the news, once it has closed and its bar is known; else None."""
        if not self._reaction_closed(report, self.clock.now()):
            return None
        day = self.reaction_session(report)
        try:
            bars = await self.market.history(report.ticker, report.day - timedelta(days=14), day)
        except MarketDataError:
            return None
        by_day = {bar.day: bar for bar in bars}
        bar = by_day.get(day)
        before = [b for b in bars if b.day < day]
        if bar is None or not before or before[-1].close <= 0:
            return None
        report_day_change = None
        if report.time is EarningsTime.UNKNOWN:
            on_day = by_day.get(report.day)
            prior = [b for b in bars if b.day < report.day]
            if on_day is not None and prior and prior[-1].close > 0:
                report_day_change = (on_day.close / prior[-1].close - 1.0) * 100.0
        return Reaction(report, day, before[-1].close, bar.open, bar.close, report_day_change)

    # -- the daily run ----------------------------------------------------------------------

    async def run(self, day: date) -> int:
        """The daily job (at 08:00 and 16:30 New York): refresh dates, then queue the reminders,
        day-of notices and recaps that are due now. Returns how many deliveries were queued."""
        now = self.clock.now()
        subscribed = await self.store.subscribed_tickers()
        followed = sorted(set(subscribed) | set(await self.watches.tickers()))
        for ticker in followed:
            await self.refresh(ticker, today=day)
        deliveries: list[Envelope] = []
        for ticker in subscribed:
            subscribers = await self.store.subscribers(ticker)
            if not subscribers:
                continue
            for report in await self.reports(ticker):
                if report.day < day - timedelta(days=10):
                    continue
                deliveries.extend(self._reminders(report, subscribers, day, now))
                deliveries.extend(await self._recaps(report, subscribers, day))
        deliveries = await self.routing.reachable(deliveries)
        queued = await self.outbox.enqueue(deliveries, now=now) if deliveries else 0
        if queued and self.on_queued:
            self.on_queued()
        return queued

    def _reminders(self, report: Report, subscribers: list[EarningsSubscription], day: date, now: datetime) -> list[Envelope]:
        session = self.calendar.session(day)  # None on a weekend or holiday: reminders still go out
        ticker = report.ticker
        found: list[Envelope] = []
        reaction = self.reaction_session(report)
        base = {
            "report_day": report.day.isoformat(),
            "timing": report.time.value,
            "reaction_session": reaction.isoformat(),
            "source": report.source,
        }
        if report.day > day:
            trading_days = self.trading_days_until(report.day, day)
            calendar_days = (report.day - day).days
            about = subject(AlertKind.EARNINGS_REMINDER, ticker, report.day.isoformat())  # once, whatever DAYS
            for subscription in subscribers:
                chat, days = subscription.chat, subscription.days_before
                if days <= 0 or not self.reminder_day(report, days) <= day:
                    continue
                alert = Alert(
                    kind=AlertKind.EARNINGS_REMINDER,
                    ticker=ticker,
                    at=now,
                    extra={**base, "days_before": days, "trading_days": trading_days, "calendar_days": calendar_days},
                )
                found.append(Envelope(chat, alert, dedupe_key(about, chat)))
        elif report.day == day and session is not None:
            deadline = session.open if report.time is EarningsTime.BEFORE_OPEN else session.close
            if now < deadline:
                alert = Alert(kind=AlertKind.EARNINGS_DAY, ticker=ticker, at=now, extra=base)
                about = subject(AlertKind.EARNINGS_DAY, ticker, report.day.isoformat())
                found.extend(Envelope(s.chat, alert, dedupe_key(about, s.chat)) for s in subscribers)
        return found

    async def _recaps(self, report: Report, subscribers: list[EarningsSubscription], day: date) -> list[Envelope]:
        session_day = self.reaction_session(report)
        if not session_day <= day <= self.calendar.next_session(session_day):
            return []  # the evening of that session, or a catch-up until the next one
        reaction = await self.reaction(report)
        if reaction is None:
            return []
        session = self.calendar.session(session_day)
        extra: dict[str, object] = {
            "report_day": report.day.isoformat(),
            "timing": report.time.value,
            "session": session_day.isoformat(),
            "prev_close": round(reaction.prev_close, 4),
            "open": round(reaction.open, 4),
            "close": round(reaction.close, 4),
            "gap_pct": round(reaction.gap_pct, 4),
        }
        if reaction.report_day_change_pct is not None:
            extra["report_day_change_pct"] = round(reaction.report_day_change_pct, 4)
        alert = Alert(
            kind=AlertKind.EARNINGS_RECAP,
            ticker=report.ticker,
            at=session.close if session else self.clock.now(),
            price=reaction.close,
            change_pct=reaction.change_pct,
            extra=extra,
        )
        about = subject(AlertKind.EARNINGS_RECAP, report.ticker, report.day.isoformat())
        return [Envelope(s.chat, alert, dedupe_key(about, s.chat)) for s in subscribers]

    async def _moved_notices(self, old: Report, new: Report, today: date) -> list[Envelope]:
        subscribers = await self.store.subscribers(new.ticker)
        if not subscribers:
            return []
        alert = Alert(
            kind=AlertKind.EARNINGS_MOVED,
            ticker=new.ticker,
            at=self.clock.now(),
            extra={
                "report_day": new.day.isoformat(),
                "timing": new.time.value,
                "old_day": old.day.isoformat(),
                "old_timing": old.time.value,
                "source": new.source,
                "reaction_session": self.reaction_session(new).isoformat(),
            },
        )
        # each change is told once; a date that moves back and forth is told each time
        about = subject(
            AlertKind.EARNINGS_MOVED, new.ticker, f"{old.day.isoformat()}{old.time.value}", f"{new.day.isoformat()}{new.time.value}", self.clock.now().isoformat()
        )
        return await self.routing.to_chats(alert, [s.chat for s in subscribers], about)


__all__ = [
    "EVENING",
    "MAX_DAYS_BEFORE",
    "MORNING",
    "TIMING_WORDS",
    "EarningsDesk",
    "Move",
    "Reaction",
    "Report",
    "decide",
    "parse_timing",
    "same_quarter",
    "upcoming_event",
]
