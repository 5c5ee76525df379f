"""A chat's own settings (`/settings`, `/digest`): how each alert kind is delivered (on, silent
or off), quiet hours, the `/watch` sell-off and drawdown percentages, and the daily digest.

A chat with no settings gets the defaults: every kind on, no quiet hours, the global
percentages (`[alerts] selloff_pct` / `drawdown_pct`), no digest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time, tzinfo
from enum import StrEnum

from bot.core.errors import UserError
from bot.core.messages import Alert, AlertKind


class Mode(StrEnum):
    ON = "on"  # delivered with a notification
    SILENT = "silent"  # delivered without a notification sound
    OFF = "off"  # not delivered to this chat


# The kinds a chat may set, by the name it types, and the alert kinds each covers.
SETTABLE_KINDS: dict[str, tuple[AlertKind, ...]] = {
    "levels": (AlertKind.ANALYST_LEVEL,),
    "selloffs": (AlertKind.SELLOFF,),
    "drawdowns": (AlertKind.DRAWDOWN,),
    "members": (AlertKind.PRICE_ABOVE, AlertKind.PRICE_BELOW, AlertKind.DAILY_MOVE),
    "baskets": (AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN),
    "earnings": (AlertKind.EARNINGS_REMINDER, AlertKind.EARNINGS_DAY, AlertKind.EARNINGS_RECAP, AlertKind.EARNINGS_MOVED),
    "splits": (AlertKind.SPLIT,),
    "digest": (AlertKind.DIGEST,),
}
_NAME_OF = {kind: name for name, kinds in SETTABLE_KINDS.items() for kind in kinds}


def kind_name(alert: Alert) -> str | None:
    """The settable name an alert falls under ('members' for a member's own drawdown)."""
    if alert.mention is not None:
        return "members"
    return _NAME_OF.get(alert.kind)


@dataclass(frozen=True, slots=True)
class ChatSettings:
    kinds: dict[str, Mode] = field(default_factory=dict)  # only what differs from ON
    quiet_from: time | None = None  # quiet hours, in the exchange's time zone: alerts come silently
    quiet_to: time | None = None
    selloff_pct: float | None = None  # None: the global [alerts] selloff_pct
    drawdown_pct: float | None = None
    digest: bool = False
    digest_at: time | None = None  # the pre-open brief's time; None: the default

    def mode(self, alert: Alert) -> Mode:
        name = kind_name(alert)
        return self.kinds.get(name, Mode.ON) if name else Mode.ON

    def is_quiet(self, moment: datetime, zone: tzinfo) -> bool:
        if self.quiet_from is None or self.quiet_to is None:
            return False
        now = moment.astimezone(zone).time()
        if self.quiet_from <= self.quiet_to:
            return self.quiet_from <= now < self.quiet_to
        return now >= self.quiet_from or now < self.quiet_to  # over midnight: 22:00-07:00

    def deliver(self, alert: Alert, zone: tzinfo) -> Alert | None:
        """The alert as this chat gets it: None when its kind is off, marked silent when its
        kind is silent or it comes in quiet hours. A group keeps the alerts that are not off."""
        if alert.kind is AlertKind.GROUP:
            items = [a for a in (self.deliver(item, zone) for item in alert.items) if a is not None]
            if not items:
                return None
            return replace(alert, items=items, silent=all(a.silent for a in items))
        mode = self.mode(alert)
        if mode is Mode.OFF:
            return None
        if mode is Mode.SILENT or self.is_quiet(alert.at, zone):
            return replace(alert, silent=True)
        return alert

    def changes_nothing(self) -> bool:
        """True when `deliver` gives every alert but a group as it is: no kind off or silent, no
        quiet hours (a group is rebuilt from its items whatever the settings)."""
        return (self.quiet_from is None or self.quiet_to is None) and all(mode is Mode.ON for mode in self.kinds.values())

    def watch_pct(self, kind: str, default: float) -> float:
        value = self.selloff_pct if kind == "move" else self.drawdown_pct
        return default if value is None else value

    def to_json(self) -> str:
        return json.dumps({
            "kinds": {k: v.value for k, v in self.kinds.items()},
            "quiet": [self.quiet_from.isoformat("minutes"), self.quiet_to.isoformat("minutes")] if self.quiet_from and self.quiet_to else None,
            "selloff_pct": self.selloff_pct,
            "drawdown_pct": self.drawdown_pct,
            "digest": self.digest,
            "digest_at": self.digest_at.isoformat("minutes") if self.digest_at else None,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChatSettings:
        data = json.loads(text)
        quiet = data.get("quiet") or [None, None]
        return cls(
            kinds={k: Mode(v) for k, v in (data.get("kinds") or {}).items() if k in SETTABLE_KINDS},
            quiet_from=time.fromisoformat(quiet[0]) if quiet[0] else None,
            quiet_to=time.fromisoformat(quiet[1]) if quiet[1] else None,
            selloff_pct=data.get("selloff_pct"),
            drawdown_pct=data.get("drawdown_pct"),
            digest=bool(data.get("digest")),
            digest_at=time.fromisoformat(data["digest_at"]) if data.get("digest_at") else None,
        )


_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(raw: str, what: str = "The time") -> time:
    """'7:30' or '07:30' -> 07:30, or a UserError that shows the form."""
    found = _CLOCK.match(raw.strip())
    if not found:
        shown = "".join(ch for ch in raw[:12] if ch.isprintable())
        raise UserError(f"{what} must be a time like 08:30 (24-hour, exchange time), not '{shown}'.")
    return time(int(found.group(1)), int(found.group(2)))
