"""`Alert.to_json` builds its JSON without `dataclasses.asdict`'s deep copies (a group of thousands of
items took seconds): the text must stay byte for byte what asdict gave (it makes keys and nonces, and
earlier versions' outbox payloads are in this format)."""

from __future__ import annotations

import json
import random
from collections import namedtuple
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.core.messages import Alert, AlertKind, _json_default
from bot.core.models import Direction, UserRef

AT = datetime(2025, 1, 27, 14, 31, tzinfo=UTC)
ANN = UserRef("telegram", "101", "Ann")
Pair = namedtuple("Pair", "ticker change")


@dataclass
class Figure:
    name: str
    value: float


def reference_data(alert: Alert) -> dict[str, Any]:
    """What `Alert._data` was, through `dataclasses.asdict`."""
    data = asdict(alert)
    data["at"] = alert.at.isoformat()
    data["items"] = [reference_data(item) for item in alert.items]
    if not data["items"]:
        del data["items"]
    if not alert.silent:
        del data["silent"]
    return data


def reference_json(alert: Alert) -> str:
    return json.dumps(reference_data(alert), sort_keys=True, default=_json_default)


def alerts() -> list[Alert]:
    plain = Alert(AlertKind.PRICE_ABOVE, "NVDA", AT, 151.2, 2.5, 147.5, 150.0, None, None, "up", None, None, 12, "take profit", ANN)
    level = Alert(AlertKind.ANALYST_LEVEL, "NVDA", AT, 99.0, -3.1, 102.2, 100.0, "stop", direction="down")
    selloff = Alert(AlertKind.SELLOFF, "AMD", AT, 90.0, -6.2, 96.0, threshold_pct=5.0, direction="down", peak=120.0, drawdown_pct=-25.0,
                    extra={"nearest_level": ["stop", 88.0], "drawdown_threshold_pct": 20.0})
    odd = Alert(AlertKind.EARNINGS_DAY, "MSFT", AT, extra={"day": date(2025, 1, 29), "pair": Pair("MSFT", 1.5), "figure": Figure("pe", 31.0),
                                                          "nested": {"t": (1, [2, 3]), "u": None}}, silent=True)
    basket = Alert(AlertKind.BASKET_SELLOFF, "ai", AT, extra={"members": [["NVDA", -6.1], ["AMD", -7.0]], "level": 97.1, "peak_level": 100.0})
    quiet = Alert(AlertKind.DAILY_MOVE, "TSLA", AT, 250.0, 7.0, 233.6, threshold_pct=5.0, direction="up", mention=ANN, silent=True)
    items = [plain, level, selloff, odd, basket, quiet]
    group = Alert(AlertKind.GROUP, "NVDA", AT, items=items)
    silent_group = Alert(AlertKind.GROUP, "AMD", AT, items=[quiet, odd], silent=True)
    return [*items, group, silent_group, Alert(AlertKind.GROUP, "X", AT, items=[group, plain])]


def test_to_json_is_what_asdict_gave() -> None:
    for alert in alerts():
        assert alert.to_json() == reference_json(alert), alert.kind


def test_to_json_leaves_the_alert_untouched_and_reads_back() -> None:
    for alert in alerts():
        before = repr(alert)
        text = alert.to_json()
        assert repr(alert) == before
        assert Alert.from_json(text).to_json() == text


def test_a_busy_group_encodes_as_before() -> None:
    items = [Alert(AlertKind.PRICE_BELOW, f"T{i:05d}", AT, 99.0 + i / 1000, -1.0, 100.0, 99.5, None, None, "down", None, None, i, None, ANN)
             for i in range(2_000)]
    group = Alert(AlertKind.GROUP, "T00000", AT, items=items)
    assert group.to_json() == reference_json(group)


def test_a_groups_items_at_equal_moments_in_two_zones_keep_their_own_text() -> None:
    from datetime import timedelta, timezone

    new_york = AT.astimezone(timezone(timedelta(hours=-5)))
    items = [Alert(AlertKind.PRICE_ABOVE, "NVDA", at, 151.0, rule_id=n) for n, at in enumerate([AT, new_york, AT])]
    for group in (Alert(AlertKind.GROUP, "NVDA", AT, items=items), Alert(AlertKind.GROUP, "NVDA", new_york, items=items, silent=True)):
        assert group.to_json() == reference_json(group)
        assert '"at": "2025-01-27T09:31:00-05:00"' in group.to_json()


def odd_value(rng: random.Random) -> Any:
    """Whatever a field might hold, typed or not: json's own ways with each must be kept."""
    return rng.choice([
        None, 0.0, -0.0, 1.5, 101.03456789012345, 1e300, -2.5e-310, float("nan"), float("inf"), float("-inf"), 5, -7, 10**30, True, False,
        "", "up", 'say "hi"\\n', "Zoë ≥ 5 €", "tab\there\x00\x1f", "😀", AlertKind.SELLOFF, Direction.DOWN,
    ])


def test_alerts_are_what_asdict_gave_whatever_their_fields_hold() -> None:
    rng = random.Random(15)
    names = ["price", "change_pct", "prev_close", "level", "level_name", "threshold_pct", "direction", "peak", "drawdown_pct", "rule_id", "note"]
    for _ in range(300):
        items = []
        for _ in range(rng.randint(0, 4)):
            fields = {name: odd_value(rng) for name in names}
            mention = rng.choice([None, ANN, UserRef("discord", "42", 'Ann "the" ≥ analyst')])
            items.append(Alert(rng.choice(list(AlertKind)), rng.choice(["NVDA", "BRK.B", "Zoë"]), AT, mention=mention, silent=rng.random() < 0.2, **fields))
        for alert in [*items, Alert(AlertKind.GROUP, "NVDA", AT, items=items, silent=rng.random() < 0.3)]:
            assert alert.to_json() == reference_json(alert)
