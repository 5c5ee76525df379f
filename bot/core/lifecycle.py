"""An alert's options after its value: the move's direction, and its lifecycle.

    /alert NVDA move 10 down once          fires once, then is removed
    /alert NVDA below 120 every            re-arms as usual (the default)
    /alert NVDA below 120 until 2025-03-31 removed, quietly, after that day
    /alert NVDA below 120 for 5d           the same, five days from today
    /alert NVDA below 120 preview          how often it would have fired (bot.core.backtest); nothing saved
    /alert NVDA move -10 over 5d           the change over five sessions, not one (bot.core.indicators)

An expiring alert is checked through its last day (in the exchange's time zone) and removed
before the next session opens. A once alert is removed right after its firing is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.core.commands import did_you_mean
from bot.core.errors import UserError
from bot.core.models import Rule

MAX_DAYS = 3660  # ten years
_FOR = re.compile(r"^(\d{1,4})([dwm])$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30}


@dataclass(frozen=True, slots=True)
class AlertOptions:
    direction: str | None = None  # up / down / either, for move
    once: bool = False
    expires_on: date | None = None  # the last day it is checked
    preview: bool = False
    sessions: int | None = None  # move ... over Nd: the change against the close N sessions earlier


_OVER = re.compile(r"^(\d{1,3})d?$")
MAX_OVER_SESSIONS = 250


def parse_alert_options(words: str | None, *, today: date) -> AlertOptions:
    """The words after /alert's value, in any order, or a UserError naming the one not understood."""
    direction: str | None = None
    once: bool | None = None
    expires_on: date | None = None
    preview = False
    sessions: int | None = None
    tokens = (words or "").lower().split()
    index = 0
    while index < len(tokens):
        word = tokens[index]
        index += 1
        if word in ("up", "down", "either"):
            direction = _once_only(direction, word, "a direction")
        elif word in ("once", "every"):
            if once is not None:
                raise UserError("Say once or every, not both.")
            once = word == "once"
        elif word == "preview":
            preview = True
        elif word == "over":
            if index >= len(tokens):
                raise UserError("'over' needs a number of sessions, like over 5d.")
            if sessions is not None:
                raise UserError("Give one length: over Nd.")
            sessions = _over(tokens[index])
            index += 1
        elif word in ("until", "for"):
            if index >= len(tokens):
                raise UserError(f"'{word}' needs a {'date, like until 2025-03-31' if word == 'until' else 'length, like for 5d'}.")
            if expires_on is not None:
                raise UserError("Give one expiry: until DATE or for Nd.")
            expires_on = _until(tokens[index], today) if word == "until" else _for(tokens[index], today)
            index += 1
        else:
            shown = word[:24]
            hint = did_you_mean(word, ("up", "down", "either", "once", "every", "until", "for", "preview", "over"))
            raise UserError(f"'{shown}' is not an alert option.{hint} Use up/down/either (for move), once or every, "
                            "until 2025-03-31 or for 5d, over 5d (for move), or preview.")
    return AlertOptions(direction=direction, once=bool(once), expires_on=expires_on, preview=preview, sessions=sessions)


def _over(text: str) -> int:
    match = _OVER.match(text)
    if not match or not 1 <= int(match.group(1)) <= MAX_OVER_SESSIONS:
        raise UserError(f"'over' needs 1 to {MAX_OVER_SESSIONS} sessions, like over 5d, not '{text[:24]}'.")
    return int(match.group(1))


def _once_only(current: str | None, word: str, what: str) -> str:
    if current is not None and current != word:
        raise UserError(f"Give {what} once, not both {current} and {word}.")
    return word


def _until(text: str, today: date) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'until' needs a date like 2025-03-31, not '{text[:24]}'.") from None
    if day < today:
        raise UserError(f"{day.isoformat()} has passed: an alert can only run until today or a later day.")
    if (day - today).days > MAX_DAYS:
        raise UserError("An alert can run for at most ten years.")
    return day


def _for(text: str, today: date) -> date:
    match = _FOR.match(text)
    if not match or int(match.group(1)) == 0:
        raise UserError(f"'for' needs a length like 5d, 2w or 3m, not '{text[:24]}'.")
    days = int(match.group(1)) * _UNIT_DAYS[match.group(2)]
    if days > MAX_DAYS:
        raise UserError("An alert can run for at most ten years.")
    return today + timedelta(days=days)


def lifecycle_text(rule: Rule) -> str:
    """' · once · until 2025-03-31' (empty for an alert that re-arms and never expires)."""
    parts = []
    if rule.once:
        parts.append("once")
    if rule.expires_on is not None:
        parts.append(f"until {rule.expires_on.isoformat()}")
    return "".join(f" · {part}" for part in parts)


def lifecycle_line(rule: Rule) -> str | None:
    """What a new alert's reply says of its lifecycle, or None."""
    said = []
    if rule.once:
        said.append("it fires once and is then removed")
    if rule.expires_on is not None:
        said.append(f"it runs through {rule.expires_on.isoformat()} and is then removed")
    return ("This alert is not kept: " + "; ".join(said) + ".") if said else None
