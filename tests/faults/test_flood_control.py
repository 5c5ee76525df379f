"""Flood control honoured exactly: the wait counts from the platform's answer, not from when
the send began (a send may first queue in the adapter's rate limiter)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.delivery import RetryLater
from bot.core.messages import Alert, Envelope
from bot.core.models import ChatKind, ChatRef
from jobs.dispatch import Dispatcher
from storage.sqlite import SqliteStorage
from tests.faults.parts import NOW, alert

FLOODED = ChatRef("telegram", "-1001", ChatKind.GROUP)
CALM = ChatRef("telegram", "-1002", ChatKind.GROUP)
QUEUED_FOR = timedelta(seconds=2.8)  # the first send waits this long in the rate limiter, then gets a 429
RETRY_AFTER = 3.0


class SlowThenFlooded:
    """A platform whose first send to FLOODED queues 2.8 s on the clock, then answers 429 retry_after=3.
    Every request is recorded with the time it was made."""

    platform = "telegram"

    def __init__(self, clock: ReplayClock) -> None:
        self.clock = clock
        self.requests: list[tuple[str, int, datetime]] = []
        self.answered_429_at: datetime | None = None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        self.requests.append((chat.chat_id, alert.rule_id or 0, self.clock.now()))
        if chat == FLOODED and self.answered_429_at is None:
            self.clock.set(self.clock.now() + QUEUED_FOR)
            self.answered_429_at = self.clock.now()
            raise RetryLater("Telegram flood control: retry after 3 s", retry_after=RETRY_AFTER)

    def to(self, chat: ChatRef) -> list[tuple[int, datetime]]:
        return [(rule, at) for chat_id, rule, at in self.requests if chat_id == chat.chat_id]


async def test_no_request_to_a_flooded_chat_before_retry_after_has_passed_since_the_answer(tmp_path: Path) -> None:
    clock = ReplayClock(NOW)
    storage = await SqliteStorage.open(tmp_path / "db.sqlite3")
    try:
        await storage.outbox.enqueue([Envelope(FLOODED, alert(1), "a"), Envelope(FLOODED, alert(2), "b"), Envelope(CALM, alert(3), "c")], now=NOW)
        platform = SlowThenFlooded(clock)
        chats = ChatDirectory(storage.chats, clock)
        sender = Dispatcher(storage.outbox, chats, {"telegram": platform}, clock)
        await sender.drain_once()
        answered = platform.answered_429_at
        assert answered == NOW + QUEUED_FOR
        lifts = answered + timedelta(seconds=RETRY_AFTER)
        assert chats.held_until(FLOODED) == lifts  # the chat directory's hold counts from the answer too
        pending = await storage.outbox.pending_for_chat(FLOODED)
        assert [await storage.outbox.next_attempt_at(d.id) for d in pending] == [lifts, lifts]  # and both deliveries wait as long
        assert [rule for rule, _ in platform.to(CALM)] == [3]  # the other chat is not held

        step = timedelta(milliseconds=100)
        while clock.now() < NOW + timedelta(seconds=8):  # every 0.1 s, from the answer to well past the wait
            clock.set(clock.now() + step)
            await sender.drain_once()
        retried = platform.to(FLOODED)[1:]
        assert [rule for rule, _ in retried] == [1, 2]  # both, in order, once
        assert min(at for _, at in retried) == lifts  # not one request before 3 s after the answer, and none later than needed
    finally:
        await storage.close()
