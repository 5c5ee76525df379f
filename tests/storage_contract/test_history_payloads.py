"""/history finds a member's alerts by their mention in the outbox's payloads, on both backends, in the
payloads written now (`storage.payloads`, orjson: compact, UTF-8) and in those earlier versions wrote
(`Alert.to_json`, the json module: ", " and ": ", non-ASCII escaped; outboxes of running installs hold
them), at the top of a message and inside a grouped one's items, and never another member's."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, UserRef
from storage.factory import AnyStorage
from storage.postgres import PostgresStorage

NOW = datetime(2025, 1, 27, 21, 5, 30, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
CONSOLE = ChatRef("console", "room", ChatKind.GROUP)
ANN = UserRef("telegram", "101", "Ann")
BOB = UserRef("telegram", "102", "Bob")
ANNS_LOOKALIKE = UserRef("telegram", "1011", "Annette")  # her id begins with Ann's
ZOE = UserRef("console", "Zoë", "Zoë")  # written as "Zo\u00eb" by the json module, as "Zoë" now

# What the json module wrote (json.dumps(..., sort_keys=True)), literally: Ann's alert, then a group with hers inside.
OLD_ANN = (
    '{"at": "2025-01-27T16:05:00-05:00", "change_pct": 1.5, "direction": "up", "drawdown_pct": null, "extra": {}, "kind": "price_above", '
    '"level": 150.0, "level_name": null, "mention": {"display_name": "Ann", "platform": "telegram", "user_id": "101"}, "note": null, '
    '"peak": null, "prev_close": 147.5, "price": 151.0, "rule_id": 1, "threshold_pct": null, "ticker": "NVDA"}'
)
OLD_GROUP = (
    '{"at": "2025-01-27T16:05:00-05:00", "change_pct": null, "direction": null, "drawdown_pct": null, "extra": {}, "items": ['
    '{"at": "2025-01-27T16:05:00-05:00", "change_pct": -2.0, "direction": "down", "drawdown_pct": null, "extra": {}, "kind": "price_below", '
    '"level": 90.0, "level_name": null, "mention": {"display_name": "Bob", "platform": "telegram", "user_id": "102"}, "note": null, '
    '"peak": null, "prev_close": 92.0, "price": 89.5, "rule_id": 21, "threshold_pct": null, "ticker": "AMD"}, '
    '{"at": "2025-01-27T16:05:00-05:00", "change_pct": 3.0, "direction": "up", "drawdown_pct": null, "extra": {}, "kind": "price_above", '
    '"level": 200.0, "level_name": null, "mention": {"display_name": "Ann", "platform": "telegram", "user_id": "101"}, "note": null, '
    '"peak": null, "prev_close": 195.0, "price": 201.0, "rule_id": 22, "threshold_pct": null, "ticker": "TSM"}], "kind": "group", '
    '"level": null, "level_name": null, "mention": null, "note": null, "peak": null, "prev_close": null, "price": null, '
    '"rule_id": null, "threshold_pct": null, "ticker": "AMD"}'
)
OLD_ZOE = (
    '{"at": "2025-01-27T21:05:00+00:00", "change_pct": null, "direction": "up", "drawdown_pct": null, "extra": {}, "kind": "price_above", '
    '"level": 10.0, "level_name": null, "mention": {"display_name": "Zo\\u00eb", "platform": "console", "user_id": "Zo\\u00eb"}, '
    '"note": null, "peak": null, "prev_close": null, "price": 10.5, "rule_id": 7, "threshold_pct": null, "ticker": "NVDA"}'
)


def alert(ticker: str, n: int, mention: UserRef | None = None, price: float = 100.0) -> Alert:
    return Alert(kind=AlertKind.PRICE_ABOVE, ticker=ticker, at=NOW, price=price, change_pct=1.5, rule_id=n, mention=mention)


def group(*items: Alert) -> Alert:
    return Alert(kind=AlertKind.GROUP, ticker=items[0].ticker, at=NOW, items=list(items))


async def queue(storage: AnyStorage, chat: ChatRef, message: Alert, key: str, *, old: str | None = None) -> None:
    """Queue the message; with `old`, its payload replaced by that text (as an older tickerbell left it)."""
    await storage.outbox.enqueue([Envelope(chat, message, key)], now=NOW)
    if old is None:
        return
    if isinstance(storage, PostgresStorage):
        assert await storage.db.write("UPDATE outbox SET payload = $1 WHERE dedupe_key = $2", old, key)
    else:
        assert await storage.db.write("UPDATE outbox SET payload = ? WHERE dedupe_key = ?", (old, key))


async def test_a_members_mentions_are_found_in_old_and_new_payloads_top_level_and_in_a_groups_items(storage: AnyStorage) -> None:
    await queue(storage, GROUP, Alert.from_json(OLD_ANN), "old-ann", old=OLD_ANN)
    await queue(storage, GROUP, Alert.from_json(OLD_GROUP), "old-group", old=OLD_GROUP)
    await queue(storage, GROUP, alert("NVDA", 3, ANN, price=float("nan")), "new-ann")  # NaN written as null: PostgreSQL's jsonb takes it
    await queue(storage, GROUP, group(alert("AMD", 41, BOB), alert("TSM", 42, ANN)), "new-group")
    await queue(storage, GROUP, alert("NVDA", 5, BOB), "new-bob")
    await queue(storage, GROUP, alert("NVDA", 6, ANNS_LOOKALIKE), "new-lookalike")
    await queue(storage, CONSOLE, Alert.from_json(OLD_ZOE), "old-zoe", old=OLD_ZOE)
    await queue(storage, CONSOLE, alert("NVDA", 8, ZOE), "new-zoe")
    payloads = {row["dedupe_key"]: row["payload"] for row in await outbox_payloads(storage)}
    assert payloads["old-ann"] == OLD_ANN and payloads["new-ann"].startswith('{"kind":"price_above",')  # both formats really are there

    def found(rows: list[tuple[Alert, datetime, str, str]]) -> list[int | None]:
        return [item.rule_id for message, _, _, _ in rows for item in message.alerts]

    assert found(await storage.history.fired([], mentioning=ANN)) == [41, 42, 3, 21, 22, 1]  # newest first; a group's other items come along
    assert found(await storage.history.fired([], mentioning=BOB)) == [5, 41, 42, 21, 22]
    assert found(await storage.history.fired([], mentioning=ANNS_LOOKALIKE)) == [6]
    assert found(await storage.history.fired([], mentioning=ZOE)) == [8, 7]
    assert await storage.history.fired([], mentioning=UserRef("telegram", "10")) == []
    assert await storage.history.fired([], mentioning=UserRef("discord", "101")) == []  # another platform's 101


async def outbox_payloads(storage: AnyStorage) -> list[dict[str, str]]:
    sql = "SELECT dedupe_key, payload FROM outbox ORDER BY id"
    if isinstance(storage, PostgresStorage):
        return [dict(r) for r in await storage.db.fetch(sql)]
    return [dict(r) for r in await storage.db.fetchall(sql)]


async def test_a_payload_rewritten_by_sqlites_json_functions_is_found_too(storage: AnyStorage, backend: str) -> None:
    """Migration 006 rewrote older payloads through SQLite's json_remove (PostgreSQL's jsonb): its text has no spaces, non-ASCII still escaped."""
    await queue(storage, CONSOLE, Alert.from_json(OLD_ZOE), "rewritten", old=OLD_ZOE)
    if backend == "sqlite":
        assert not isinstance(storage, PostgresStorage)
        await storage.db.write("UPDATE outbox SET payload = json_remove(payload, '$.extra.none')")
        assert '"user_id":"Zo\\u00eb"' in (await outbox_payloads(storage))[0]["payload"]
    else:
        assert isinstance(storage, PostgresStorage)
        await storage.db.write("UPDATE outbox SET payload = (payload::jsonb #- '{extra,none}')::text")
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([], mentioning=ZOE)] == [7]
    assert await storage.history.fired([], mentioning=UserRef("console", "Zoe")) == []


async def test_old_and_new_payloads_queued_for_a_chat_come_back_whole(storage: AnyStorage) -> None:
    await queue(storage, GROUP, Alert.from_json(OLD_GROUP), "old-group", old=OLD_GROUP)
    new = group(alert("AMD", 41, BOB), alert("TSM", 42, ANN))
    await queue(storage, GROUP, new, "new-group")
    assert [message for message, _, _, _ in await storage.history.fired([GROUP])] == [new, Alert.from_json(OLD_GROUP)]
    assert [d.alert for d in await storage.outbox.pending_for_chat(GROUP)] == [Alert.from_json(OLD_GROUP), new]
