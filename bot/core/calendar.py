"""The exchange calendar as the core sees it: sessions, and the exchange's own time zone.

`bot.market.calendar.MarketCalendar` implements it with the `exchange_calendars` library.
The time zone every "market time" in the bot follows (daily jobs, shown times, "today")
is `Calendar.tz`: nothing else names a zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    open: datetime  # UTC
    close: datetime  # UTC

    @property
    def early_close(self) -> bool:
        return (self.close - self.open) < timedelta(hours=6, minutes=30)


class Calendar(Protocol):
    """Trading sessions of one exchange, in its own time zone."""

    exchange: str

    @property
    def tz(self) -> tzinfo:
        """The exchange's time zone (America/New_York for XNYS)."""
        ...

    def is_session(self, day: date) -> bool: ...

    def session(self, day: date) -> Session | None: ...

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from `start` to `end`, both included."""
        ...

    def session_on_or_before(self, day: date) -> date: ...

    def previous_session(self, day: date) -> date: ...

    def next_session(self, day: date) -> date: ...

    def add_sessions(self, day: date, count: int) -> date: ...

    def current_session(self, moment: datetime) -> Session | None:
        """The session open at `moment`, or None outside trading hours."""
        ...

    def last_closed_or_open_session(self, moment: datetime) -> date:
        """The session a quote taken at `moment` belongs to."""
        ...

    def local_date(self, moment: datetime) -> date:
        """The exchange's calendar date at `moment`."""
        ...
