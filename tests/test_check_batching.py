"""A busy check's writes, batched: the outbox rows of a check go in with one statement, in order,
and an alert's stored text is the same as before the fast path."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.messages import Alert, AlertKind, Envelope, _json_default
from bot.core.models import ChatKind, ChatRef, UserRef
from storage.sqlite import SqliteStorage

NOW = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)


def as_before(alert: Alert) -> str:
    """`Alert.to_json` as it was written first: asdict, then json.dumps sorted (a group's `items`
    and `silent` only when set, so single alerts keep their older text)."""
    data = asdict(alert)
    data["at"] = alert.at.isoformat()
    if not data["items"]:
        del data["items"]
    if not data["silent"]:
        del data["silent"]
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
        assert await storage.outbox.enqueue([*first, first[0]], now=NOW) == 3  # the repeated key within a batch: once
        assert await storage.outbox.enqueue([Envelope(chat, a, f"key-{a.rule_id}") for a in alerts], now=NOW) == 2
        assert await storage.outbox.enqueue([], now=NOW) == 0
        pending = await storage.outbox.pending_for_chat(chat)
        assert [d.alert.rule_id for d in pending] == [0, 1, 2, 3, 4]  # in the order routed
        assert [d.alert for d in pending] == alerts
    finally:
        await storage.close()


async def test_a_busy_checks_commit_leaves_the_checkpoint_to_just_after(tmp_path: Path) -> None:
    """The check's commit does not copy the write-ahead log into the file (SQLite's automatic
    checkpoint, which a busy check always set off): a background checkpoint does, just after."""
    path = tmp_path / "t.sqlite3"
    storage = await SqliteStorage.open(path)
    try:
        chat = ChatRef("console", "c", ChatKind.GROUP)
        note = "x" * 2_000
        envelopes = [Envelope(chat, Alert(kind=AlertKind.PRICE_ABOVE, ticker="NVDA", at=NOW, rule_id=i, note=note), f"key-{i}") for i in range(3_000)]
        size = path.stat().st_size
        assert await storage.checks.record_check(states=[], armed_changes=dict.fromkeys(range(3_000), False), envelopes=envelopes, now=NOW) == 3_000
        assert path.stat().st_size == size  # committed to the log (well past 1,000 pages), not yet copied into the file
        assert (await storage.db.fetchone("PRAGMA wal_autocheckpoint"))[0] == 1000  # other writes keep SQLite's own
        await storage.db._checkpointing  # type: ignore[misc]
        assert path.stat().st_size > size + 3_000 * 2_000
    finally:
        await storage.close()
    reopened = await SqliteStorage.open(path)
    try:
        assert len(await reopened.outbox.pending_for_chat(chat)) == 3_000
    finally:
        await reopened.close()


# -- a replay's batches --------------------------------------------------------------------

SCRIPT = [
    "/alert NVDA below 100",
    "/alert NVDA move 5 down",
    "/alert NVDA above 1000000000",  # refused: out of range
    "/alert NVDA sideways 3",  # refused: no such kind
    "/alerts",
    "/unalert 1",
    "/unalert 999",  # refused: no such alert
    "/watch NVDA",
    "/setlevel NVDA stop 100 cut losses",
    "/setlevel NVDA stop 95",  # replaces the level
    "/snooze 2 3",
    "/alerts",
    "/levels NVDA",
    "/alert NVDA drawdown 20",
    "/alert NVDA above 150",
    "/alert NVDA above 151",  # refused: over the limit of 3 a member in this config
    "/watchlist",
]


async def replies(harness, batched: bool) -> list[str]:  # type: ignore[no-untyped-def]
    from tests.conftest import ANALYST

    async def say_all() -> list[str]:
        return [await harness.say(line, user=ANALYST) for line in SCRIPT]

    if not batched:
        return await say_all()
    async with harness.app.storage.db.batch():
        return await say_all()


async def test_a_script_in_one_batch_gets_the_replies_it_gets_command_by_command(make_harness, tmp_path: Path) -> None:
    from bot.config import Config
    from tests.conftest import DEMO_DATA, ny

    config = Config()
    config = replace(config, bot=replace(config.bot, max_alerts_per_user=3))
    one_by_one = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 11), config=config, db=tmp_path / "a.sqlite3")
    batched = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 11), config=config, db=tmp_path / "b.sqlite3")
    expected = await replies(one_by_one, batched=False)
    assert await replies(batched, batched=True) == expected
    assert "the most allowed" in expected[-2] and "no alert #999" in expected[6]  # refusals among them
    rules_a = [(r.id, r.kind, r.threshold, r.armed, r.snoozed_until) for r in await one_by_one.app.storage.rules.all()]
    rules_b = [(r.id, r.kind, r.threshold, r.armed, r.snoozed_until) for r in await batched.app.storage.rules.all()]
    assert rules_b == rules_a  # and the same rules committed


async def test_inside_a_batch_a_failed_transaction_undoes_only_itself(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "t.sqlite3")
    try:
        chat = ChatRef("console", "c", ChatKind.GROUP)
        alert = Alert(kind=AlertKind.PRICE_ABOVE, ticker="NVDA", at=NOW, price=1.0)
        async with storage.db.batch():
            await storage.outbox.enqueue([Envelope(chat, alert, "kept")], now=NOW)
            try:
                async with storage.db.transaction() as tx:
                    await tx.execute("INSERT INTO applied_splits (ticker, day, ratio, applied_at) VALUES ('NVDA', '2024-06-10', 10, 'x')")
                    raise RuntimeError("a step fails after its first write")
            except RuntimeError:
                pass
            assert await storage.checks.split_applied("NVDA", date(2024, 6, 10)) is False  # undone at once
            assert await storage.outbox.enqueue([Envelope(chat, alert, "kept")], now=NOW) == 0  # the first is still there
        assert len(await storage.outbox.pending_for_chat(chat)) == 1
    finally:
        await storage.close()


async def test_deliveries_marked_sent_in_a_batch_are_read_back_and_committed(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "t.sqlite3")
    try:
        chat = ChatRef("console", "c", ChatKind.GROUP)
        alerts = [Alert(kind=AlertKind.PRICE_ABOVE, ticker="NVDA", at=NOW, rule_id=i) for i in range(3)]
        await storage.outbox.enqueue([Envelope(chat, a, f"k{a.rule_id}") for a in alerts], now=NOW)
        async with storage.db.batch():
            due = await storage.outbox.due(now=NOW, platforms=["console"])
            for delivery in due[:2]:
                await storage.outbox.mark_sent(delivery.id, now=NOW)
            left = await storage.outbox.due(now=NOW, platforms=["console"])  # a read sees the marks
            assert [d.alert.rule_id for d in left] == [2]
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent) == (1, 2)
        try:  # a batch that fails keeps none of its marks
            async with storage.db.batch():
                await storage.outbox.mark_sent(left[0].id, now=NOW)
                raise RuntimeError("the replay stops")
        except RuntimeError:
            pass
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent) == (1, 2)
    finally:
        await storage.close()
