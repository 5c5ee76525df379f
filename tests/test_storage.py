"""Storage: migrations forward and refused backward, and an outbox that survives a crash."""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
import typing
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from bot.core import ports
from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.delivery import Adapter, ChatUnavailable, RetryLater
from bot.core.engine import RuleEngine
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef, direct_chat
from bot.core.ports import StorageError
from bot.core.routing import Routing
from bot.core.rules import RuleBook
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage, latest_version
from tests.conftest import DEMO_DATA

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
CHAT = ChatRef("console", "chat-1")
OTHER = ChatRef("telegram", "777")


class Crash(BaseException):
    """Like a kill: not an Exception, so nothing on the way catches it."""


def alert(n: int) -> Alert:
    return Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=NOW + timedelta(seconds=n), price=118.42, change_pct=-16.97, rule_id=n)


def dispatcher(storage: SqliteStorage, adapters: Mapping[str, Adapter], clock: ReplayClock, chats: ChatDirectory | None = None) -> Dispatcher:
    """The dispatcher as the app wires it: the outbox, the chat directory over the same database."""
    return Dispatcher(storage.outbox, chats or ChatDirectory(storage.chats, clock), adapters, clock)


async def outbox_rows(storage: SqliteStorage) -> list[dict[str, object]]:
    async with storage.db.conn.execute(
        """SELECT id, platform, chat_id, chat_kind, payload, dedupe_key, status,
                  fallback_platform, fallback_chat_id, fallback_kind FROM outbox ORDER BY id"""
    ) as cur:
        return [dict(row) for row in await cur.fetchall()]


class Recorder:
    def __init__(self, platform: str = "console", *, crash_after: int | None = None) -> None:
        self.platform = platform
        self.sent: list[int] = []
        self.crash_after = crash_after
        self.error: Exception | None = None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        if self.error is not None:
            raise self.error
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise Crash("simulated crash")
        self.sent.append(alert.rule_id or 0)


