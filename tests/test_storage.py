"""Storage: migrations forward and refused backward, and an outbox that survives a crash."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from bot.adapters.base import ChatUnavailable, RetryLater
from bot.core.clock import ReplayClock
from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef
from jobs.dispatch import Dispatcher
from storage.db import Store, StorageError, latest_version

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=timezone.utc)
CHAT = ChatRef("console", "chat-1")
OTHER = ChatRef("telegram", "777")


class Crash(BaseException):
    """Like a kill: not an Exception, so nothing on the way catches it."""


def alert(n: int) -> Alert:
    return Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=NOW + timedelta(seconds=n), price=118.42, change_pct=-16.97, rule_id=n)


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
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        assert await store.schema_version() == latest_version()
        async with store._conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
    finally:
        await store.close()


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
    store = await Store.open(path)
    try:
        assert await store.schema_version() == latest_version()
        [kept] = await store.member_rules(UserRef("console", "alice"))
        assert (kept.ticker, kept.kind, kept.threshold) == ("NVDA", RuleKind.BELOW, 120)
    finally:
        await store.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(StorageError, match="newer tickerbell"):
        await Store.open(path)


async def test_the_outbox_after_a_crash_sends_the_rest_once_and_never_repeats(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    clock = ReplayClock(NOW)
    store = await Store.open(path)
    queued = await store.record_check(states=[], armed_changes={}, deliveries=[(CHAT, alert(n), f"k{n}") for n in range(1, 6)], now=NOW)
    assert queued == 5
    crashing = Recorder(crash_after=2)
    with pytest.raises(Crash):
        await Dispatcher(store, {"console": crashing}, clock).drain_once()
    assert crashing.sent == [1, 2]
    await store.close()  # the process died here

    store = await Store.open(path)
    try:
        again = Recorder()
        sent = await Dispatcher(store, {"console": again}, clock).drain_once()
        assert again.sent == [3, 4, 5]  # the ones not delivered, each once
        assert sent == 3
        assert await Dispatcher(store, {"console": again}, clock).drain_once() == 0
        counts = await store.outbox_counts()
        assert (counts.pending, counts.sent) == (0, 5)
    finally:
        await store.close()


async def test_a_rule_firing_and_its_delivery_are_one_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        rule = await store.add_rule(
            Rule(id=0, ticker="NVDA", kind=RuleKind.BELOW, threshold=120, source=RuleSource.MEMBER, owner=UserRef("console", "a"), chat=CHAT), now=NOW
        )
        bad = Alert.__new__(Alert)  # not serialisable: the insert fails inside the transaction
        with pytest.raises(Exception):
            await store.record_check(states=[TickerState("NVDA", last_price=118.0)], armed_changes={rule.id: False}, deliveries=[(CHAT, bad, "x")], now=NOW)
        kept = await store.get_rule(rule.id)
        assert kept is not None and kept.armed is True  # rolled back with the failed delivery
        assert await store.ticker_states() == {}
    finally:
        await store.close()


async def test_duplicate_deliveries_are_queued_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "same")], now=NOW)
        await store.enqueue([(CHAT, alert(1), "same")], now=NOW)
        assert (await store.outbox_counts()).pending == 1
    finally:
        await store.close()


async def test_one_failing_adapter_does_not_stop_the_others(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "a"), (OTHER, alert(2), "b"), (CHAT, alert(3), "c")], now=NOW)
        console, telegram = Recorder("console"), Recorder("telegram")
        telegram.error = ConnectionError("network down")
        dispatcher = Dispatcher(store, {"console": console, "telegram": telegram}, clock)
        assert await dispatcher.drain_once() == 2
        assert console.sent == [1, 3]
        telegram.error = None
        assert await dispatcher.drain_once() == 0  # the retry waits for its backoff
        clock.set(NOW + timedelta(seconds=6))
        assert await dispatcher.drain_once() == 1
        assert telegram.sent == [2]
    finally:
        await store.close()


async def test_flood_control_waits_at_least_retry_after(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "a")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=30)
        dispatcher = Dispatcher(store, {"console": adapter}, clock)
        await dispatcher.drain_once()
        adapter.error = None
        clock.set(NOW + timedelta(seconds=29))
        assert await dispatcher.drain_once() == 0
        clock.set(NOW + timedelta(seconds=30))
        assert await dispatcher.drain_once() == 1
    finally:
        await store.close()


async def test_a_chat_that_is_gone_stops_receiving_until_it_comes_back(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "a"), (CHAT, alert(2), "b")], now=NOW)
        adapter = Recorder()
        adapter.error = ChatUnavailable("bot was blocked by the user")
        await Dispatcher(store, {"console": adapter}, clock).drain_once()
        assert not await store.is_chat_active(CHAT)
        counts = await store.outbox_counts()
        assert (counts.pending, counts.dead) == (0, 2)
        assert await store.enqueue([(CHAT, alert(3), "c")], now=NOW) == 0  # nothing queued for an inactive chat
        await store.set_chat_active(CHAT, True, now=NOW)
        assert await store.enqueue([(CHAT, alert(4), "d")], now=NOW) == 1
    finally:
        await store.close()


async def test_levels_watches_and_splits(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        for name, price in ((LevelName.ENTRY, 1200.0), (LevelName.EXIT, 1500.0)):
            await store.add_rule(Rule(id=0, ticker="NVDA", kind=RuleKind.CROSS, threshold=price, source=RuleSource.ANALYST, direction=Direction.DOWN, level_name=name), now=NOW)
        await store.add_rule(Rule(id=0, ticker="NVDA", kind=RuleKind.CROSS, threshold=1100.0, source=RuleSource.ANALYST, level_name=LevelName.ENTRY), now=NOW)
        levels = {r.level_name: r.threshold for r in await store.analyst_levels("NVDA")}
        assert levels == {LevelName.ENTRY: 1100.0, LevelName.EXIT: 1500.0}  # setting a level again replaces it
        assert await store.add_watch(CHAT, "NVDA", now=NOW) is True
        assert await store.add_watch(CHAT, "NVDA", now=NOW) is False
        assert await store.watchers("NVDA") == [CHAT]
        applied = await store.apply_split("NVDA", NOW.date(), 10.0, notices=[], now=NOW)
        assert applied is True
        assert await store.apply_split("NVDA", NOW.date(), 10.0, notices=[], now=NOW) is False  # never twice
        levels = {r.level_name: round(r.threshold, 6) for r in await store.analyst_levels("NVDA")}
        assert levels == {LevelName.ENTRY: 110.0, LevelName.EXIT: 150.0}
    finally:
        await store.close()


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
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        slow, fast = ChatRef("console", "slow"), ChatRef("console", "fast")
        await store.enqueue([(slow, alert(1), "a"), (fast, alert(2), "b"), (fast, alert(3), "c"), (slow, alert(4), "d")], now=NOW)
        adapter = Gate("slow")
        draining = asyncio.ensure_future(Dispatcher(store, {"console": adapter}, clock).drain_once())
        while len(adapter.sent) < 2:  # the fast chat is served while the slow one waits
            await asyncio.sleep(0)
        assert adapter.sent == [("fast", 2), ("fast", 3)]
        adapter.gate.set()
        assert await asyncio.wait_for(draining, timeout=5) == 4
        assert [rule for chat, rule in adapter.sent if chat == "slow"] == [1, 4]  # each chat in order
    finally:
        await store.close()


async def test_after_a_chat_is_gone_its_other_deliveries_are_not_tried(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(n), f"k{n}") for n in range(1, 4)], now=NOW)
        calls: list[int] = []

        class Blocked(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                calls.append(alert.rule_id or 0)
                raise ChatUnavailable("Forbidden: bot was blocked by the user")

        await Dispatcher(store, {"console": Blocked()}, clock).drain_once()
        assert calls == [1]
        assert (await store.outbox_counts()).dead == 3
    finally:
        await store.close()


async def test_flood_control_holds_the_rest_of_that_chat_in_order(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "a"), (CHAT, alert(2), "b")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=10)
        dispatcher = Dispatcher(store, {"console": adapter}, clock)
        await dispatcher.drain_once()
        adapter.error = None
        assert await store.next_due_at(["console"]) == NOW + timedelta(seconds=10)  # both wait, not only the first
        clock.set(NOW + timedelta(seconds=10))
        assert await dispatcher.drain_once() == 2
        assert adapter.sent == [1, 2]
    finally:
        await store.close()


async def test_a_delivery_that_always_fails_is_given_up_and_does_not_hold_the_others(tmp_path: Path) -> None:
    from jobs.dispatch import MAX_ATTEMPTS

    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "bad"), (CHAT, alert(2), "good")], now=NOW)

        class RefusesOne(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if alert.rule_id == 1:
                    raise ValueError("400 Bad Request: invalid form body")
                await super().send_alert(chat, alert)

        adapter = RefusesOne()
        dispatcher = Dispatcher(store, {"console": adapter}, clock)
        assert await dispatcher.drain_once() == 1
        assert adapter.sent == [2]  # not held behind the failing one
        for quarter in range(1, 6 * 4 + 1):  # drains every 15 minutes for 6 hours
            clock.set(NOW + timedelta(minutes=15 * quarter))
            await dispatcher.drain_once()
        counts = await store.outbox_counts()
        assert (counts.pending, counts.sent, counts.dead) == (0, 1, 1)
        assert MAX_ATTEMPTS >= 10
    finally:
        await store.close()


async def test_a_direct_message_the_member_cannot_receive_goes_to_the_chat_it_was_set_in(tmp_path: Path) -> None:
    from bot.core.messages import with_fallback
    from bot.core.models import ChatKind, direct_chat

    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        member = UserRef("console", "alice", "Alice")
        group = ChatRef("console", "group-1", ChatKind.GROUP)
        await store.enqueue([(direct_chat(member), with_fallback(alert(1), group), "dm")], now=NOW)
        delivered: list[tuple[str, Alert]] = []

        class NoDirectChat(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if chat.chat_id.startswith("user:"):
                    raise ChatUnavailable("Forbidden: bot can't initiate conversation with a user")
                delivered.append((chat.chat_id, alert))

        dispatcher = Dispatcher(store, {"console": NoDirectChat()}, clock)
        await dispatcher.drain_once()
        await dispatcher.drain_once()
        assert [(chat, a.rule_id) for chat, a in delivered] == [("group-1", 1)]
        assert "fallback_chat" not in delivered[0][1].extra
    finally:
        await store.close()


async def test_every_pending_direct_message_of_a_gone_direct_chat_is_rerouted(tmp_path: Path) -> None:
    from bot.core.messages import with_fallback
    from bot.core.models import ChatKind, direct_chat

    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        member = UserRef("console", "bob", "Bob")
        group = ChatRef("console", "group-1", ChatKind.GROUP)
        await store.enqueue([(direct_chat(member), with_fallback(alert(n), group), f"dm{n}") for n in (1, 2, 3)], now=NOW)
        delivered: list[int] = []

        class NoDirectChat(Recorder):
            async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
                if chat.chat_id.startswith("user:"):
                    raise ChatUnavailable("Forbidden: bot can't initiate conversation with a user")
                delivered.append(alert.rule_id or 0)

        dispatcher = Dispatcher(store, {"console": NoDirectChat()}, clock)
        await dispatcher.drain_once()
        await dispatcher.drain_once()
        assert sorted(delivered) == [1, 2, 3]
    finally:
        await store.close()


async def test_flood_control_waits_do_not_count_as_failed_attempts(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        await store.enqueue([(CHAT, alert(1), "a")], now=NOW)
        adapter = Recorder()
        adapter.error = RetryLater("slow down", retry_after=1)
        dispatcher = Dispatcher(store, {"console": adapter}, clock)
        for second in range(30):
            clock.set(NOW + timedelta(seconds=second))
            await dispatcher.drain_once()
        [pending] = await store.pending_for_chat(CHAT)
        assert pending.attempts == 0
    finally:
        await store.close()


async def test_a_direct_message_queued_for_a_chat_already_gone_goes_to_its_fallback(tmp_path: Path) -> None:
    from bot.core.messages import with_fallback
    from bot.core.models import ChatKind, direct_chat

    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        member, group = UserRef("console", "bob", "Bob"), ChatRef("console", "group-1", ChatKind.GROUP)
        await store.set_chat_active(direct_chat(member), False, now=NOW, reason="blocked")
        assert await store.enqueue([(direct_chat(member), with_fallback(alert(1), group), "late")], now=NOW) == 1
        [queued] = await store.pending_for_chat(group)
        assert queued.alert.rule_id == 1 and "fallback_chat" not in queued.alert.extra
    finally:
        await store.close()
