"""The outbox dispatcher: sends queued deliveries through their platform's adapter, once.

A failing delivery is retried with backoff for about four hours (MAX_ATTEMPTS), then given up
and logged, without holding back the chat's later deliveries; only flood control makes a
chat's later deliveries wait.

A delivery is marked sent only after the adapter returned; a crash in between means it
goes out again on restart (at least once, never lost). One adapter failing does not stop
the others: each delivery is tried on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum

from bot.core.chats import ChatDirectory
from bot.core.clock import Clock
from bot.core.delivery import Adapter, ChatUnavailable, RetryLater
from bot.core.messages import Delivery
from bot.core.ports import OutboxStore
from bot.core.vitals import Vitals

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 900.0
MAX_ATTEMPTS = 20  # 5 s, 10 s, ... then every 15 minutes: about four hours in all, then given up


def backoff_seconds(attempts: int) -> float:
    """5 s, 10 s, 20 s ... up to 15 minutes."""
    return min(MAX_BACKOFF_SECONDS, 5.0 * float(2 ** max(0, attempts)))


class _Outcome(Enum):
    SENT = "sent"
    WAIT = "wait"  # flood control: this chat must wait
    FAILED = "failed"  # this delivery failed; retried with backoff until MAX_ATTEMPTS
    GONE = "gone"  # the chat cannot receive messages any more
    GIVEN_UP = "given_up"  # failed MAX_ATTEMPTS times: never sent


class Dispatcher:
    def __init__(
        self,
        outbox: OutboxStore,
        chats: ChatDirectory,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        *,
        batch: int = 100,
        max_chats: int = 16,
        vitals: Vitals | None = None,
    ) -> None:
        self.vitals = vitals or Vitals()
        self.outbox = outbox
        self.chats = chats
        self.adapters = dict(adapters)
        self.clock = clock
        self.batch = batch
        self._wake = asyncio.Event()
        self._concurrency = asyncio.Semaphore(max_chats)

    def notify(self) -> None:
        """Wake the loop: new deliveries were queued."""
        self._wake.set()

    async def drain_once(self) -> int:
        """Try every due delivery once; return how many were sent.

        Chats are served concurrently (so one chat's flood limit does not hold up the
        others), each chat's deliveries in order.
        """
        sent = 0
        while True:
            due = await self.outbox.due(now=self.clock.now(), platforms=self.adapters, limit=self.batch)
            if not due:
                return sent
            by_chat: dict[str, list[Delivery]] = {}
            for delivery in due:
                by_chat.setdefault(delivery.chat.key, []).append(delivery)
            results = await asyncio.gather(*(self._deliver_chat(deliveries) for deliveries in by_chat.values()))
            sent += sum(results)
            if sum(results) == 0 or len(due) < self.batch:
                return sent

    async def _deliver_chat(self, deliveries: list[Delivery]) -> int:
        """One chat's deliveries in order; stop at the first that cannot go out now."""
        async with self._concurrency:
            sent = 0
            held = self.chats.held_until(deliveries[0].chat)
            if held is not None:  # flood control: nothing goes to this chat before it lifts
                await self._wait_behind(deliveries, held)
                return 0
            for index, delivery in enumerate(deliveries):
                outcome = await self._deliver(delivery)
                if outcome is _Outcome.SENT:
                    sent += 1
                    continue
                if outcome in (_Outcome.FAILED, _Outcome.GIVEN_UP):
                    continue  # this one is retried later; the chat's next ones need not wait for it
                if outcome is _Outcome.WAIT and (held := self.chats.held_until(delivery.chat)) is not None:
                    await self._wait_behind(deliveries[index + 1 :], held)  # the rest of this chat waits as long
                break  # GONE: the chat's pending deliveries were all marked dead (or sent elsewhere)
            return sent

    async def _wait_behind(self, deliveries: list[Delivery], until: datetime) -> None:
        for later in deliveries:
            await self.outbox.mark_retry(later.id, at=until, error="waiting behind an earlier delivery", count=False)

    async def _deliver(self, delivery: Delivery) -> _Outcome:
        outcome = await self._attempt(delivery)
        self.vitals.delivered(delivery.chat.platform, outcome.value)
        return outcome

    async def _attempt(self, delivery: Delivery) -> _Outcome:
        adapter = self.adapters[delivery.chat.platform]
        now = self.clock.now()
        try:
            await adapter.send_alert(delivery.chat, delivery.alert)
        except RetryLater as wait:  # flood control is not a failure: it does not count toward MAX_ATTEMPTS
            until = now + timedelta(seconds=wait.retry_after)
            self.chats.hold(delivery.chat, until)
            await self.outbox.mark_retry(delivery.id, at=until, error=f"retry after {wait.retry_after}s", count=False)
            log.warning("delivery %d to %s: asked to wait %.1f s", delivery.id, delivery.chat.key, wait.retry_after)
            return _Outcome.WAIT
        except ChatUnavailable as gone:
            # one transaction: the chat goes inactive, its pending deliveries die, and direct
            # messages that carry a fallback go where their alert was set
            await self.chats.gone(delivery.chat, str(gone))
            log.warning("chat %s is unavailable (%s): its deliveries stop until it talks to the bot again", delivery.chat.key, gone)
            self.notify()
            return _Outcome.GONE
        except Exception as problem:  # a failing adapter must not stop the others
            if delivery.attempts + 1 >= MAX_ATTEMPTS:
                await self.outbox.mark_dead(delivery.id, error=f"gave up after {MAX_ATTEMPTS} attempts: {problem!r}", now=now)
                log.error("delivery %d to %s failed %d times (%s); giving up", delivery.id, delivery.chat.key, MAX_ATTEMPTS, type(problem).__name__)
                return _Outcome.GIVEN_UP
            delay = backoff_seconds(delivery.attempts)
            retry_at = now + timedelta(seconds=delay)
            await self.outbox.mark_retry(delivery.id, at=retry_at, error=repr(problem))
            log.warning("delivery %d to %s failed (%s); retrying in %.0f s", delivery.id, delivery.chat.key, type(problem).__name__, delay)
            return _Outcome.FAILED
        await self.outbox.mark_sent(delivery.id, now=self.clock.now())
        return _Outcome.SENT

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 30.0) -> None:
        """Deliver until `stop` is set: on every notify, and at least every `idle_seconds`."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain_once()
            except Exception:
                log.exception("dispatcher: draining the outbox failed; trying again shortly")
            wait = idle_seconds
            next_due = await self.outbox.next_due_at(self.adapters)
            if next_due is not None:
                wait = max(0.05, min(idle_seconds, (next_due - self.clock.now()).total_seconds()))
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for task in pending | waiters:
                task.cancel()