async def test_a_new_database_gets_every_migration_in_wal_mode(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        assert await storage.schema_version() == latest_version()
        async with storage.db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
    finally:
        await storage.close()


async def test_an_older_database_moves_forward_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    first = resources.files("storage.migrations").joinpath("001_init.sql").read_text()
    with sqlite3.connect(path) as conn:
        conn.executescript(first)
        conn.execute(
            "INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, chat_platform, chat_id, armed, created_at)"
            " VALUES ('NVDA', 'below', 120, 'member', 'console', 'alice', 'console', 'chat-1', 1, ?)",
            (NOW.isoformat(),),
        )
        conn.execute("PRAGMA user_version = 1")
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.schema_version() == latest_version()
        [kept] = await storage.rules.of_member(UserRef("console", "alice"))
        assert (kept.ticker, kept.kind, kept.threshold) == ("NVDA", RuleKind.BELOW, 120)
    finally:
        await storage.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(StorageError, match="newer tickerbell"):
        await SqliteStorage.open(path)


def schema_5_database(path: Path) -> None:
    """A database as tickerbell left it at schema 5, built from the shipped migration files."""
    folder = resources.files("storage.migrations")
    scripts = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql") and entry.name[:3].isdigit())
    old = [name for name in scripts if int(name[:3]) <= 5]
    assert [int(name[:3]) for name in old] == [1, 2, 3, 4, 5]
    with sqlite3.connect(path) as conn:
        for name in old:
            conn.executescript(folder.joinpath(name).read_text(encoding="utf-8"))
        conn.execute("PRAGMA user_version = 5")
    conn.close()


async def test_migration_6_moves_an_old_fallback_out_of_the_payload(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite3"
    schema_5_database(path)
    direct = direct_chat(UserRef("console", "bob", "Bob"))
    old_format = replace(alert(1), extra={"fallback_chat": "console:chat-1", "fallback_kind": "group", "x": 1})
    plain = replace(alert(2), extra={"x": 2})
    with sqlite3.connect(path) as conn:
        for key, queued in (("dm-old", old_format), ("plain-old", plain)):
            conn.execute(
                """INSERT INTO outbox (created_at, platform, chat_id, chat_kind, kind, ticker, payload, dedupe_key, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (NOW.isoformat(), direct.platform, direct.chat_id, direct.kind.value, queued.kind.value, queued.ticker, queued.to_json(), key, NOW.isoformat()),
            )
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    conn.close()

    storage = await SqliteStorage.open(path)
    try:
        assert await storage.schema_version() == latest_version() >= 6
        moved, untouched = await outbox_rows(storage)
        assert moved["dedupe_key"] == "dm-old" and untouched["dedupe_key"] == "plain-old"
        assert (moved["fallback_platform"], moved["fallback_chat_id"], moved["fallback_kind"]) == ("console", "chat-1", "group")
        extra = json.loads(str(moved["payload"]))["extra"]
        assert "fallback_chat" not in extra and "fallback_kind" not in extra
        assert extra == {"x": 1}
        assert Alert.from_json(str(moved["payload"])) == replace(old_format, extra={"x": 1})
        # a delivery queued without a fallback is left as it was
        assert (untouched["fallback_platform"], untouched["fallback_chat_id"], untouched["fallback_kind"]) == (None, None, None)
        assert Alert.from_json(str(untouched["payload"])) == plain
        assert [d.alert for d in await storage.outbox.pending_for_chat(direct)] == [replace(old_format, extra={"x": 1}), plain]

        # the direct chat refuses the bot: the migrated delivery goes to its fallback, the other dies
        assert await storage.chats.set_active(direct, False, now=NOW, reason="blocked") is True
        rows = {row["dedupe_key"]: row for row in await outbox_rows(storage)}
        assert rows["dm-old"]["status"] == "dead" and rows["plain-old"]["status"] == "dead"
        rerouted = rows[f"fallback:{moved['id']}"]
        assert (rerouted["platform"], rerouted["chat_id"], rerouted["chat_kind"], rerouted["status"]) == ("console", "chat-1", "group", "pending")
        assert set(rows) == {"dm-old", "plain-old", f"fallback:{moved['id']}"}
        [queued] = await storage.outbox.pending_for_chat(ChatRef("console", "chat-1"))
        assert queued.chat == ChatRef("console", "chat-1", ChatKind.GROUP)
        assert queued.alert == replace(old_format, extra={"x": 1})
    finally:
        await storage.close()


async def test_the_outbox_after_a_crash_sends_the_rest_once_and_never_repeats(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(path)
    queued = await storage.checks.record_check(
        states=[], armed_changes={}, envelopes=[Envelope(CHAT, alert(n), f"k{n}") for n in range(1, 6)], now=NOW
    )
    assert queued == 5
    crashing = Recorder(crash_after=2)
    with pytest.raises(Crash):
        await dispatcher(storage, {"console": crashing}, clock).drain_once()
    assert crashing.sent == [1, 2]
    await storage.close()  # the process died here

    storage = await SqliteStorage.open(path)
    try:
        again = Recorder()
        sent = await dispatcher(storage, {"console": again}, clock).drain_once()
        assert again.sent == [3, 4, 5]  # the ones not delivered, each once
        assert sent == 3
        assert await dispatcher(storage, {"console": again}, clock).drain_once() == 0
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent) == (0, 5)
    finally:
        await storage.close()


async def test_a_rule_firing_and_its_delivery_are_one_transaction(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        rule = await storage.rules.add(
            Rule(id=0, ticker="NVDA", kind=RuleKind.BELOW, threshold=120, source=RuleSource.MEMBER, owner=UserRef("console", "a"), chat=CHAT), now=NOW
        )
        bad = Alert.__new__(Alert)  # not serialisable: the insert fails inside the transaction
        with pytest.raises(Exception):
            await storage.checks.record_check(
                states=[TickerState("NVDA", last_price=118.0)], armed_changes={rule.id: False}, envelopes=[Envelope(CHAT, bad, "x")], now=NOW
            )
        kept = await storage.rules.get(rule.id)
        assert kept is not None and kept.armed is True  # rolled back with the failed delivery
        assert await storage.checks.ticker_states() == {}
    finally:
        await storage.close()


async def test_duplicate_deliveries_are_queued_once(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "same")], now=NOW)
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "same")], now=NOW)
        assert (await storage.outbox.counts()).pending == 1
    finally:
        await storage.close()


async def test_one_failing_adapter_does_not_stop_the_others(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "a"), Envelope(OTHER, alert(2), "b"), Envelope(CHAT, alert(3), "c")], now=NOW)
        console, telegram = Recorder("console"), Recorder("telegram")
        telegram.error = ConnectionError("network down")
        sender = dispatcher(storage, {"console": console, "telegram": telegram}, clock)
        assert await sender.drain_once() == 2
        assert console.sent == [1, 3]
        telegram.error = None
        assert await sender.drain_once() == 0  # the retry waits for its backoff
        clock.set(NOW + timedelta(seconds=6))
        assert await sender.drain_once() == 1
        assert telegram.sent == [2]
    finally:
        await storage.close()


async def test_flood_control_waits_at_least_retry_after(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "a")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=30)
        sender = dispatcher(storage, {"console": adapter}, clock)
        await sender.drain_once()
        adapter.error = None
        clock.set(NOW + timedelta(seconds=29))
        assert await sender.drain_once() == 0
        clock.set(NOW + timedelta(seconds=30))
        assert await sender.drain_once() == 1
    finally:
        await storage.close()


async def test_a_chat_that_is_gone_stops_receiving_until_it_comes_back(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        chats = ChatDirectory(storage.chats, clock)
        routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats)
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "a"), Envelope(CHAT, alert(2), "b")], now=NOW)
        adapter = Recorder()
        adapter.error = ChatUnavailable("bot was blocked by the user")
        await dispatcher(storage, {"console": adapter}, clock, chats).drain_once()
        assert not await chats.reachable(CHAT)
        assert not await storage.chats.is_active(CHAT)  # remembered in the database, not only in memory
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.dead) == (0, 2)
        # nothing queued for an inactive chat
        assert await storage.outbox.enqueue(await routing.reachable([Envelope(CHAT, alert(3), "c")]), now=NOW) == 0
        await chats.seen(CHAT)
        assert await storage.chats.is_active(CHAT)
        assert await storage.outbox.enqueue(await routing.reachable([Envelope(CHAT, alert(4), "d")]), now=NOW) == 1
    finally:
        await storage.close()


async def test_levels_watches_and_splits(tmp_path: Path, calendar: MarketCalendar) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    market = CsvMarket(DEMO_DATA, clock=clock, calendar=calendar)
    try:
        book = RuleBook(
            store=storage.rules, checks=storage.checks, engine=RuleEngine(), market=market, calendar=calendar, clock=clock
        )
        await book.load()
        for name, price in ((LevelName.ENTRY, 1200.0), (LevelName.EXIT, 1500.0)):
            await book.add(Rule(id=0, ticker="NVDA", kind=RuleKind.CROSS, threshold=price, source=RuleSource.ANALYST, direction=Direction.DOWN, level_name=name), None)
        await book.add(Rule(id=0, ticker="NVDA", kind=RuleKind.CROSS, threshold=1100.0, source=RuleSource.ANALYST, level_name=LevelName.ENTRY), None)
        levels = {r.level_name: r.threshold for r in await storage.rules.analyst_levels("NVDA")}
        assert levels == {LevelName.ENTRY: 1100.0, LevelName.EXIT: 1500.0}  # setting a level again replaces it
        assert await storage.watches.add(CHAT, "NVDA", now=NOW) is True
        assert await storage.watches.add(CHAT, "NVDA", now=NOW) is False
        assert await storage.watches.watchers("NVDA") == [CHAT]
        applied = await storage.checks.apply_split("NVDA", NOW.date(), 10.0, envelopes=[], now=NOW)
        assert applied is True
        assert await storage.checks.apply_split("NVDA", NOW.date(), 10.0, envelopes=[], now=NOW) is False  # never twice
        levels = {r.level_name: round(r.threshold, 6) for r in await storage.rules.analyst_levels("NVDA")}
        assert levels == {LevelName.ENTRY: 110.0, LevelName.EXIT: 150.0}
    finally:
        await market.aclose()
        await storage.close()


class Gate:
    """An adapter whose sends to one chat wait until the test opens the gate."""

    platform = "console"

    def __init__(self, blocked_chat: str) -> None:
        self.blocked_chat = blocked_chat
        self.gate = asyncio.Event()
        self.sent: list[tuple[str, int]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        if chat.chat_id == self.blocked_chat:
            await self.gate.wait()
        self.sent.append((chat.chat_id, alert.rule_id or 0))


async def test_a_slow_chat_does_not_hold_up_the_others(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        slow, fast = ChatRef("console", "slow"), ChatRef("console", "fast")
        await storage.outbox.enqueue(
            [Envelope(slow, alert(1), "a"), Envelope(fast, alert(2), "b"), Envelope(fast, alert(3), "c"), Envelope(slow, alert(4), "d")], now=NOW
        )
        adapter = Gate("slow")
        draining = asyncio.ensure_future(dispatcher(storage, {"console": adapter}, clock).drain_once())
        while len(adapter.sent) < 2:  # the fast chat is served while the slow one waits
            await asyncio.sleep(0)
        assert adapter.sent == [("fast", 2), ("fast", 3)]
        adapter.gate.set()
        assert await asyncio.wait_for(draining, timeout=5) == 4
        assert [rule for chat, rule in adapter.sent if chat == "slow"] == [1, 4]  # each chat in order
    finally:
        await storage.close()


async def test_after_a_chat_is_gone_its_other_deliveries_are_not_tried(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(n), f"k{n}") for n in range(1, 4)], now=NOW)
        calls: list[int] = []

        class Blocked(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                calls.append(alert.rule_id or 0)
                raise ChatUnavailable("Forbidden: bot was blocked by the user")

        await dispatcher(storage, {"console": Blocked()}, clock).drain_once()
        assert calls == [1]
        assert (await storage.outbox.counts()).dead == 3
    finally:
        await storage.close()


async def test_flood_control_holds_the_rest_of_that_chat_in_order(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "a"), Envelope(CHAT, alert(2), "b")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=10)
        sender = dispatcher(storage, {"console": adapter}, clock)
        await sender.drain_once()
        adapter.error = None
        assert await storage.outbox.next_due_at(["console"]) == NOW + timedelta(seconds=10)  # both wait, not only the first
        clock.set(NOW + timedelta(seconds=10))
        assert await sender.drain_once() == 2
        assert adapter.sent == [1, 2]
    finally:
        await storage.close()


async def test_a_delivery_that_always_fails_is_given_up_and_does_not_hold_the_others(tmp_path: Path) -> None:
    from jobs.dispatch import MAX_ATTEMPTS

    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "bad"), Envelope(CHAT, alert(2), "good")], now=NOW)

        class RefusesOne(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if alert.rule_id == 1:
                    raise ValueError("400 Bad Request: invalid form body")
                await super().send_alert(chat, alert)

        adapter = RefusesOne()
        sender = dispatcher(storage, {"console": adapter}, clock)
        assert await sender.drain_once() == 1
        assert adapter.sent == [2]  # not held behind the failing one
        for quarter in range(1, 6 * 4 + 1):  # drains every 15 minutes for 6 hours
            clock.set(NOW + timedelta(minutes=15 * quarter))
            await sender.drain_once()
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent, counts.dead) == (0, 1, 1)
        assert MAX_ATTEMPTS >= 10
    finally:
        await storage.close()


async def test_a_direct_message_the_member_cannot_receive_goes_to_the_chat_it_was_set_in(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        member = UserRef("console", "alice", "Alice")
        group = ChatRef("console", "group-1", ChatKind.GROUP)
        await storage.outbox.enqueue([Envelope(direct_chat(member), alert(1), "dm", fallback=group)], now=NOW)
        delivered: list[tuple[str, Alert]] = []

        class NoDirectChat(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if chat.chat_id.startswith("user:"):
                    raise ChatUnavailable("Forbidden: bot can't initiate conversation with a user")
                delivered.append((chat.chat_id, alert))

        sender = dispatcher(storage, {"console": NoDirectChat()}, clock)
        await sender.drain_once()
        await sender.drain_once()
        assert [(chat, a.rule_id) for chat, a in delivered] == [("group-1", 1)]
        assert "fallback_chat" not in delivered[0][1].extra
    finally:
        await storage.close()


async def test_every_pending_direct_message_of_a_gone_direct_chat_is_rerouted(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        member = UserRef("console", "bob", "Bob")
        group = ChatRef("console", "group-1", ChatKind.GROUP)
        await storage.outbox.enqueue([Envelope(direct_chat(member), alert(n), f"dm{n}", fallback=group) for n in (1, 2, 3)], now=NOW)
        delivered: list[int] = []

        class NoDirectChat(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if chat.chat_id.startswith("user:"):
                    raise ChatUnavailable("Forbidden: bot can't initiate conversation with a user")
                delivered.append(alert.rule_id or 0)

        sender = dispatcher(storage, {"console": NoDirectChat()}, clock)
        await sender.drain_once()
        await sender.drain_once()
        assert sorted(delivered) == [1, 2, 3]
    finally:
        await storage.close()


async def test_flood_control_waits_do_not_count_as_failed_attempts(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(CHAT, alert(1), "a")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=1)
        sender = dispatcher(storage, {"console": adapter}, clock)
        for second in range(30):
            clock.set(NOW + timedelta(seconds=second))
            await sender.drain_once()
        [pending] = await storage.outbox.pending_for_chat(CHAT)
        assert pending.attempts == 0
    finally:
        await storage.close()


async def test_a_direct_message_queued_for_a_chat_already_gone_goes_to_its_fallback(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        chats = ChatDirectory(storage.chats, clock)
        routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats)
        member, group = UserRef("console", "bob", "Bob"), ChatRef("console", "group-1", ChatKind.GROUP)
        await chats.gone(direct_chat(member), "blocked")
        routed = await routing.reachable([Envelope(direct_chat(member), alert(1), "late", fallback=group)])
        assert await storage.outbox.enqueue(routed, now=NOW) == 1
        [queued] = await storage.outbox.pending_for_chat(group)
        assert queued.alert.rule_id == 1 and "fallback_chat" not in queued.alert.extra
        assert await storage.outbox.pending_for_chat(direct_chat(member)) == []
    finally:
        await storage.close()


async def test_adding_a_rule_deletes_the_rules_it_replaces_in_the_same_transaction(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        def level(name: LevelName, price: float) -> Rule:
            return Rule(id=0, ticker="NVDA", kind=RuleKind.CROSS, threshold=price, source=RuleSource.ANALYST, direction=Direction.DOWN, level_name=name)

        entry = await storage.rules.add(level(LevelName.ENTRY, 1200.0), now=NOW)
        exit_ = await storage.rules.add(level(LevelName.EXIT, 1500.0), now=NOW)
        member = await storage.rules.add(
            Rule(id=0, ticker="NVDA", kind=RuleKind.BELOW, threshold=100.0, source=RuleSource.MEMBER, owner=UserRef("console", "a"), chat=CHAT), now=NOW
        )
        later = NOW + timedelta(minutes=1)
        new_entry = await storage.rules.add(level(LevelName.ENTRY, 1100.0), now=later, replacing=[entry.id])
        assert new_entry.id not in (0, entry.id, exit_.id, member.id) and new_entry.created_at == later
        assert await storage.rules.get(entry.id) is None
        assert {r.id: (r.level_name, r.threshold) for r in await storage.rules.analyst_levels("NVDA")} == {
            new_entry.id: (LevelName.ENTRY, 1100.0),
            exit_.id: (LevelName.EXIT, 1500.0),
        }
        assert [r.id for r in await storage.rules.all()] == [exit_.id, member.id, new_entry.id]  # only the replaced one went

        # the unique index still guards one analyst level per name: without `replacing`, it refuses
        before = [(r.id, r.threshold) for r in await storage.rules.all()]
        with pytest.raises(sqlite3.IntegrityError):
            await storage.rules.add(level(LevelName.ENTRY, 1000.0), now=later)
        assert [(r.id, r.threshold) for r in await storage.rules.all()] == before
        # and nothing is half-written: a failed insert undoes the deletes that went with it
        with pytest.raises(sqlite3.IntegrityError):
            await storage.rules.add(level(LevelName.ENTRY, 1000.0), now=later, replacing=[exit_.id])
        assert [(r.id, r.threshold) for r in await storage.rules.all()] == before
        assert await storage.rules.get(exit_.id) is not None
    finally:
        await storage.close()


async def test_a_fallback_is_stored_with_its_delivery_and_used_when_the_direct_chat_goes(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        direct = direct_chat(UserRef("console", "bob", "Bob"))
        group = ChatRef("console", "group-1", ChatKind.GROUP)
        queued = await storage.outbox.enqueue(
            [Envelope(direct, alert(1), "dm1", fallback=group), Envelope(direct, alert(2), "dm2")], now=NOW
        )
        assert queued == 2
        with_fallback, without = await outbox_rows(storage)
        assert (with_fallback["fallback_platform"], with_fallback["fallback_chat_id"], with_fallback["fallback_kind"]) == ("console", "group-1", "group")
        assert (without["fallback_platform"], without["fallback_chat_id"], without["fallback_kind"]) == (None, None, None)
        assert [d.alert.rule_id for d in await storage.outbox.pending_for_chat(direct)] == [1, 2]
        assert await storage.outbox.pending_for_chat(group) == []

        assert await storage.chats.set_active(direct, False, now=NOW, reason="blocked") is True
        rows = {row["dedupe_key"]: row for row in await outbox_rows(storage)}
        assert set(rows) == {"dm1", "dm2", f"fallback:{with_fallback['id']}"}
        assert rows["dm1"]["status"] == "dead"
        assert rows["dm2"]["status"] == "dead"  # no fallback: it dies with the chat
        moved = rows[f"fallback:{with_fallback['id']}"]
        assert (moved["platform"], moved["chat_id"], moved["chat_kind"], moved["status"]) == ("console", "group-1", "group", "pending")
        assert (moved["fallback_platform"], moved["fallback_chat_id"], moved["fallback_kind"]) == (None, None, None)
        [delivery] = await storage.outbox.pending_for_chat(group)
        assert delivery.chat == group and delivery.alert == alert(1)
        assert await storage.outbox.pending_for_chat(direct) == []
        counts = await storage.outbox.counts()
        assert (counts.pending, counts.sent, counts.dead) == (1, 0, 2)
    finally:
        await storage.close()


PORTS: dict[str, type] = {
    "rules": ports.RuleStore,
    "watches": ports.WatchStore,
    "prefs": ports.MemberPrefStore,
    "chats": ports.ChatStore,
    "baskets": ports.BasketStore,
    "earnings": ports.EarningsStore,
    "seeds": ports.PrimerSeedStore,
    "checks": ports.CheckStore,
    "outbox": ports.OutboxStore,
    "stats": ports.StatsStore,
    "chat_settings": ports.ChatSettingsStore,
}


def declared_methods(protocol: type) -> dict[str, typing.Callable[..., object]]:
    """The methods a Protocol class itself declares (not the machinery `typing.Protocol` adds)."""
    return {name: value for name, value in vars(protocol).items() if not name.startswith("_") and inspect.isfunction(value)}


def shape(function: typing.Callable[..., object], *, drop_self: bool) -> list[tuple[str, object]]:
    parameters = list(inspect.signature(function).parameters.values())
    if drop_self:
        assert parameters and parameters[0].name == "self"
        parameters = parameters[1:]
    return [(p.name, p.kind) for p in parameters]


async def test_sqlite_storage_meets_every_storage_port(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        # the ports the Storage protocol promises are exactly the ones checked here
        promised = {
            name: typing.get_type_hints(value.fget)["return"]
            for klass in ports.Storage.__mro__
            if klass.__module__ == ports.__name__
            for name, value in vars(klass).items()
            if isinstance(value, property)
        }
        assert promised == PORTS
        for attribute, protocol in PORTS.items():
            store = getattr(storage, attribute)
            methods = declared_methods(protocol)
            assert methods, f"{protocol.__name__} declares no methods"
            for name, declared in methods.items():
                implemented = getattr(store, name, None)
                assert implemented is not None and callable(implemented), f"storage.{attribute} has no {name}() of {protocol.__name__}"
                assert shape(implemented, drop_self=False) == shape(declared, drop_self=True), f"storage.{attribute}.{name} differs from {protocol.__name__}.{name}"
                assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared), f"storage.{attribute}.{name}: async or not as the port says"
        assert inspect.iscoroutinefunction(storage.close)
    finally:
        await storage.close()
