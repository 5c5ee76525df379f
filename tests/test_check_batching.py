"""A busy check's writes, batched: the outbox rows of a check go in with one statement, in order,
and an alert's stored text is the same as before the fast path."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.messages import Alert, AlertKind, Envelope, _json_default
from bot.core.models import ChatKind, ChatRef, UserRef
from storage.sqlite import SqliteStorage

NOW = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)


def as_before(alert: Alert) -> str:
    """`Alert.to_json` as it was written first: asdict, then json.dumps sorted."""
    data = asdict(alert)
    data["at"] = alert.at.isoformat()
    return json.dumps(data, sort_keys=True, default=_json_default)


def random_alert(rng: random.Random) -> Alert:
    maybe = lambda value: value if rng.random() < 0.6 else None  # noqa: E731
    return Alert(
        kind=rng.choice(list(AlertKind)), ticker=rng.choice(["NVDA", "^SOX", "BRK.B"]), at=NOW,
        price=maybe(rng.uniform(1, 1000)), change_pct=maybe(rng.uniform(-20, 20)), prev_close=maybe(100.0), level=maybe(120.5),
        level_name=maybe("exit"), threshold_pct=maybe(5.0), direction=maybe("down"), peak=maybe(150.25), drawdown_pct=maybe(21.5),
        rule_id=maybe(rng.randint(1, 10**6)), note=maybe('take "profits" — into strength'),
        mention=maybe(UserRef("telegram", "42", rng.choice(["", "Zoë"]))),
        extra=rng.choice([{}, {}, {"ratio": 10.0, "changes": ["a → b"], "split_day": date(2024, 6, 10)}]),
    )


def test_an_alert_is_stored_as_the_same_text_as_before() -> None:
    rng = random.Random(3)
    for _ in range(500):
        alert = random_alert(rng)
        assert alert.to_json() == as_before(alert)
        assert Alert.from_json(alert.to_json()) == Alert.from_json(as_before(alert))


async def test_a_checks_deliveries_go_in_together_in_order_and_once(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "t.sqlite3")
    try:
        chat = ChatRef("console", "c", ChatKind.GROUP)
        alerts = [Alert(kind=AlertKind.PRICE_ABOVE, ticker="NVDA", at=NOW, price=100.0 + i, rule_id=i) for i in range(5)]
        first = [Envelope(chat, alert, f"key-{alert.rule_id}") for alert in alerts[:3]]
        assert await storage.outbox.enqueue(first + [first[0]], now=NOW) == 3  # the repeated key within a batch: once
        assert await storage.outbox.enqueue([Envelope(chat, a, f"key-{a.rule_id}") for a in alerts], now=NOW) == 2
        assert await storage.outbox.enqueue([], now=NOW) == 0
        pending = await storage.outbox.pending_for_chat(chat)
        assert [d.alert.rule_id for d in pending] == [0, 1, 2, 3, 4]  # in the order routed
        assert [d.alert for d in pending] == alerts
    finally:
        await storage.close()
