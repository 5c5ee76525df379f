"""Wiring for several processes on one PostgreSQL database (README "Scaling out").

`share(storage, config)` makes the stores announce changes other processes must hear (rules,
chats) and sets the claim timeout; `Roles` says which parts this process runs; `ClusterParts`
holds the lease/LISTEN connection, the shared send limits and the leased market timer.
On SQLite (one process) none of this applies and `tickerbell run` behaves as it always has.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError
from jobs.leader import LeasedTimer
from storage.postgres import PostgresStorage
from storage.postgres.cluster import DISCORD_GATEWAY_LOCK, Cluster, NotifyingChatStore, NotifyingRuleStore, SharedLimits, application_name

if TYPE_CHECKING:
    from bot.app import App
    from storage.factory import AnyStorage

log = logging.getLogger(__name__)

STARTUP_LOCK = 0x7469636B73746172  # pg advisory lock key: "tickstar"


@dataclass(frozen=True, slots=True)
class Roles:
    checker: bool = True  # holds (or waits for) the market-timer lease: price checks and daily jobs
    delivery: bool = True  # drains the outbox
    gateway: bool = True  # receives commands (Telegram polling or webhook, the Discord gateway)

    @classmethod
    def of(cls, config: Config, storage: AnyStorage) -> Roles:
        roles = config.cluster.roles
        if roles != {"checker", "delivery", "gateway"} and not clustered(storage):
            raise ConfigError(
                f"{config.origin('cluster', 'role')}: [cluster] role: {config.cluster.role!r} splits the work between "
                "processes, which needs a PostgreSQL database ([storage] url = \"postgresql://...\")"
            )
        return cls(checker="checker" in roles, delivery="delivery" in roles, gateway="gateway" in roles)

    @property
    def label(self) -> str:
        return ",".join(name for name in ("checker", "delivery", "gateway") if getattr(self, name)) or "none"


def clustered(storage: AnyStorage) -> bool:
    return isinstance(storage, PostgresStorage)


def share(storage: AnyStorage, config: Config) -> None:
    """On PostgreSQL: announce rule and chat changes to the other processes; claims lapse after
    `[cluster] claim_seconds`."""
    if not isinstance(storage, PostgresStorage):
        return
    storage.rules = NotifyingRuleStore(storage.rules, storage.db)  # type: ignore[assignment]
    storage.chats = NotifyingChatStore(storage.chats, storage.db)  # type: ignore[assignment]
    storage.outbox.claim_seconds = config.cluster.claim_seconds


@asynccontextmanager
async def one_at_a_time(storage: AnyStorage) -> AsyncIterator[None]:
    """On PostgreSQL, one process at a time (start-up work such as seeding the primers' levels,
    which two processes starting together would otherwise both try)."""
    if not isinstance(storage, PostgresStorage):
        yield
        return
    async with storage.db.connection() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", STARTUP_LOCK)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", STARTUP_LOCK)


@dataclass
class ClusterParts:
    cluster: Cluster
    timer: LeasedTimer | None

    async def close(self) -> None:
        await self.cluster.close()


async def join(app: App, roles: Roles) -> ClusterParts | None:
    """Connect this process to the others (PostgreSQL only): LISTEN, the lease, shared limits."""
    storage = app.storage
    if not isinstance(storage, PostgresStorage):
        return None
    config = app.config
    if config.cluster.shared_limits and roles.delivery:
        app.dispatcher.gate = SharedLimits(storage.db)
    app.dispatcher.resize(config.cluster.max_chats)
    app.dispatcher.batch = max(app.dispatcher.batch, 8 * config.cluster.max_chats)  # longer batches: fewer idle tails between claims
    app.dispatcher.renew_seconds = min(app.dispatcher.renew_seconds, config.cluster.claim_seconds / 3)
    timer = None
    if roles.checker:
        timer = LeasedTimer(lease=_lease_placeholder(), reload=app.rules.load, poll_seconds=config.market.poll_seconds, clock=app.clock,
                            calendar=app.calendar, check=app.feed.poll if app.feed is not None else app.price_check.run_once, daily_jobs=app.daily_jobs,
                            paused=lambda: app.dispatcher.paused)
    cluster = Cluster(
        storage.url,
        on_outbox=app.dispatcher.notify,
        on_rules=timer.rules_changed if timer is not None else (lambda: None),
        on_chats=app.chats.forget,
        name=application_name(roles.label),
    )
    if timer is not None:
        timer.lease = cluster
    await cluster.start()
    log.info("cluster: joined %s as %s", storage.db.where, roles.label)
    return ClusterParts(cluster, timer)


async def telegram_receives(app: App, roles: Roles, parts: ClusterParts | None) -> bool:
    """Whether this process takes Telegram updates: with the gateway role; when polling on PostgreSQL,
    only the first such process (two pollers would steal each other's updates: Telegram answers 409)."""
    config = app.config
    if not roles.gateway or not config.telegram.enabled or parts is None or config.telegram.mode == "webhook":
        return roles.gateway
    if await parts.cluster.take_poller():
        return True
    log.error('telegram: another process already polls Telegram: this one only sends. To take updates in several '
              'processes, set [telegram] mode = "webhook"; to poll here instead, give only this process the gateway role')
    return False


async def discord_receives(app: App, roles: Roles, parts: ClusterParts | None) -> bool:
    """Whether this process connects to the Discord gateway: with the gateway role; on PostgreSQL
    without `[discord] shard_ids`, only the first such process (two sessions of the same shards would
    both answer every command)."""
    config = app.config
    if not roles.gateway or not config.discord.enabled or parts is None or config.discord.shard_ids:
        return roles.gateway
    if await parts.cluster.take_poller(DISCORD_GATEWAY_LOCK):
        return True
    log.error("discord: another process already holds the Discord gateway: this one only sends. To split the gateway "
              "between processes, give each [discord] shard_count and its own shard_ids")
    return False


class _NoLease:
    async def hold(self) -> bool:
        return False


def _lease_placeholder() -> _NoLease:
    return _NoLease()
