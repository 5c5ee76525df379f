"""The outbox's payloads: each queued `Alert` as JSON text, the same on both backends.

orjson writes them: the alert's fields in their order, compact, dict keys sorted, moments as
`isoformat` writes them, NaN and infinities as null. A busy check queues one grouped message of
thousands of alerts for a chat (megabytes), which orjson writes in about half the time of the
core's own writer (`Alert.to_json`, the json module's format). What orjson refuses (an int beyond
64 bits, a value of a type it does not know) is written by `Alert.to_json` instead.

Both formats are read, and so are payloads written by earlier versions (`Alert.to_json`): a
payload is read by the module that wrote it, so that a big int or a NaN comes back as it was.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import orjson

from bot.core.messages import Alert

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_WRITTEN_BY_ORJSON = '{"kind":'  # orjson writes an alert's fields in their order ("kind" first); json sorted them ('{"at": ')


def write_payload(alert: Alert) -> str:
    """The alert as the outbox keeps it."""
    options = _OPTIONS if _moments_of_whole_minutes(alert) else _OPTIONS | orjson.OPT_PASSTHROUGH_DATETIME
    try:
        return orjson.dumps(alert, default=_moment_text, option=options).decode()
    except orjson.JSONEncodeError:
        return alert.to_json()


def read_payload(text: str) -> Alert:
    """An alert from `write_payload`'s text, or from `Alert.to_json`'s (this version's fallback, and earlier versions' payloads)."""
    if text.startswith(_WRITTEN_BY_ORJSON):
        return Alert.from_data(orjson.loads(text))
    return Alert.from_json(text)


def mention_texts(user_id: str) -> tuple[str, ...]:
    """The texts a payload holds for a mention of this member's id, as each writer wrote it:
    orjson (compact, UTF-8), the json module (`Alert.to_json`: spaced, non-ASCII escaped), and
    SQLite's JSON functions (migration 006 rewrote payloads compact, non-ASCII escaped). For a
    store that searches payloads as text."""
    return tuple(dict.fromkeys((f'"user_id":{orjson.dumps(user_id).decode()}', f'"user_id": {json.dumps(user_id)}', f'"user_id":{json.dumps(user_id)}')))


def _moments_of_whole_minutes(alert: Alert) -> bool:
    """True if orjson may write the alert's moments itself, as `isoformat` would: their offsets
    are whole minutes (orjson drops an offset's seconds: a zone's local mean time, before about
    1900). Its items' moments are looked at once each (a group's thousands share a few); with an
    `extra` or a group in a group, which are not looked into, every moment goes through `_moment_text`."""
    items = alert.items
    if alert.extra or any(item.extra or item.items for item in items):
        return False
    moments = {id(item.at): item.at for item in items}
    moments[id(alert.at)] = alert.at
    return all(_whole_minutes(moment.utcoffset()) for moment in moments.values())


def _whole_minutes(offset: timedelta | None) -> bool:
    return offset is None or (offset.seconds % 60 == 0 and offset.microseconds == 0)


def _moment_text(value: object) -> object:
    """Moments as `isoformat` writes them (orjson's own writing drops an offset's seconds), and
    named tuples as lists (as json writes them)."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
