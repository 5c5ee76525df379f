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
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.engine import CheckResult, hold_firings

log = logging.getLogger(__name__)

PRUNE_FROM = 4096
EXAMPLES = 5  # rule ids named in a check's log line of what the cooldown held


class Cooldown:
    def __init__(self, minutes: float = 0.0) -> None:
        self.span = timedelta(minutes=max(0.0, minutes))
        self._last: dict[int, datetime] = {}  # rule id -> when its last recorded alert was found
        self._prune_at = PRUNE_FROM  # how many entries `stamp` lets `_last` grow to before dropping those past the cooldown
        self.suppressed_total = 0

    def admit_all(self, results: Sequence[CheckResult], now: datetime) -> int:
        """Drop, in place, the firings of rules that alerted less than the cooldown ago; the armed
        changes stay. An engine that defers its firings drops them before building them. One log
        line says what a check held (a storm holds thousands). Returns how many were held."""
        if not self.span or not self._last:
            return 0
        since = now - self.span  # held: a last alert after this (now - last < span)
        last_of = self._last.get
        examples: list[int] = []

        def held(rule_id: int) -> bool:
            last = last_of(rule_id)
            if last is None or last <= since:
                return False
            if len(examples) < EXAMPLES:
                examples.append(rule_id)
            return True

        count = hold_firings(results, held)
        if count:
            self.suppressed_total += count
            shown = ", ".join(f"#{rule_id}" for rule_id in examples) + (", ..." if count > len(examples) else "")
            log.info("cooldown: %d alert(s) of rules that alerted less than %s min ago held (%s)",
                     count, f"{self.span.total_seconds() / 60:g}", shown)
        return count

    def seed(self, last_alerts: Mapping[int, datetime], now: datetime) -> None:
        """What storage remembers (at start, and after a reload): rules still within their cooldown."""
        self._last = {rule_id: at for rule_id, at in last_alerts.items() if now - at < self.span}

    def stamp(self, rule_ids: Iterable[int], now: datetime) -> None:
        """The alerts of a saved check (their rules' ids) start their rules' cooldowns."""
        if not self.span:
            return
        last = self._last
        last.update(dict.fromkeys(rule_ids, now))
        if len(last) > self._prune_at:  # what the cooldown no longer holds goes, once the map has doubled (not at every busy check)
            since = now - self.span
            self._last = {rule_id: at for rule_id, at in last.items() if at > since}
            self._prune_at = max(PRUNE_FROM, 2 * len(self._last))

    def last_alert(self, rule_id: int) -> datetime | None:
        return self._last.get(rule_id)
