"""Exchange sessions from the `exchange_calendars` library (NYSE by default).

Holidays (2025-01-09, the national day of mourning, among them) and early
closes come from the library; nothing here hard-codes a date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

from bot.core.calendar import Session


class MarketCalendar:
    """Trading sessions of one exchange (implements `bot.core.calendar.Calendar`)."""

    def __init__(self, exchange: str = "XNYS") -> None:
        self.exchange = exchange
        self._cal = _calendar(exchange)
        self._tz = ZoneInfo(str(self._cal.tz))
        # A calendar never changes once built: each day is asked of the library once (a backtest
        # asks about the same days hundreds of thousands of times, at ~0.2 ms a question).
        self._is_session: dict[date, bool] = {}
        self._sessions: dict[date, Session | None] = {}

    @property
    def tz(self) -> tzinfo:
        """The exchange's own time zone, from the calendar library."""
        return self._tz

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    def is_session(self, day: date) -> bool:
        known = self._is_session.get(day)
        if known is None:
            known = self._is_session[day] = day.weekday() < 5 if not self._in_bounds(day) else bool(self._cal.is_session(pd.Timestamp(day)))
        return known

    def session(self, day: date) -> Session | None:
        if day not in self._sessions:
            self._sessions[day] = self._session(day)
        return self._sessions[day]

    def _session(self, day: date) -> Session | None:
        if not self.is_session(day) or not self._in_bounds(day):
            return None
        ts = pd.Timestamp(day)
        return Session(
            day=day,
            open=self._cal.session_open(ts).to_pydatetime().astimezone(UTC),
            close=self._cal.session_close(ts).to_pydatetime().astimezone(UTC),
        )

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from `start` to `end`, both included."""
        if end < start:
            return []
        labels = self._cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
        opens = self._cal.opens.loc[labels]
        closes = self._cal.closes.loc[labels]
        return [
            Session(
                day=label.date(),
                open=o.to_pydatetime().astimezone(UTC),
                close=c.to_pydatetime().astimezone(UTC),
            )
            for label, o, c in zip(labels, opens, closes, strict=True)
        ]

    def session_on_or_before(self, day: date) -> date:
        """The latest session day at or before `day`."""
        probe = day
        for _ in range(30):
            if self.is_session(probe):
                return probe
            probe -= timedelta(days=1)
        raise ValueError(f"no session in the 30 days before {day}")

    def previous_session(self, day: date) -> date:
        return self.session_on_or_before(day - timedelta(days=1))

    def next_session(self, day: date) -> date:
        probe = day + timedelta(days=1)
        for _ in range(30):
            if self.is_session(probe):
                return probe
            probe += timedelta(days=1)
        raise ValueError(f"no session in the 30 days after {day}")

    def add_sessions(self, day: date, count: int) -> date:
        """The session `count` sessions after (count > 0) or before (count < 0) `day`."""
        step = self.next_session if count > 0 else self.previous_session
        current = day
        for _ in range(abs(count)):
            current = step(current)
        return current

    def current_session(self, moment: datetime) -> Session | None:
        """The session open at `moment`, or None outside trading hours."""
        local_day = self.local_date(moment)
        session = self.session(local_day)
        if session and session.open <= moment <= session.close:
            return session
        return None

    def last_closed_or_open_session(self, moment: datetime) -> date:
        """The session a quote taken at `moment` belongs to: today's once it has opened,
        otherwise the previous one."""
        local_day = self.local_date(moment)
        session = self.session(local_day)
        if session and moment >= session.open:
            return local_day
        return self.previous_session(local_day)

    def _in_bounds(self, day: date) -> bool:
        ts = pd.Timestamp(day)
        return bool(self._cal.first_session <= ts <= self._cal.last_session)


@lru_cache(maxsize=4)
def _calendar(exchange: str) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(exchange, start="2000-01-01")
