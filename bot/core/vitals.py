"""What the running bot observes about itself: the one record `/status`, `/metrics` and `/healthz` read.

The price check, the dispatcher and the wiring report here; nothing here does I/O. Counters
only grow (Prometheus counters); durations go into fixed histogram buckets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CHECK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)  # seconds


@dataclass
class Histogram:
    """Counts of observations at or below each bucket's bound (the last is +Inf), with their sum."""

    bounds: tuple[float, ...] = CHECK_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(CHECK_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, observations at or below it), ending with "+Inf", as Prometheus expects."""
        running, out = 0, []
        for bound, count in zip((*(f"{b:g}" for b in self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass
class Vitals:
    version: str = "unknown"
    started_at: datetime | None = None
    ready: bool = False  # adapters started and the market timer running
    poll_seconds: int = 60
    checks_total: int = 0
    check_seconds: Histogram = field(default_factory=Histogram)
    last_check_at: datetime | None = None
    last_good_check_at: datetime | None = None  # the last check whose quotes arrived
    provider_errors_total: int = 0
    last_provider_error: str | None = None
    last_provider_error_at: datetime | None = None
    alerts_fired: Counter[str] = field(default_factory=Counter)  # alert kind -> firings found
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)  # (platform, outcome) -> count
    adapters: dict[str, bool] = field(default_factory=dict)  # platform -> connected
    price_feed: str = ""  # with a stream configured: "streaming" or "polling" (the stream down or silent)
    price_feed_note: str = ""  # why polling, or what the stream follows
    last_tick_at: datetime | None = None  # the last streamed price received
    ticks_total: int = 0

    def check_done(self, *, at: datetime, seconds: float, error: str | None, fired: list[str]) -> None:
        """A price check finished: when, how long, whether the provider answered, what fired."""
        self.checks_total += 1
        self.check_seconds.observe(seconds)
        self.last_check_at = at
        if error is None:
            self.last_good_check_at = at
        else:
            self.provider_errors_total += 1
            self.last_provider_error, self.last_provider_error_at = error, at
        self.alerts_fired.update(fired)

    def delivered(self, platform: str, outcome: str) -> None:
        """One delivery attempt's outcome: sent, retry (flood control), failed, gone, dead."""
        self.deliveries[(platform, outcome)] += 1

    def uptime(self, now: datetime) -> timedelta:
        return now - self.started_at if self.started_at else timedelta(0)

    def stale(self, now: datetime, *, in_session: bool) -> bool:
        """During a session, the last good check is older than three poll intervals (or never came)."""
        if not in_session:
            return False
        limit = timedelta(seconds=3 * self.poll_seconds)
        since = self.last_good_check_at or self.started_at
        return since is None or now - since > limit
