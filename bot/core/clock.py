"""Time is injected: the core and the jobs ask a Clock, never `datetime.now()`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class LiveClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ReplayClock:
    """A clock that stands still until it is moved; used by replay, demos and tests."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        moment = _require_aware(moment)
        if moment < self._now:
            raise ValueError(f"a replay clock only moves forward ({moment} < {self._now})")
        self._now = moment


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return moment.astimezone(UTC)
