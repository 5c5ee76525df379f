"""Slash commands end to end: the fake gateway dispatches INTERACTION_CREATE, the real
discord.py runs our tree, the core answers, and we read the callback and followups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.discord.render import COLOURS
from bot.core.commands import Arg, ArgKind, Command
from bot.core.handlers import core_commands
from bot.core.messages import Image, Reply, Tone
from bot.core.models import UserRef
from tests.discord_adapter.fake_discord import (
    APP_ID,
    CHANNEL_ID,
    MANAGER_ID,
    MEMBER_ID,
    MEMBER_PERMISSIONS,
    SHARED_PRICES,
    answer_body,
    running_bot,
)

EPHEMERAL = 64
PRICES = SHARED_PRICES if Path(SHARED_PRICES, "NVDA.csv").exists() else None  # else a tiny copy of the same closes


async def test_price_is_answered_directly_with_an_embed(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        callback, followup = await bot.answer(bot.fake.slash("price", {"ticker": "nvda"}))
        assert followup is None
        assert callback.json["type"] == 4
        data = callback.json["data"]
        assert not data.get("flags")
        [embed] = data["embeds"]
        assert embed["title"] == "NVDA $118.42, −16.97% (close of 2025-01-27)"
        assert embed["color"] == COLOURS[Tone.DOWN]
        assert {f["name"]: f["value"] for f in embed["fields"]}["Previous close"] == "$142.62"
        assert data["allowed_mentions"]["parse"] == [] and data["allowed_mentions"]["users"] == []  # never pings


async def test_a_slow_command_is_deferred_then_answered_by_a_followup(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, answer_within=0) as bot:
        payload = bot.fake.slash("price", {"ticker": "NVDA"})
        callback, followup = await bot.answer(payload)
        assert callback.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
        assert callback.json == {"type": 5}  # thinking, public
        assert followup is not None
        assert followup.path == f"/webhooks/{APP_ID}/{payload['token']}"
        assert followup.json["embeds"][0]["title"].startswith("NVDA $118.42")
        assert not followup.json.get("flags")
        answers = [r for r in bot.fake.requests if payload["token"] in r.path]
        assert len(answers) == 2  # answered exactly once, then one followup


async def test_options_reach_the_core_as_words_in_table_order(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, now=datetime(2025, 1, 24, 21, 30, tzinfo=UTC)) as bot:
        payload = bot.fake.slash("alert", {"value": 10.0, "condition": "move", "ticker": "NVDA"}, user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS)
        callback, followup = await bot.answer(payload)
        body = answer_body(callback, followup)
        [rule] = await bot.storage.rules.of_member(UserRef("discord", str(MEMBER_ID)))
        assert body["embeds"][0]["title"] == f"Alert #{rule.id} set: NVDA moves 10% in a day"
        assert rule.owner.user_id == str(MEMBER_ID) and rule.owner.display_name == "Member302"
        assert rule.chat.chat_id == str(CHANNEL_ID) and rule.chat.kind.value == "group"


# -- bad input: an ephemeral reply naming the problem ---------------------------------------


async def _error(bot, payload) -> dict:
    callback, _followup = await bot.answer(payload)
    assert callback.json["type"] == 4
    data = callback.json["data"]
    assert data["flags"] & EPHEMERAL
    [embed] = data["embeds"]
    assert embed["color"] == COLOURS[Tone.ERROR]
    return embed


async def test_an_oversized_option_gets_an_ephemeral_reply(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = await _error(bot, bot.fake.slash("price", {"ticker": "X" * 10_000}))
        assert "10,001 characters" in embed["title"]
        assert len(embed["title"]) <= 256


async def test_an_unknown_ticker_gets_an_ephemeral_reply(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = await _error(bot, bot.fake.slash("price", {"ticker": "ZZZZ"}))
        assert embed["title"].startswith("Unknown ticker ZZZZ")


async def test_watch_needs_manage_channels(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = await _error(bot, bot.fake.slash("watch", {"ticker": "NVDA"}, user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS))
        assert "only a chat admin" in embed["title"]
        assert await bot.storage.watches.tickers() == []
        callback, followup = await bot.answer(bot.fake.slash("watch", {"ticker": "NVDA"}, user_id=MANAGER_ID))
        assert answer_body(callback, followup)["embeds"][0]["title"] == "This chat now follows NVDA."


async def test_a_value_of_the_wrong_type_is_worded_by_the_core(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = await _error(bot, bot.fake.slash("unalert", {"id": "abc"}, types={"id": 3}))
        assert "Id must be a whole number, not 'abc'" in embed["title"]


async def test_an_error_after_a_defer_replaces_the_public_thinking_message(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, answer_within=0) as bot:
        payload = bot.fake.slash("price", {"ticker": "ZZZZ"})
        await bot.interact(payload)
        assert bot.callback(payload).json == {"type": 5}
        await bot.followup(payload, method="DELETE")
        followup = await bot.followup(payload, method="POST")
        assert followup.json["flags"] & EPHEMERAL
        assert followup.json["embeds"][0]["title"].startswith("Unknown ticker ZZZZ")


async def test_a_private_reply_in_a_dm(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = (await bot.answer(bot.fake.slash("alerts", guild=False, user_id=MEMBER_ID)))[0].json["data"]
        assert embed["flags"] & EPHEMERAL
        assert embed["embeds"][0]["title"] == "You have no alerts."


# -- autocomplete ---------------------------------------------------------------------------


async def test_ticker_autocomplete_offers_known_tickers(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        payload = bot.fake.autocomplete("price", {"ticker": "nv"}, focused="ticker")
        await bot.interact(payload)
        callback = bot.callback(payload)
        assert callback.json["type"] == 8
        assert [c["value"] for c in callback.json["data"]["choices"]] == ["NVDA"]
        payload = bot.fake.autocomplete("price", {"ticker": ""}, focused="ticker")
        await bot.interact(payload)
        choices = bot.callback(payload).json["data"]["choices"]
        assert 1 <= len(choices) <= 25


# -- a reply with an image ------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _chart(context, invocation, values):
    return Reply(title=f"{values['ticker']} chart", lines=("A test card.",), image=Image("nvda chart.png", PNG, "NVDA closes"))


def _with_chart() -> object:
    table = core_commands()
    table.add(Command("testchart", "A test card with an image", _chart, args=(Arg("ticker", ArgKind.TICKER, "A ticker"),)))
    return table


async def test_a_reply_with_an_image_is_attached_and_shown_in_the_embed(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, commands=_with_chart(), answer_within=0) as bot:
        payload = bot.fake.slash("testchart", {"ticker": "NVDA"})
        await bot.interact(payload)
        followup = await bot.followup(payload)
        [part] = followup.files
        assert part == {"name": "files[0]", "filename": "nvda_chart.png", "size": len(PNG), "content_type": "application/octet-stream"}
        assert followup.json["attachments"][0]["filename"] == "nvda_chart.png"
        assert followup.json["attachments"][0]["description"] == "NVDA closes"
        assert followup.json["embeds"][0]["image"]["url"] == "attachment://nvda_chart.png"


async def test_a_primer_card_carries_its_chart(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, answer_within=0) as bot:
        if bot.app.router.commands.get("primer") is None:
            pytest.skip("no /primer command in the table yet (the feature is being added); the image path is tested with /chart")
        payload = bot.fake.slash("primer", {"ticker": "NVDA"})
        await bot.interact(payload)
        followup = await bot.followup(payload)
        [embed] = followup.json["embeds"]
        assert embed["title"].startswith("NVDA")
        [part] = followup.files
        assert part["filename"].endswith(".png") and part["size"] > 1000
        assert embed["image"]["url"] == f"attachment://{part['filename']}"

async def test_a_command_discord_still_lists_but_the_table_dropped_is_answered_by_the_core(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        embed = await _error(bot, bot.fake.slash("oldcommand", {}))
        assert embed["title"] == "Unknown command /oldcommand. Try /help for the list."


async def _pair(context, invocation, values):
    return Reply(title=f"first={values['first']} second={values['second']}")


async def test_an_optional_option_skipped_before_a_given_one_is_refused(tmp_path):
    table = core_commands()
    table.add(Command("pair", "Two optional words", _pair, args=(Arg("first", ArgKind.TEXT, "One", required=False), Arg("second", ArgKind.TEXT, "Two", required=False))))
    async with running_bot(tmp_path, prices=PRICES, commands=table) as bot:
        embed = await _error(bot, bot.fake.slash("pair", {"second": "b"}))
        assert embed["title"] == "/pair: give first as well when you give second. Usage: /pair [FIRST] [SECOND]."
        callback, _ = await bot.answer(bot.fake.slash("pair", {"second": "b", "first": "a"}))
        assert callback.json["data"]["embeds"][0]["title"] == "first=a second=b"
