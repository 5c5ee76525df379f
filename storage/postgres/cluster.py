"""Several tickerbell processes on one PostgreSQL database: who runs the market timer, who hears
what, and the platform limits they share.

`Cluster` holds one dedicated connection per process (outside the pool), and on it:

- the **market-timer lease**: a session-level advisory lock (`pg_try_advisory_lock`). Only one
  session can hold it; the server drops it the moment that session ends, so a process killed
  with SIGKILL (its socket closed by the kernel) frees it at once, and the others take it at
  their next try (every `lease_seconds`). No row to renew, no clocks to compare across hosts.
  A holder that loses its connection knows it at its next confirmation and stops checking.
  TCP keepalives on the connection bound how long a vanished host (no FIN) keeps the lock.
  (A lease row with an expiry would also catch a process that hangs while connected, at the
  price of a write every few seconds and a takeover no faster than the expiry; a hung process
  here is the operator's watchdog's job: /healthz stops answering.)
- **LISTEN** on `tickerbell_outbox` (deliveries queued: wake the dispatcher), `tickerbell_rules`
  (a process changed rules: the leader reloads its index before its next check) and
  `tickerbell_chats` (a chat went or came back: forget what was remembered about chats).
  After a reconnection every listener is called once, since notifications may have been missed.

`NotifyingRuleStore` / `NotifyingChatStore` wrap the stores so that a change made by one process
is announced to the others. `SharedLimits` is the `SendGate`: token buckets in the `rate_buckets`
table, one bot-wide per platform and one per chat, taken in one transaction per send.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from bot.core.models import ChatKind, ChatRef, Direction, Rule, UserRef
from bot.core.ports import ChatStore, RuleStore
from storage.postgres.database import OUTBOX_CHANNEL, PostgresDatabase, mask

log = logging.getLogger(__name__)

MARKET_TIMER_LOCK = 0x7469636B74696D65  # pg advisory lock key: "ticktime"
TELEGRAM_POLLER_LOCK = 0x7469636B706F6C6C  # "tickpoll": the one process that polls Telegram
DISCORD_GATEWAY_LOCK = 0x7469636B64697363  # "tickdisc": the one process holding every Discord shard (no shard_ids given)
RULES_CHANNEL = "tickerbell_rules"
CHATS_CHANNEL = "tickerbell_chats"
CONFIRM_TIMEOUT = 5.0  # seconds a lease query may take before the connection is given up
KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}


def application_name(role: str = "") -> str:
    """How this process shows in pg_stat_activity (operators, and the tests, find the leader by it)."""
    return f"tickerbell-{os.getpid()}{'-' + role if role else ''}"[:63]


class Cluster:
    """The lease and the notifications of one process (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        *,
        on_outbox: Callable[[], None] = lambda: None,
        on_rules: Callable[[], None] = lambda: None,
        on_chats: Callable[[], None] = lambda: None,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.where = mask(url)
        self.listeners = {OUTBOX_CHANNEL: on_outbox, RULES_CHANNEL: on_rules, CHATS_CHANNEL: on_chats}
        self.name = name or application_name()
        self._conn: asyncpg.Connection | None = None
        self._using = asyncio.Lock()  # one query at a time on the dedicated connection
        self._held = False
        self._lost_logged = False

    @property
    def leading(self) -> bool:
        return self._held

    async def start(self) -> None:
        """Connect and listen; a failure here is logged and retried at the next `hold`."""
        async with self._using:
            await self._connect()

    async def _connect(self) -> bool:
        if self._conn is not None and not self._conn.is_closed():
            return True
        self._held = False
        try:
            conn = await asyncpg.connect(self.url, timeout=CONFIRM_TIMEOUT, server_settings={"application_name": self.name, **KEEPALIVE})
            for channel, callback in self.listeners.items():
                await conn.add_listener(channel, _calling(callback))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as problem:
            if not self._lost_logged:
                log.error("cluster: cannot reach %s (%s); not leading, retrying", self.where, problem)
                self._lost_logged = True
            return False
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        if self._lost_logged:
            log.warning("cluster: connected to %s again", self.where)
            self._lost_logged = False
        for callback in self.listeners.values():  # notifications may have been missed meanwhile
            callback()
        return True

    def _terminated(self, conn: asyncpg.Connection) -> None:
        if conn is self._conn:
            if self._held:
                log.error("cluster: the lease connection closed: this process no longer runs the market timer")
            self._held = False
            self._conn = None

    async def hold(self) -> bool:
        """The `Lease` port: take the market-timer lock if free, or confirm the connection that
        holds it is alive. False (and not leading) whenever that cannot be shown."""
        async with self._using:
            if not await self._connect():
                return False
            assert self._conn is not None
            try:
                if self._held:
                    await self._conn.fetchval("SELECT 1", timeout=CONFIRM_TIMEOUT)
                else:
                    self._held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", MARKET_TIMER_LOCK, timeout=CONFIRM_TIMEOUT))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as problem:
                log.error("cluster: the lease connection failed (%s): not leading", problem)
                await self._drop()
                return False
            return self._held

    async def take_poller(self, key: int = TELEGRAM_POLLER_LOCK) -> bool:
        """Become the one process that polls Telegram (or, with `DISCORD_GATEWAY_LOCK`, holds the whole
        Discord gateway), until this process ends; False if another process is."""
        async with self._using:
            if not await self._connect():
                return False
            assert self._conn is not None
            try:
                return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", key, timeout=CONFIRM_TIMEOUT))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return False

    async def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        """Close the connection (the lock goes with it)."""
        async with self._using:
            conn, self._conn, self._held = self._conn, None, False
            if conn is not None:
                try:
                    await asyncio.wait_for(conn.close(), 1.0)
                except Exception:
                    conn.terminate()


def _calling(callback: Callable[[], None]) -> Callable[..., None]:
    def heard(connection: object, pid: int, channel: str, payload: str) -> None:
        callback()

    return heard


async def announce(db: PostgresDatabase, channel: str) -> None:
    """Tell every process (this one too) that something on `channel` changed."""
    try:
        await db.execute("SELECT pg_notify($1, '')", channel)
    except Exception:
        log.warning("could not announce a change on %s; other processes see it at their next reload", channel, exc_info=True)


class NotifyingRuleStore:
    """A RuleStore that announces every change it writes (the leader reloads its index)."""

    def __init__(self, inner: RuleStore, db: PostgresDatabase) -> None:
        self.inner = inner
        self.db = db

    async def add(self, rule: Rule, *, now: datetime, replacing: Sequence[int] = ()) -> Rule:
        added = await self.inner.add(rule, now=now, replacing=replacing)
        await announce(self.db, RULES_CHANNEL)
        return added

    async def get(self, rule_id: int) -> Rule | None:
        return await self.inner.get(rule_id)

    async def delete(self, rule_ids: Sequence[int]) -> None:
        await self.inner.delete(rule_ids)
        await announce(self.db, RULES_CHANNEL)

    async def all(self) -> list[Rule]:
        return await self.inner.all()

    async def of_ticker(self, ticker: str) -> list[Rule]:
        return await self.inner.of_ticker(ticker)

    async def of_member(self, owner: UserRef) -> list[Rule]:
        return await self.inner.of_member(owner)

    async def count_of_member(self, owner: UserRef) -> int:
        return await self.inner.count_of_member(owner)

    async def same_member_rule(self, rule: Rule) -> Rule | None:
        return await self.inner.same_member_rule(rule)

    async def expiring(self, before: date) -> list[Rule]:
        return await self.inner.expiring(before)

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        return await self.inner.analyst_levels(ticker)

    async def set_snooze(self, rule_id: int, until: datetime | None) -> None:
        await self.inner.set_snooze(rule_id, until)
        await announce(self.db, RULES_CHANNEL)

    async def update_level(self, rule_id: int, *, threshold: float, direction: Direction, armed: bool | None) -> None:
        await self.inner.update_level(rule_id, threshold=threshold, direction=direction, armed=armed)
        await announce(self.db, RULES_CHANNEL)


class NotifyingChatStore:
    """A ChatStore that announces a chat going or coming back (every process forgets its cache)."""

    def __init__(self, inner: ChatStore, db: PostgresDatabase) -> None:
        self.inner = inner
        self.db = db

    async def is_active(self, chat: ChatRef) -> bool:
        return await self.inner.is_active(chat)

    async def set_active(self, chat: ChatRef, active: bool, *, now: datetime, reason: str | None = None) -> bool:
        changed = await self.inner.set_active(chat, active, now=now, reason=reason)
        if changed:
            await announce(self.db, CHATS_CHANNEL)
        return changed


# -- shared send limits -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: float = 1.0


# Telegram: about 30 messages a second bot-wide, one a second per chat, 20 a minute per group.
# Discord: 50 requests a second bot-wide, about 5 per 5 s per channel. A little under each, so
# that jitter between taking a token and the platform receiving the message never crosses it.
PLATFORM_RATES: dict[str, Rate] = {"telegram": Rate(28.5, burst=1.25), "discord": Rate(45.0, burst=2.0)}
CHAT_RATES: dict[tuple[str, bool], Rate] = {
    ("telegram", False): Rate(0.8),  # private chats: one a second, with room for jitter between grant and arrival
    ("telegram", True): Rate(20 / 60, 3.0),  # groups
    ("discord", False): Rate(1.0, 5.0),
    ("discord", True): Rate(1.0, 5.0),
}

_REFILL = """
UPDATE rate_buckets b
SET tokens = LEAST(v.burst, b.tokens + v.rate * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at))),
    updated_at = clock_timestamp()
FROM unnest($1::text[], $2::float8[], $3::float8[]) AS v (name, rate, burst)
WHERE b.name = v.name
RETURNING b.name, b.tokens, v.rate
"""


class SharedLimits:
    """The `SendGate` over token buckets in the database: every process takes one token from its
    platform's bucket and one from the chat's before each send, in one transaction."""

    def __init__(
        self,
        db: PostgresDatabase,
        *,
        platform_rates: dict[str, Rate] | None = None,
        chat_rates: dict[tuple[str, bool], Rate] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.platform_rates = PLATFORM_RATES if platform_rates is None else platform_rates
        self.chat_rates = CHAT_RATES if chat_rates is None else chat_rates
        self.sleep = sleep
        self._turn = asyncio.Lock()  # one task of this process at a time asks the bot-wide bucket
        self.waited = 0.0  # seconds spent waiting for a turn (bench figures)

    def buckets(self, chat: ChatRef) -> list[tuple[str, Rate]]:
        found: list[tuple[str, Rate]] = []
        if (rate := self.platform_rates.get(chat.platform)) is not None:
            found.append((chat.platform, rate))
        if (rate := self.chat_rates.get((chat.platform, chat.kind is not ChatKind.PRIVATE))) is not None:
            found.append((f"{chat.platform}:{chat.chat_id}", rate))
        return sorted(found)

    async def wait_turn(self, chat: ChatRef) -> None:
        """First wait, unlocked, until the chat's own bucket has a token (a process serves a chat
        alone: nobody else spends it meanwhile); then take both under this process's lock, so that
        one task per process, not every chat being served, asks the shared bot-wide bucket."""
        buckets = self.buckets(chat)
        if not buckets:
            return
        own = [(name, rate) for name, rate in buckets if name != chat.platform]
        while own and (wait := await self.ready_in(own)) > 0:
            self.waited += wait
            await self.sleep(wait)
        async with self._turn:
            while (wait := await self.take(buckets)) > 0:
                self.waited += wait
                await self.sleep(wait)

    async def ready_in(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Seconds until every bucket holds a token (0: now); nothing is taken."""
        rows = await self.db.fetch(
            "SELECT b.name, LEAST(v.burst, b.tokens + v.rate * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at))) AS level, v.rate "
            "FROM rate_buckets b JOIN unnest($1::text[], $2::float8[], $3::float8[]) AS v (name, rate, burst) ON b.name = v.name",
            [name for name, _ in buckets], [rate.per_second for _, rate in buckets], [rate.burst for _, rate in buckets],
        )
        return float(max([(1.0 - row["level"]) / row["rate"] for row in rows if row["level"] < 1.0], default=0.0))

    async def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """Take a token from every bucket, or none; 0 when taken, else the seconds to wait."""
        names = [name for name, _ in buckets]
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO rate_buckets (name, tokens, updated_at) SELECT n, b, clock_timestamp() "
                "FROM unnest($1::text[], $2::float8[]) AS t (n, b) ORDER BY n ON CONFLICT (name) DO NOTHING",
                names, [rate.burst for _, rate in buckets],
            )
            rows = await tx.fetch(_REFILL, names, [rate.per_second for _, rate in buckets], [rate.burst for _, rate in buckets])
            short = [(1.0 - row["tokens"]) / row["rate"] for row in rows if row["tokens"] < 1.0]
            if short:
                return float(max(short))
            await tx.execute("UPDATE rate_buckets SET tokens = tokens - 1 WHERE name = ANY($1::text[])", names)
        return 0.0


__all__ = [
    "CHATS_CHANNEL",
    "MARKET_TIMER_LOCK",
    "RULES_CHANNEL",
    "Cluster",
    "NotifyingChatStore",
    "NotifyingRuleStore",
    "Rate",
    "SharedLimits",
    "announce",
    "application_name",
]

