"""The re-arm cooldown: at most one alert per rule per `[alerts] rearm_cooldown_minutes`.

The engine re-arms a price rule once the price is back beyond the band, and fires it at the
next crossing. A price oscillating around a level many times a minute (a streamed feed sees
every wiggle) would then alert on every swing. The cooldown sits between the engine and the
routing: a firing within the cooldown of the rule's last alert is dropped, while the engine's
disarm stays recorded, so the rule needs a fresh re-arm through the band and a new crossing
after the cooldown to alert again.

Only alerts that were recorded start a cooldown (`stamp` after the check was saved): a check
that failed to save leaves nothing behind, and its alerts are found again at the next check.
Storage keeps each rule's last alert time with the check (`rule_state.last_alert_at`), so a restart
in the middle of a storm does not start the cooldown over (`seed`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bot.core.engine import CheckResult

log = logging.getLogger(__name__)

PRUNE_FROM = 4096


class Cooldown:
    def __init__(self, minutes: float = 0.0) -> None:
        self.span = timedelta(minutes=max(0.0, minutes))
        self._last: dict[int, datetime] = {}  # rule id -> when its last recorded alert was found
        self._prune_at = PRUNE_FROM  # how many entries `stamp` lets `_last` grow to before dropping those past the cooldown
        self.suppressed_total = 0

    def admit(self, result: CheckResult, now: datetime) -> CheckResult:
        """Drop the firings of rules that alerted less than the cooldown ago (in place); the armed changes stay."""
        if not self.span or not result.firings or not self._last:
            return result
        kept = []
        since = now - self.span  # held: a last alert after this (now - last < span)
        last_of = self._last.get
        for firing in result.firings:
            last = last_of(firing.rule.id)
            if last is not None and last > since:
                self.suppressed_total += 1
                log.info("rule #%d on %s crossed again %.0f s after its last alert; held by the %s min cooldown",
                         firing.rule.id, firing.rule.ticker, (now - last).total_seconds(), f"{self.span.total_seconds() / 60:g}")
                continue
            kept.append(firing)
        result.firings = kept
        return result

    def seed(self, last_alerts: Mapping[int, datetime], now: datetime) -> None:
        """What storage remembers (at start, and after a reload): rules still within their cooldown."""
        self._last = {rule_id: at for rule_id, at in last_alerts.items() if now - at < self.span}

    def stamp(self, results: Iterable[CheckResult], now: datetime) -> None:
        """The alerts of a saved check start their rules' cooldowns."""
        if not self.span:
            return
        last = self._last
        for result in results:
            for firing in result.firings:
                last[firing.rule.id] = now
        if len(last) > self._prune_at:  # what the cooldown no longer holds goes, once the map has doubled (not at every busy check)
            since = now - self.span
            self._last = {rule_id: at for rule_id, at in last.items() if at > since}
            self._prune_at = max(PRUNE_FROM, 2 * len(self._last))

    def last_alert(self, rule_id: int) -> datetime | None:
        return self._last.get(rule_id)
