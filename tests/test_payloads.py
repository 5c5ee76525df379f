"""The outbox's payloads (`storage.payloads`): written by orjson, they hold what `Alert.to_json`
holds (NaN as null), read back equal, and payloads in `Alert.to_json`'s format (earlier versions',
and the fallback for what orjson refuses) are read as they were written."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bot.core.messages import Alert, AlertKind
from bot.core.models import UserRef
from storage.payloads import mention_texts, read_payload, write_payload

NEW_YORK = ZoneInfo("America/New_York")
MOMENTS = [
    datetime(2025, 1, 27, 15, 0, tzinfo=UTC),
    datetime(2025, 1, 27, 10, 0, 0, 123456, tzinfo=NEW_YORK),
    datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK, fold=1),  # the hour the clocks go back, the second time
    datetime(1850, 1, 1, 12, 0, tzinfo=NEW_YORK),  # local mean time: an offset of -04:56:02
    datetime(2025, 1, 27, 15, 0, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=7))),
    datetime(2025, 1, 27, 15, 0),  # naive
]


class Pair(NamedTuple):
    name: str
    price: float


def structure(alert: Alert) -> Any:
    """What `Alert.to_json` holds, as the payload's reader sees it: empty items and silent
    false written out, NaN and infinities as null."""
    def plain(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: plain(v) for key, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    data = plain(json.loads(alert.to_json()))

    def complete(entry: dict[str, Any]) -> dict[str, Any]:
        entry.setdefault("silent", False)
        entry["items"] = [complete(item) for item in entry.get("items", [])]
        return entry

    return complete(data)


def random_alert(rng: random.Random, depth: int = 0) -> Alert:
    number = rng.choice([None, 0.0, -1.5, 1e-7, 123.456, 1e16, float("nan"), float("inf"), 7])
    extra = rng.choice([
        {},
        {"nearest_level": ["stop", 95.5]},
        {"earnings_day": date(2025, 1, 29), "moved_from": date(2025, 1, 30), "confirmed": True},
        {"members": [["NVDA", -17.0], ["AVGO", -17.4]], "pair": Pair("NVDA", 118.4)},
        {"condition": "below sma200", "value": 140.1234, "nested": {"b": 1, "a": [1, 2, {"z": None}]}},
        {"zoë": "ünïcödé ✓", "quote\"d": "line\nbreak"},
    ])
    items = [random_alert(rng, depth + 1) for _ in range(rng.randint(0, 3))] if depth < 2 and rng.random() < 0.3 else []
    return Alert(
        kind=AlertKind.GROUP if items else rng.choice(list(AlertKind)),
        ticker=rng.choice(["NVDA", "BRK.B", "^SOX"]),
        at=rng.choice(MOMENTS),
        price=number,
        change_pct=rng.choice([None, -17.0, 3.25]),
        level=rng.choice([None, 140.0]),
        level_name=rng.choice([None, "exit"]),
        rule_id=rng.choice([None, 1, 2**40]),
        note=rng.choice([None, "sell AVGO at $140", "émoji 🚀 and \"quotes\""]),
        mention=rng.choice([None, UserRef("telegram", "101", "Ann"), UserRef("console", "Zoë", "Zoë")]),
        extra=extra,
        items=items,
        silent=rng.random() < 0.2,
    )


def test_a_payload_holds_what_to_json_holds_and_reads_back_equal() -> None:
    rng = random.Random(15)
    for _ in range(400):
        alert = random_alert(rng)
        text = write_payload(alert)
        assert text.startswith('{"kind":')  # orjson's
        assert json.loads(text) == structure(alert)
        back = read_payload(text)
        assert back == Alert.from_data(structure(alert))  # the alert as its JSON holds it (NaN as None, dates as text)
        assert json.loads(write_payload(back)) == json.loads(text)


def test_moments_are_written_as_isoformat_writes_them_seconds_of_an_offset_included() -> None:
    for moment, other in zip(MOMENTS, [*MOMENTS[1:], MOMENTS[0]], strict=True):
        plain = Alert(AlertKind.GROUP, "NVDA", other, items=[Alert(AlertKind.PRICE_ABOVE, "NVDA", moment), Alert(AlertKind.PRICE_BELOW, "NVDA", other)])
        data = json.loads(write_payload(plain))  # (written by orjson itself unless a moment's offset has seconds)
        assert (data["at"], data["items"][0]["at"], data["items"][1]["at"]) == (other.isoformat(), moment.isoformat(), other.isoformat())
        alert = Alert(AlertKind.GROUP, "NVDA", moment, items=[Alert(AlertKind.PRICE_ABOVE, "NVDA", moment, extra={"at": moment})])
        data = json.loads(write_payload(alert))
        assert data["at"] == data["items"][0]["at"] == data["items"][0]["extra"]["at"] == moment.isoformat()
        back = read_payload(write_payload(alert)).at  # (compared as text: Python never finds a time in a repeated hour equal to one in another zone)
        assert back.isoformat() == moment.isoformat() and back.utcoffset() == moment.utcoffset()


def test_what_orjson_refuses_is_written_in_to_jsons_format_and_read_back_as_it_was() -> None:
    big = Alert(AlertKind.PRICE_ABOVE, "NVDA", MOMENTS[0], rule_id=2**70, extra={"huge": 10**30})
    text = write_payload(big)
    assert text == big.to_json() and text.startswith('{"at": ')
    assert read_payload(text) == big  # an int beyond 64 bits comes back exact, not as a float


def test_payloads_of_earlier_versions_are_read_as_they_were_written() -> None:
    old = ('{"at": "2025-01-27T16:05:00-05:00", "change_pct": NaN, "direction": "up", "drawdown_pct": null, "extra": {"earnings_day": "2025-01-29"}, '
           '"kind": "price_above", "level": 150.0, "level_name": null, "mention": {"display_name": "Zo\\u00eb", "platform": "console", "user_id": "Zo\\u00eb"}, '
           '"note": null, "peak": null, "prev_close": 147.5, "price": 151.0, "rule_id": 1, "silent": true, "threshold_pct": null, "ticker": "NVDA"}')
    alert = read_payload(old)
    assert alert.mention == UserRef("console", "Zoë", "Zoë") and alert.silent and alert.extra == {"earnings_day": "2025-01-29"}
    assert math.isnan(alert.change_pct or 0.0) and alert.at == datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
    assert read_payload(write_payload(alert)).mention == alert.mention


def test_a_mention_is_found_in_the_text_of_every_writer() -> None:
    for user_id in ("101", "Zoë", 'we"ird\\id'):
        alert = Alert(AlertKind.PRICE_ABOVE, "NVDA", MOMENTS[0], mention=UserRef("telegram", user_id, "x"))
        texts = mention_texts(user_id)
        for written in (write_payload(alert), alert.to_json(), json.dumps(json.loads(alert.to_json()), separators=(",", ":"))):
            assert any(text in written for text in texts), written
        other = Alert(AlertKind.PRICE_ABOVE, "NVDA", MOMENTS[0], mention=UserRef("telegram", user_id + "1", "x"))
        assert not any(text in write_payload(other) or text in other.to_json() for text in texts)
