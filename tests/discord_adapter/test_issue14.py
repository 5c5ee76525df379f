"""Issue 14 through the real discord.py against the fake Discord: cashtags, and the new commands."""

from __future__ import annotations

from pathlib import Path

from tests.discord_adapter.fake_discord import CHANNEL_ID, MANAGER_ID, MEMBER_ID, SHARED_PRICES, answer_body, running_bot

PRICES = SHARED_PRICES if Path(SHARED_PRICES, "NVDA.csv").exists() else None


async def test_a_cashtag_is_answered_in_the_channel_with_the_message_content_intent(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, message_content=True) as bot:
        identify = next(f for f in bot.fake.gateway_log if f.get("op") == 2)
        assert identify["d"]["intents"] & (1 << 15)  # MESSAGE_CONTENT asked for
        start = len(bot.fake.requests)
        await bot.fake.dispatch("MESSAGE_CREATE", bot.fake.message("is $NVDA cheap yet?"))
        callback, followup = await bot.answer(bot.fake.slash("cashtags", {"choice": "on"}, user_id=MANAGER_ID))
        assert answer_body(callback, followup)["embeds"][0]["title"] == "Cashtags are on in this chat."
        assert not [r for r in bot.fake.requests[start:] if r.path == f"/channels/{CHANNEL_ID}/messages"]  # off until then
        message = bot.fake.message("is $NVDA cheap yet? and $zzzz", user_id=MEMBER_ID)
        await bot.fake.dispatch("MESSAGE_CREATE", message)
        sent = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", after=start)
        assert sent.json["embeds"][0]["title"] == "NVDA $118.42, −16.97% (close of 2025-01-27)"
        assert str(sent.json["message_reference"]["message_id"]) == message["id"]


async def test_without_the_intent_the_bot_asks_for_no_messages(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        identify = next(f for f in bot.fake.gateway_log if f.get("op") == 2)
        assert not identify["d"]["intents"] & (1 << 15)
        callback, followup = await bot.answer(bot.fake.slash("cashtags", {"choice": "on"}, user_id=MANAGER_ID))
        assert "message-content intent" in str(answer_body(callback, followup)["embeds"][0])


async def test_history_lists_what_fired_in_the_channel(tmp_path):
    from datetime import UTC, datetime

    from bot.core.messages import Alert, AlertKind, Envelope
    from bot.core.models import ChatKind, ChatRef

    async with running_bot(tmp_path, prices=PRICES) as bot:
        channel = ChatRef("discord", str(CHANNEL_ID), ChatKind.GROUP)
        alert = Alert(kind=AlertKind.SELLOFF, ticker="NVDA", at=datetime(2025, 1, 27, 15, 0, tzinfo=UTC), price=118.42, change_pct=-16.97,
                      threshold_pct=5.0)
        await bot.storage.outbox.enqueue([Envelope(channel, alert, "history-test-1")], now=datetime(2025, 1, 27, 15, 0, tzinfo=UTC))
        await bot.app.dispatcher.drain_once()
        callback, followup = await bot.answer(bot.fake.slash("history", {}, user_id=MEMBER_ID))
        [embed] = answer_body(callback, followup)["embeds"]
        assert embed["title"] == "What fired in this chat (newest first, last 1)"
        assert embed["description"] == "2025-01-27 10:00 ET · Sell-off: NVDA down 16.97% today · $118.42, −16.97%"


async def test_a_chart_is_attached_and_shown_in_the_embed(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, answer_within=0) as bot:
        payload = bot.fake.slash("chart", {"ticker": "NVDA", "period": "6m"})
        await bot.interact(payload)
        followup = await bot.followup(payload, timeout=20)
        [part] = followup.files
        assert part["filename"] == "NVDA-6m-2025-01-27.png" and part["size"] > 10_000
        [embed] = followup.json["embeds"]
        assert embed["title"] == "NVDA · 6 months"
        assert embed["image"]["url"] == f"attachment://{part['filename']}"


async def test_an_alert_with_lifecycle_options_from_a_slash_command(tmp_path):
    from bot.core.models import UserRef

    async with running_bot(tmp_path, prices=PRICES) as bot:
        payload = bot.fake.slash("alert", {"ticker": "NVDA", "condition": "below", "value": 100, "options": "once for 5d"}, user_id=MEMBER_ID)
        callback, followup = await bot.answer(payload)
        [embed] = answer_body(callback, followup)["embeds"]
        assert "it fires once and is then removed; it runs through 2025-02-01 and is then removed" in embed["description"]
        [rule] = await bot.storage.rules.of_member(UserRef("discord", str(MEMBER_ID)))
        assert rule.once and str(rule.expires_on) == "2025-02-01"


async def test_an_export_is_sent_as_a_file(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, admins=(f"discord:{MANAGER_ID}",)) as bot:
        await bot.answer(bot.fake.slash("watch", {"ticker": "NVDA"}, user_id=MANAGER_ID))
        start = len(bot.fake.requests)
        payload = bot.fake.slash("export", {"format": "json"}, user_id=MANAGER_ID)
        callback, followup = await bot.answer(payload)
        assert answer_body(callback, followup)["embeds"][0]["title"].startswith("Export (JSON): ")
        sent = await bot.fake.wait_for(lambda r: r.method == "POST" and r.files and payload["token"] in r.path, after=start)
        [part] = sent.files
        assert part["filename"].startswith("tickerbell-export-") and part["filename"].endswith(".json") and part["size"] > 50


async def test_import_reads_a_csv_file_option(tmp_path):
    async with running_bot(tmp_path, prices=PRICES, admins=(f"discord:{MANAGER_ID}",)) as bot:
        csv_file = b"ticker,level,price,note\nNVDA,entry,100,buy the dip\nNVDA,exit,160,\n"
        payload = bot.fake.slash_with_file("import", {}, "file", "levels.csv", csv_file, user_id=MANAGER_ID)
        callback, followup = await bot.answer(payload)
        [embed] = answer_body(callback, followup)["embeds"]
        assert embed["title"] == "Imported 2 levels"
        levels = {str(r.level_name): (r.threshold, r.note) for r in await bot.app.rules.analyst_levels("NVDA")}
        assert levels["entry"] == (100.0, "buy the dip") and levels["exit"] == (160.0, None)  # the primer's stop stays
