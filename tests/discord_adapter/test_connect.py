"""Connecting, command sync and a bad token, through the real discord.py against the fake."""

from __future__ import annotations

import logging

import discord
import pytest

from bot.adapters.discord import DiscordAdapter
from bot.config import ConfigError, DiscordConfig
from bot.core.commands import ArgKind
from tests.conftest import DESCRIBER
from tests.discord_adapter.fake_discord import GUILD_ID, FakeDiscord, running_bot


async def test_connects_and_is_ready(tmp_path):
    async with running_bot(tmp_path) as bot:
        client = bot.adapter.client
        assert client.is_ready()
        assert client.user.id == int(bot.fake.bot_user["id"])
        assert [g.id for g in client.guilds] == [GUILD_ID]
        identify = next(f for f in bot.fake.gateway_log if f["op"] == 2)
        assert identify["d"]["intents"] == 1  # Intents.none() + guilds
        assert identify["d"]["token"] == bot.fake.token


OPTION_TYPES = {ArgKind.TICKER: 3, ArgKind.NUMBER: 10, ArgKind.INTEGER: 4, ArgKind.CHOICE: 3, ArgKind.TEXT: 3, ArgKind.DATE: 3, ArgKind.FILE: 11}


async def test_every_table_command_is_synced_to_the_guild_with_typed_options(tmp_path):
    async with running_bot(tmp_path) as bot:
        puts = bot.fake.find("PUT", "/commands")
        assert [r.path for r in puts] == [f"/applications/{bot.fake.bot_user['id']}/guilds/{GUILD_ID}/commands"]
        synced = {c["name"]: c for c in puts[0].json}
        table = bot.app.router.commands
        assert list(synced) == table.names()
        for command in table:
            body = synced[command.name]
            assert body["description"] == command.summary[:100]
            options = {o["name"]: o for o in body.get("options", [])}
            assert list(options) == [a.name for a in command.args]  # the core's table has required args first
            for arg in command.args:
                option = options[arg.name]
                assert option["type"] == OPTION_TYPES[arg.kind], (command.name, arg.name)
                assert option["required"] is arg.required
                assert 1 <= len(option["description"]) <= 100
                if arg.kind is ArgKind.TICKER:
                    assert option["autocomplete"] is True
                if arg.kind is ArgKind.CHOICE:
                    assert [c["value"] for c in option["choices"]] == list(arg.choices)
                if arg.kind is ArgKind.TEXT:
                    assert option["max_length"] == arg.max_chars
        assert bot.adapter.synced == {str(GUILD_ID): len(table)}


async def test_commands_sync_globally_without_guild_ids(tmp_path):
    async with running_bot(tmp_path, guild_ids=()) as bot:
        puts = bot.fake.find("PUT", "/commands")
        assert [r.path for r in puts] == [f"/applications/{bot.fake.bot_user['id']}/commands"]
        assert len(puts[0].json) == len(bot.app.router.commands)


async def test_a_rejected_token_stops_start_up_with_one_line_naming_the_variable(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "MTIz.not-the-right-token.xyz"
    fake = await FakeDiscord().start()
    try:
        config = DiscordConfig(enabled=True, token_env="MY_DISCORD_TOKEN", api_base_url=fake.api_base_url)

        class NoRouter:  # start-up fails before any command is needed
            commands = ()

        adapter = DiscordAdapter(config, secret, NoRouter(), describer=DESCRIBER)  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as failure:
            await adapter.start()
        message = str(failure.value)
        assert "MY_DISCORD_TOKEN" in message and "401" in message
        assert "\n" not in message
        assert secret not in message and secret not in repr(adapter)
        assert secret not in caplog.text
        assert adapter.client is None
        assert fake.find("GET", "/users/@me") and not fake.find("PUT", "/commands")
        await adapter.stop()  # safe twice
    finally:
        await fake.close()


async def test_sharded_client_connects_each_shard(tmp_path):
    async with running_bot(tmp_path, shard_count=2) as bot:
        identifies = [f["d"]["shard"] for f in bot.fake.gateway_log if f["op"] == 2]
        assert sorted(identifies) == [[0, 2], [1, 2]]
        assert isinstance(bot.adapter.client, discord.AutoShardedClient)
        assert bot.adapter.client.is_ready()
