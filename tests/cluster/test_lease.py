"""The market-timer lease, notifications between processes, and shared send limits, on the real
PostgreSQL server; the [cluster] settings and `--role`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, with_role
from bot.core.clock import ReplayClock
from bot.core.feature import DailyJob
from bot.core.models import ChatKind, ChatRef
from jobs.leader import LeasedTimer
from storage.postgres import PostgresStorage
from storage.postgres.cluster import RULES_CHANNEL, Cluster, Rate, SharedLimits, announce
from tests.cluster.parts import fresh_database

AFTER_CLOSE = datetime(2025, 1, 27, 22, 0, tzinfo=UTC)  # a Monday, after the close


class Recorder:
    def __init__(self) -> None:
        self.checks = 0
        self.reloads = 0
        self.jobs: list[str] = []

    async def check(self) -> None:
        self.checks += 1

    async def reload(self) -> None:
        self.reloads += 1

    async def job(self, day: object) -> None:
        self.jobs.append(str(day))


def timer(lease: Cluster, seen: Recorder, clock: ReplayClock, calendar: object) -> LeasedTimer:
    return LeasedTimer(lease=lease, reload=seen.reload, poll_seconds=60, clock=clock, calendar=calendar,  # type: ignore[arg-type]
                       check=seen.check, daily_jobs=[DailyJob(time(7, 0), seen.job, "sweep")])


async def test_one_process_holds_the_lease_and_another_takes_it_when_it_dies(calendar: object) -> None:
    async with fresh_database("lease") as url:
        clock = ReplayClock(AFTER_CLOSE)
        first, second = Cluster(url, name="tickerbell-first"), Cluster(url, name="tickerbell-second")
        a, b = Recorder(), Recorder()
        ta, tb = timer(first, a, clock, calendar), timer(second, b, clock, calendar)
        try:
            assert await ta.tick() == "checked-after-close"
            assert await tb.tick() == "standby"
            assert (a.reloads, a.checks, a.jobs, b.checks) == (1, 1, ["2025-01-27"], 0)
            assert await ta.tick() == "leading"  # the next check waits for its poll interval
            conn = first._conn
            assert conn is not None
            conn.terminate()  # the process dies: its session, and the lock with it, end at once
            await asyncio.sleep(0)
            assert await tb.tick() == "checked-after-close"  # took over: reloaded, then checked at once
            assert (b.reloads, b.checks, b.jobs) == (1, 1, ["2025-01-27"])
            assert await ta.tick() == "standby"  # the old one, back, does not run the timer
            assert not ta.leading and tb.leading
        finally:
            await first.close()
            await second.close()


async def test_the_leader_reloads_rules_another_process_changed_before_its_next_tick(calendar: object) -> None:
    async with fresh_database("reload") as url:
        storage = await PostgresStorage.open(url)
        clock = ReplayClock(AFTER_CLOSE)
        seen = Recorder()
        heard = asyncio.Event()
        leader = Cluster(url, on_rules=heard.set)
        leased = timer(leader, seen, clock, calendar)
        leader.listeners[RULES_CHANNEL] = lambda: (heard.set(), leased.rules_changed())  # type: ignore[assignment,func-returns-value]
        try:
            await leased.tick()
            heard.clear()
            await announce(storage.db, RULES_CHANNEL)  # as another process's NotifyingRuleStore does
            await asyncio.wait_for(heard.wait(), 5)
            await leased.tick()
            assert seen.reloads == 2
        finally:
            await leader.close()
            await storage.close()


async def test_shared_limits_hold_across_processes() -> None:
    async with fresh_database("limits") as url:
        one, two = await PostgresStorage.open(url), await PostgresStorage.open(url)
        try:
            rates = {"telegram": Rate(0.001, burst=3.0)}  # three sends, then a long wait
            chat_rates = {("telegram", False): Rate(0.001, burst=2.0)}
            first = SharedLimits(one.db, platform_rates=rates, chat_rates=chat_rates)
            second = SharedLimits(two.db, platform_rates=rates, chat_rates=chat_rates)
            alice, bob = ChatRef("telegram", "1", ChatKind.PRIVATE), ChatRef("telegram", "2", ChatKind.PRIVATE)
            assert await first.take(first.buckets(alice)) == 0
            assert await second.take(second.buckets(alice)) == 0
            assert await second.take(second.buckets(alice)) > 100  # the chat's two are spent, whoever sent them
            assert await first.take(first.buckets(bob)) == 0  # the bot's third
            assert await second.take(second.buckets(bob)) > 100  # the bot-wide bucket is spent for everyone
        finally:
            await one.close()
            await two.close()


def test_cluster_settings_and_role(tmp_path: Path) -> None:
    config = load_config(None, {"TICKERBELL_STORAGE__URL": "postgresql://bot@db/tickerbell", "TICKERBELL_CLUSTER__ROLE": "Delivery, checker"})
    assert config.cluster.role == "checker,delivery" and config.cluster.roles == {"checker", "delivery"}
    assert load_config(None, {}).cluster.roles == {"checker", "delivery", "gateway"}
    assert with_role(config, "gateway").cluster.roles == {"gateway"}
    assert with_role(config, "all").cluster.role == "all"
    with pytest.raises(ConfigError, match=r"^--role: expected \"all\", or some of checker, delivery, gateway separated by commas, got 'boss'$"):
        with_role(config, "boss")
    with pytest.raises(ConfigError, match=r"\[cluster\] role: 'checker' splits the work between processes, which needs a PostgreSQL database"):
        load_config(None, {"TICKERBELL_CLUSTER__ROLE": "checker"})
    with pytest.raises(ConfigError, match=r"\[cluster\] lease_seconds: expected a number of seconds from 0.1 to 60, got 0.0"):
        load_config(None, {"TICKERBELL_CLUSTER__LEASE_SECONDS": "0"})


async def test_only_one_process_polls_telegram() -> None:
    from types import SimpleNamespace

    from bot.cluster import ClusterParts, Roles, telegram_receives
    from bot.config import Config, TelegramConfig

    async with fresh_database("poller") as url:
        first, second = Cluster(url), Cluster(url)
        polling = SimpleNamespace(config=Config(telegram=TelegramConfig(enabled=True)))
        webhook = SimpleNamespace(config=Config(telegram=TelegramConfig(enabled=True, mode="webhook")))
        try:
            assert await telegram_receives(polling, Roles(), ClusterParts(first, None))  # type: ignore[arg-type]
            assert not await telegram_receives(polling, Roles(), ClusterParts(second, None))  # type: ignore[arg-type]
            assert await telegram_receives(webhook, Roles(), ClusterParts(second, None))  # type: ignore[arg-type]
            assert not await telegram_receives(polling, Roles(gateway=False), ClusterParts(second, None))  # type: ignore[arg-type]
            await first.close()  # the poller stops: the next process to start may poll
            assert await telegram_receives(polling, Roles(), ClusterParts(second, None))  # type: ignore[arg-type]
        finally:
            await first.close()
            await second.close()


async def test_only_one_process_holds_the_whole_discord_gateway_unless_shards_are_assigned() -> None:
    from types import SimpleNamespace

    from bot.cluster import ClusterParts, Roles, discord_receives
    from bot.config import Config, DiscordConfig

    async with fresh_database("discordgw") as url:
        first, second = Cluster(url), Cluster(url)
        whole = SimpleNamespace(config=Config(discord=DiscordConfig(enabled=True)))
        assigned = SimpleNamespace(config=Config(discord=DiscordConfig(enabled=True, shard_count=2, shard_ids=(1,))))
        try:
            assert await discord_receives(whole, Roles(), ClusterParts(first, None))  # type: ignore[arg-type]
            assert not await discord_receives(whole, Roles(), ClusterParts(second, None))  # type: ignore[arg-type]
            assert await discord_receives(assigned, Roles(), ClusterParts(second, None))  # type: ignore[arg-type]
        finally:
            await first.close()
            await second.close()
