"""The outbox dispatcher: sends queued deliveries through their platform's adapter, once.

A failing delivery is retried with backoff for about four hours (MAX_ATTEMPTS), then given up
and logged, without holding back the chat's later deliveries; only flood control makes a
chat's later deliveries wait. Flood control counts from when the platform answered, not from
when the send began (a send may first wait in the adapter's rate limiter).

Each delivery is marked sent as soon as its platform accepted it, before that chat's next send;
nothing batches sends ahead of their records. Up to `max_chats` chats are served at once, each
one delivery at a time, so at most `max_chats` deliveries are ever accepted (or being sent) but
not yet recorded, during a storage pause too (no send starts then). A kill -9 therefore repeats,
at the next start, at most the sends in flight at that moment: at most one per chat being
served, at most `max_chats` in all. It loses none.

While this process lives it never sends a delivery twice. When storage refuses a write (a full
disk, a locked or broken database), the write is kept in memory and retried at each drain
before anything else; a delivery accepted but not yet recorded is never sent again; and no new
send starts until every kept write has gone through. The pause and the recovery are logged
once each. One adapter failing does not stop the others: each delivery is tried on its own.

Several processes on one database (PostgreSQL) share the outbox: each drain *claims* whole chats
(`OutboxStore.claim`), serves them, and releases them, so a chat is served by one process at a
time and keeps its order; claims are renewed while held, and a process that cannot renew them
stops starting sends (another may take the chat once they lapse). A `SendGate` paces every send
against limits shared by all processes. With SQLite both are trivial, and this is one code path.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import partial

from bot.core.chats import ChatDirectory
from bot.core.clock import Clock
from bot.core.delivery import Adapter, ChatUnavailable, RetryLater
from bot.core.messages import Delivery
from bot.core.models import ChatRef
from bot.core.ports import OutboxStore, SendGate, StorageError
from bot.core.vitals import Vitals

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 900.0
MAX_ATTEMPTS = 20  # 5 s, 10 s, ... then every 15 minutes: about four hours in all, then given up
STORAGE_RETRY_SECONDS = 2.0  # while storage refuses writes, how often the loop tries again
RENEW_CLAIMS_SECONDS = 5.0  # how often claims on chats being served are renewed


def backoff_seconds(attempts: int) -> float:
    """5 s, 10 s, 20 s ... up to 15 minutes."""
    return min(MAX_BACKOFF_SECONDS, 5.0 * float(2 ** max(0, attempts)))


class _Outcome(Enum):
    SENT = "sent"
    WAIT = "wait"  # flood control: this chat must wait
    FAILED = "failed"  # this delivery failed; retried with backoff until MAX_ATTEMPTS
    GONE = "gone"  # the chat cannot receive messages any more
    GIVEN_UP = "given_up"  # failed MAX_ATTEMPTS times: never sent


@dataclass(frozen=True, slots=True)
class _Owed:
    """A write about one delivery that storage refused, kept in memory until it goes through."""

    delivery_id: int
    sent: bool  # the platform accepted the delivery: this process never sends it again
    write: Callable[[], Awaitable[object]]


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
        gate: SendGate | None = None,
    ) -> None:
        self.vitals = vitals or Vitals()
        self.outbox = outbox
        self.chats = chats
        self.adapters = dict(adapters)
        self.clock = clock
        self.batch = batch
        self.max_chats = max_chats
        self.gate = gate  # shared platform limits (several processes); None: the adapters' own pacing
        self.renew_seconds = RENEW_CLAIMS_SECONDS  # a third of the claims' lifetime at most
        self._wake = asyncio.Event()
        self._concurrency = asyncio.Semaphore(max_chats)
        self._draining = asyncio.Lock()  # one drain at a time: two would fetch and send the same deliveries
        self._owed: list[_Owed] = []  # writes storage refused, oldest first
        self._late: Counter[bool] = Counter()  # owed writes recorded since the pause began: sent or not
        self._claimed: dict[str, ChatRef] = {}  # chats claimed and not released yet
        self._claims_lapsing = False  # renewing the claims failed: no new send until it works again
        self._away = 0  # drains failed in a row because the database could not be reached

    def resize(self, max_chats: int) -> None:
        """Serve up to `max_chats` chats at once from now on (set before running)."""
        self.max_chats = max_chats
        self._concurrency = asyncio.Semaphore(max_chats)

    def notify(self) -> None:
        """Wake the loop: new deliveries were queued."""
        self._wake.set()

    @property
    def paused(self) -> bool:
        """True while storage refuses writes: no send starts until what is owed is recorded."""
        return bool(self._owed)

    def unrecorded(self) -> frozenset[int]:
        """Ids of deliveries a platform accepted that storage has not recorded as sent yet."""
        return frozenset(owed.delivery_id for owed in self._owed if owed.sent)

    async def drain_once(self) -> int:
        """Record what is owed, then try every due delivery once; return how many were sent.

        Chats are served concurrently (so one chat's flood limit does not hold up the
        others), each chat's deliveries in order. Nothing is sent while storage refuses writes.
        """
        async with self._draining:
            if not await self._settle():
                return 0
            await self._release_claims()
            sent = 0
            while not self._owed and not self._claims_lapsing:
                due = await self.outbox.claim(now=self.clock.now(), platforms=self.adapters, limit=self.batch, chats=self.max_chats)
                if not due:
                    break
                groups = _by_chat(due)
                self._claimed.update((group[0].chat.key, group[0].chat) for group in groups)
                try:
                    results = await asyncio.gather(*(self._deliver_chat(deliveries) for deliveries in groups))
                finally:
                    await self._release_claims()
                sent += sum(results)
                if sum(results) == 0 or len(due) < self.batch:
                    break
            return sent

    async def _release_claims(self) -> None:
        """Give the served chats back, unless a write about one of them is owed (then this process
        keeps them, so nobody else sends what it may already have sent)."""
        if not self._claimed or self._owed:
            return
        chats = list(self._claimed.values())
        self._claimed.clear()
        try:
            await self.outbox.release(chats)
        except Exception:
            log.warning("could not release %d claimed chats; they lapse on their own", len(chats), exc_info=True)

    async def renew_claims(self) -> bool:
        """Keep the claims on chats being served alive; while it fails, no new send starts."""
        try:
            renewed = await self.outbox.renew_claims()
        except Exception:
            renewed = False
        if renewed == self._claims_lapsing:  # changed
            if renewed:
                log.warning("claims on chats renewed again: deliveries resume")
            else:
                log.error("cannot renew this process's claims on chats: no new send starts until it can")
        self._claims_lapsing = not renewed
        return renewed

    async def _settle(self) -> bool:
        """Retry the writes storage refused, oldest first; True once none is left."""
        if not self._owed:
            return True  # nothing owed: no pause to end
        while self._owed:
            owed = self._owed[0]
            try:
                await owed.write()
            except Exception:
                return False  # still refused: the pause was logged when it began
            del self._owed[0]
            self._late[owed.sent] += 1
        log.warning(
            "storage accepts writes again: %d sent deliveries recorded late (and %d other delivery outcomes); deliveries resume",
            self._late[True],
            self._late[False],
        )
        self._late.clear()
        return True

    async def _record(self, delivery_id: int, write: Callable[[], Awaitable[object]], *, sent: bool = False) -> None:
        """Write a delivery's outcome; if storage refuses, keep the write and pause sending."""
        try:
            await write()
        except Exception as problem:
            if not self._owed:
                log.error(
                    "storage refused a write (%s): deliveries paused until it accepts writes again; "
                    "deliveries already accepted are kept in memory, recorded then, and never sent twice",
                    problem,
                )
            self._owed.append(_Owed(delivery_id, sent, write))

    async def _deliver_chat(self, deliveries: list[Delivery]) -> int:
        """One chat's deliveries in order; stop at the first that cannot go out now."""
        async with self._concurrency:
            sent = 0
            held = self.chats.held_until(deliveries[0].chat)
            if held is not None:  # flood control: nothing goes to this chat before it lifts
                await self._wait_behind(deliveries, held)
                return 0
            for index, delivery in enumerate(deliveries):
                if self._owed or self._claims_lapsing:  # storage refuses writes, or the chat may be another's soon: no new send
                    break
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
            await self._record(later.id, partial(self.outbox.mark_retry, later.id, at=until, error="waiting behind an earlier delivery", count=False))

    async def _deliver(self, delivery: Delivery) -> _Outcome:
        outcome = await self._attempt(delivery)
        self.vitals.delivered(delivery.chat.platform, outcome.value)
        return outcome

    async def _attempt(self, delivery: Delivery) -> _Outcome:
        """Send one delivery and record its outcome, timed from when the platform answered."""
        adapter = self.adapters[delivery.chat.platform]
        if self.gate is not None:
            try:
                await self.gate.wait_turn(delivery.chat)
            except Exception as problem:  # the shared limits cannot be asked: not sent, not an attempt
                at = self.clock.now() + timedelta(seconds=STORAGE_RETRY_SECONDS)
                await self._record(delivery.id, partial(self.outbox.mark_retry, delivery.id, at=at, error=f"send limits unavailable: {problem!r}", count=False))
                return _Outcome.FAILED
        try:
            await adapter.send_alert(delivery.chat, delivery.alert)
        except RetryLater as wait:
            return await self._flood_controlled(delivery, wait)
        except ChatUnavailable as gone:
            return await self._gone(delivery, gone)
        except Exception as problem:  # a failing adapter must not stop the others
            return await self._failed(delivery, problem)
        await self._record(delivery.id, partial(self.outbox.mark_sent, delivery.id, now=self.clock.now()), sent=True)
        return _Outcome.SENT

    async def _flood_controlled(self, delivery: Delivery, wait: RetryLater) -> _Outcome:
        """Flood control is not a failure (it does not count toward MAX_ATTEMPTS); the wait
        counts from the platform's answer, for this delivery and for the whole chat."""
        until = self.clock.now() + timedelta(seconds=wait.retry_after)
        self.chats.hold(delivery.chat, until)
        await self._record(delivery.id, partial(self.outbox.mark_retry, delivery.id, at=until, error=f"retry after {wait.retry_after}s", count=False))
        log.warning("delivery %d to %s: asked to wait %.1f s", delivery.id, delivery.chat.key, wait.retry_after)
        return _Outcome.WAIT

    async def _gone(self, delivery: Delivery, gone: ChatUnavailable) -> _Outcome:
        """One transaction: the chat goes inactive, its pending deliveries die, and direct
        messages that carry a fallback go where their alert was set."""
        await self._record(delivery.id, partial(self.chats.gone, delivery.chat, str(gone)))
        log.warning("chat %s is unavailable (%s): its deliveries stop until it talks to the bot again", delivery.chat.key, gone)
        self.notify()
        return _Outcome.GONE

    async def _failed(self, delivery: Delivery, problem: Exception) -> _Outcome:
        """Retry with backoff from now, or give up after MAX_ATTEMPTS."""
        answered = self.clock.now()
        if delivery.attempts + 1 >= MAX_ATTEMPTS:
            error = f"gave up after {MAX_ATTEMPTS} attempts: {problem!r}"
            await self._record(delivery.id, partial(self.outbox.mark_dead, delivery.id, error=error, now=answered))
            log.error("delivery %d to %s failed %d times (%s); giving up", delivery.id, delivery.chat.key, MAX_ATTEMPTS, type(problem).__name__)
            return _Outcome.GIVEN_UP
        delay = backoff_seconds(delivery.attempts)
        await self._record(delivery.id, partial(self.outbox.mark_retry, delivery.id, at=answered + timedelta(seconds=delay), error=repr(problem)))
        log.warning("delivery %d to %s failed (%s); retrying in %.0f s", delivery.id, delivery.chat.key, type(problem).__name__, delay)
        return _Outcome.FAILED

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 30.0, retry_seconds: float = STORAGE_RETRY_SECONDS) -> None:
        """Deliver until `stop` is set: on every notify, at least every `idle_seconds`, and every
        `retry_seconds` while storage refuses writes or draining fails. Claims on chats are renewed
        every `renew_seconds` meanwhile."""
        renewing = asyncio.create_task(self._keep_claims(stop), name="claims")
        try:
            await self._run(stop, idle_seconds, retry_seconds)
        finally:
            renewing.cancel()

    async def _keep_claims(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.renew_seconds)
            except TimeoutError:
                await self.renew_claims()

    async def _run(self, stop: asyncio.Event, idle_seconds: float, retry_seconds: float) -> None:
        while not stop.is_set():
            self._wake.clear()
            wait = await self._drain_and_plan(idle_seconds, retry_seconds)
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for task in pending | waiters:
                task.cancel()

    async def _drain_and_plan(self, idle_seconds: float, retry_seconds: float) -> float:
        """Drain once; return how long to wait before the next drain."""
        try:
            await self.drain_once()
            if self._owed:
                return min(idle_seconds, retry_seconds)
            next_due = await self.outbox.next_due_at(self.adapters)
        except StorageError as problem:  # the database is away: said once, then counted
            self._away += 1
            if self._away == 1:
                log.warning("storage unreachable (%s): deliveries wait and retry every %.0f s", problem, min(idle_seconds, retry_seconds))
            return min(idle_seconds, retry_seconds)
        except Exception:
            log.exception("dispatcher: draining the outbox failed; trying again shortly")
            return min(idle_seconds, retry_seconds)
        if self._away:
            log.warning("storage reachable again after %d failed attempts: deliveries resume", self._away)
            self._away = 0
        if next_due is None:
            return idle_seconds
        return max(0.05, min(idle_seconds, (next_due - self.clock.now()).total_seconds()))


def _by_chat(due: list[Delivery]) -> list[list[Delivery]]:
    """Due deliveries grouped by chat, each group in outbox order."""
    groups: dict[str, list[Delivery]] = {}
    for delivery in due:
        groups.setdefault(delivery.chat.key, []).append(delivery)
    return list(groups.values())
