"""Discord's gateway split between processes: each holds the shards `[discord] shard_ids` names, of
`shard_count`, against the fake Discord (the real discord.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import discord

from bot.adapters.discord import DiscordAdapter
from bot.app import App
from bot.config import BotConfig, Config, DiscordConfig, MarketConfig, load_config
from bot.core.clock import ReplayClock
from tests.discord_adapter.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord, write_tiny_prices


async def test_two_processes_each_hold_their_own_shards(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    apps: list[App] = []
    adapters: list[DiscordAdapter] = []
    try:
        prices = write_tiny_prices(tmp_path / "prices")
        for index, shards in enumerate(((0, 2), (1, 3))):
            config = Config(bot=BotConfig(), market=MarketConfig(provider="csv", data_dir=prices),
                            discord=DiscordConfig(enabled=True, api_base_url=fake.api_base_url, guild_ids=(GUILD_ID,), shard_count=4, shard_ids=shards))
            app = await App.create(config, clock=ReplayClock(datetime(2025, 1, 27, 21, 30, tzinfo=UTC)), storage_path=tmp_path / f"p{index}.sqlite3")
            apps.append(app)
            adapter = DiscordAdapter(config.discord, fake.token, app.router, describer=app.describer(), guild_ready_timeout=0.05)
            await adapter.start()
            adapters.append(adapter)
        identifies = sorted(tuple(f["d"]["shard"]) for f in fake.gateway_log if f["op"] == 2)
        assert identifies == [(0, 4), (1, 4), (2, 4), (3, 4)]  # every shard held once, by one process
        assert all(isinstance(a.client, discord.AutoShardedClient) for a in adapters)
        assert sorted(adapters[0].client.shards) == [0, 2] and sorted(adapters[1].client.shards) == [1, 3]  # type: ignore[union-attr]
    finally:
        for adapter in adapters:
            await adapter.stop()
        for app in apps:
            await app.close()
        await fake.close()


def test_shard_ids_must_be_within_shard_count() -> None:
    config = load_config(None, {"TICKERBELL_DISCORD__SHARD_COUNT": "4", "TICKERBELL_DISCORD__SHARD_IDS": "[1, 3]"})
    assert config.discord.shard_ids == (1, 3)


async def test_a_delivery_process_sends_to_discord_without_a_gateway_session(tmp_path: Path) -> None:
    from bot.core.messages import Alert, AlertKind
    from bot.core.models import ChatKind, ChatRef

    fake = FakeDiscord()
    await fake.start()
    app = adapter = None
    try:
        config = Config(bot=BotConfig(), market=MarketConfig(provider="csv", data_dir=write_tiny_prices(tmp_path / "prices")),
                        discord=DiscordConfig(enabled=True, api_base_url=fake.api_base_url, guild_ids=(GUILD_ID,)))
        app = await App.create(config, clock=ReplayClock(datetime(2025, 1, 27, 21, 30, tzinfo=UTC)), storage_path=tmp_path / "d.sqlite3")
        adapter = DiscordAdapter(config.discord, fake.token, app.router, describer=app.describer(), receive=False)
        await adapter.start()
        channel = ChatRef("discord", str(CHANNEL_ID), ChatKind.GROUP)
        await adapter.send_alert(channel, Alert(kind=AlertKind.PRICE_BELOW, ticker="NVDA", at=datetime(2025, 1, 27, 21, 5, tzinfo=UTC),
                                                price=118.0, level=120.0, rule_id=1))
        assert not [f for f in fake.gateway_log if f["op"] == 2]  # never identified on the gateway
        assert fake.messages, "the alert went out over HTTP"
    finally:
        if adapter is not None:
            await adapter.stop()
        if app is not None:
            await app.close()
        await fake.close()
