"""Alerts into channels: a replayed price move through the real pipeline (rule, price check,
outbox, dispatcher, adapter, discord.py, fake REST), buttons on the alert, and faults."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.discord.render import COLOURS
from bot.core.delivery import ChatUnavailable, DeliveryError
from bot.core.messages import Alert, AlertKind, Envelope, Tone
from bot.core.models import ChatKind, ChatRef, UserRef
from tests.discord_adapter.fake_discord import (
    CHANNEL_ID,
    MANAGER_ID,
    MEMBER_ID,
    MEMBER_PERMISSIONS,
    OTHER_CHANNEL_ID,
    SHARED_PRICES,
    Bot,
    answer_body,
    running_bot,
)

EPHEMERAL = 64
CHANNEL = ChatRef("discord", str(CHANNEL_ID), ChatKind.GROUP)
FRIDAY_AFTER_CLOSE = datetime(2025, 1, 24, 21, 30, tzinfo=UTC)  # 16:30 ET
MONDAY_OPEN = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)  # 10:00 ET, NVDA opens 12.5% lower

needs_prices = pytest.mark.skipif(
    not Path(SHARED_PRICES, "NVDA.csv").exists(), reason=f"replay data absent: {SHARED_PRICES}/NVDA.csv (the shared price files)"
)


async def _alert_posted(bot: Bot) -> tuple[dict, int]:
    """Make `/alert NVDA move 10` as a member on Friday, replay Monday's open, deliver the outbox;
    return the message the channel received (with the request body under "_request") and the alert's id."""
    payload = bot.fake.slash("alert", {"ticker": "NVDA", "condition": "move", "value": 10}, user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS)
    callback, followup = await bot.answer(payload)
    title = answer_body(callback, followup)["embeds"][0]["title"]
    found = re.fullmatch(r"Alert #(\d+) set: NVDA moves 10% in a day", title)
    assert found, title
    bot.app.clock.set(MONDAY_OPEN)
    summary = await bot.app.price_check.run_once()
    assert summary.queued == 1
    start = len(bot.fake.requests)
    assert await bot.app.dispatcher.drain_once() == 1
    post = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", after=start)
    return bot.fake.messages[max(bot.fake.messages)] | {"_request": post.json}, int(found.group(1))


@needs_prices
async def test_a_replayed_move_is_posted_as_an_embed_mentioning_the_member(tmp_path):
    async with running_bot(tmp_path, prices=SHARED_PRICES, now=FRIDAY_AFTER_CLOSE) as bot:
        message, rule_id = await _alert_posted(bot)
        body = message["_request"]
        assert body["content"] == f"<@{MEMBER_ID}>"
        assert body["allowed_mentions"] == {"parse": [], "users": [MEMBER_ID]}  # only that member is pinged
        [embed] = body["embeds"]
        assert embed["title"] == "NVDA down 12.49% today"
        assert embed["color"] == COLOURS[Tone.DOWN]
        assert embed["description"].startswith("Now $124.80, −12.49% today (previous close $142.62).")
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Price"] == "$124.80" and fields["Change today"] == "−12.49%" and fields["Threshold"] == "10%"
        assert embed["footer"]["text"] == "Data as of 2025-01-27 10:00 ET"
        buttons = [c for row in body["components"] for c in row["components"]]
        ids = [b["custom_id"] for b in buttons]
        assert f"tb:snooze:{rule_id}:1" in ids and f"tb:unalert:{rule_id}" in ids
        assert ("tb:primer:NVDA" in ids) == (bot.app.router.commands.get("primer") is not None)


@needs_prices
async def test_the_owner_snoozes_from_the_button_and_the_message_shows_it(tmp_path):
    async with running_bot(tmp_path, prices=SHARED_PRICES, now=FRIDAY_AFTER_CLOSE) as bot:
        message, rule_id = await _alert_posted(bot)
        message.pop("_request")
        press = bot.fake.press(message, f"tb:snooze:{rule_id}:1", user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS)
        await bot.interact(press)
        assert bot.callback(press).json == {"type": 6}  # deferred update: answered once, no loading message
        edit = await bot.followup(press, method="PATCH")
        assert edit.path.endswith("/messages/@original")
        done = edit.json["embeds"][0]["fields"][-1]
        assert done["name"] == "✓ Member302" and done["value"].startswith(f"Alert #{rule_id} snoozed for 1 day.")
        buttons = {b["custom_id"]: b for row in edit.json["components"] for b in row["components"]}
        assert buttons[f"tb:snooze:{rule_id}:1"]["disabled"] is True
        assert not buttons[f"tb:unalert:{rule_id}"].get("disabled")
        rule = await bot.storage.rules.get(rule_id)
        assert rule.snoozed_until is not None


@needs_prices
async def test_someone_else_pressing_gets_an_ephemeral_refusal(tmp_path):
    async with running_bot(tmp_path, prices=SHARED_PRICES, now=FRIDAY_AFTER_CLOSE) as bot:
        message, rule_id = await _alert_posted(bot)
        message.pop("_request")
        press = bot.fake.press(message, f"tb:unalert:{rule_id}", user_id=MANAGER_ID)
        await bot.interact(press)
        assert bot.callback(press).json == {"type": 6}
        refusal = await bot.followup(press)
        assert refusal.json["flags"] & EPHEMERAL
        assert refusal.json["embeds"][0]["title"] == f"You have no alert #{rule_id}. /alerts lists yours."
        assert not [r for r in bot.fake.requests if r.method == "PATCH"]  # the alert message is untouched
        assert await bot.storage.rules.get(rule_id) is not None


@needs_prices
async def test_the_primer_button_shows_the_card_to_whoever_pressed(tmp_path):
    async with running_bot(tmp_path, prices=SHARED_PRICES, now=FRIDAY_AFTER_CLOSE) as bot:
        if bot.app.router.commands.get("primer") is None:
            pytest.skip("no /primer command in the table")
        message, _ = await _alert_posted(bot)
        message.pop("_request")
        press = bot.fake.press(message, "tb:primer:NVDA", user_id=MANAGER_ID)
        await bot.interact(press)
        assert bot.callback(press).json == {"type": 6}
        card = await bot.followup(press)
        assert card.json["flags"] & EPHEMERAL  # a card for the presser, not for the whole channel
        [part] = card.files
        assert card.json["embeds"][0]["image"]["url"] == f"attachment://{part['filename']}"
        assert not [r for r in bot.fake.requests if r.method == "PATCH"]  # the alert message is untouched


async def test_a_button_works_after_a_restart(tmp_path):
    """The press is served from the custom_id alone: a fresh adapter never saw the message."""
    async with running_bot(tmp_path, now=FRIDAY_AFTER_CLOSE) as bot:
        message = {
            "id": "911", "channel_id": str(CHANNEL_ID), "author": bot.fake.bot_user, "content": "", "timestamp": "2025-01-27T15:00:00+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [{"type": "rich", "title": "NVDA down 12.49% today"}], "pinned": False, "type": 0, "flags": 0,
            "components": [{"type": 1, "components": [{"type": 2, "style": 2, "label": "Remove alert", "custom_id": "tb:unalert:7"}]}],
        }
        press = bot.fake.press(message, "tb:unalert:7", user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS)
        await bot.interact(press)
        refusal = await bot.followup(press)
        assert refusal.json["embeds"][0]["title"] == "You have no alert #7. /alerts lists yours."


# -- faults ---------------------------------------------------------------------------------


def _alert(**extra) -> Alert:
    return Alert(kind=AlertKind.PRICE_BELOW, ticker="NVDA", at=MONDAY_OPEN, price=119.5, change_pct=-16.2, level=120.0, rule_id=3, **extra)


async def test_a_channel_that_answers_403_is_marked_inactive(tmp_path, caplog):
    async with running_bot(tmp_path) as bot:
        chat = ChatRef("discord", str(OTHER_CHANNEL_ID), ChatKind.GROUP)
        await bot.storage.outbox.enqueue([Envelope(chat, _alert(), "test:403")], now=bot.app.clock.now())
        bot.fake.fail_next_message(403, 50001, "Missing Access", channel_id=OTHER_CHANNEL_ID)
        assert await bot.app.dispatcher.drain_once() == 0
        assert await bot.app.chats.reachable(chat) is False
        assert await bot.storage.chats.is_active(chat) is False  # recorded, not only remembered
        assert f"channel {OTHER_CHANNEL_ID} is unavailable" in caplog.text and "50001" in caplog.text
        assert await bot.storage.outbox.due(now=bot.app.clock.now(), platforms=["discord"]) == []
        # The channel talks to the bot again: it can receive again.
        await bot.answer(bot.fake.slash("help", channel_id=OTHER_CHANNEL_ID))
        assert await bot.app.chats.reachable(chat) is True
        assert await bot.storage.chats.is_active(chat) is True


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (403, 50013, "Missing Permissions", ChatUnavailable),
        (404, 10003, "Unknown Channel", ChatUnavailable),
        (503, 0, "Service Unavailable", DeliveryError),
    ],
)
async def test_send_faults_map_to_delivery_errors(tmp_path, status, code, message, expected):
    async with running_bot(tmp_path) as bot:
        bot.fake.fail_next_message(status, code, message)
        with pytest.raises(expected) as raised:
            await bot.adapter.send_alert(CHANNEL, _alert())
        assert raised.type is expected
        assert str(code) in str(raised.value) or status == 503


async def test_sending_while_stopped_is_a_delivery_error(tmp_path):
    async with running_bot(tmp_path) as bot:
        await bot.adapter.stop()
        with pytest.raises(DeliveryError):
            await bot.adapter.send_alert(CHANNEL, _alert())


async def test_an_alert_without_a_discord_member_pings_nobody(tmp_path):
    async with running_bot(tmp_path) as bot:
        start = len(bot.fake.requests)
        await bot.adapter.send_alert(CHANNEL, _alert(mention=UserRef("telegram", "42", "tg user")))
        post = await bot.fake.wait_for(lambda r: r.method == "POST" and "/messages" in r.path, after=start)
        assert "content" not in post.json or not post.json["content"]
        assert post.json["allowed_mentions"]["users"] == [] and post.json["allowed_mentions"]["parse"] == []


@needs_prices
async def test_a_member_who_asked_for_dms_gets_their_alert_in_a_direct_message(tmp_path):
    async with running_bot(tmp_path, prices=SHARED_PRICES, now=FRIDAY_AFTER_CLOSE) as bot:
        callback, followup = await bot.answer(bot.fake.slash("dm", {"choice": "on"}, user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS))
        assert answer_body(callback, followup)["embeds"][0]["title"] == "Your alerts now come by direct message."
        payload = bot.fake.slash("alert", {"ticker": "NVDA", "condition": "move", "value": 10}, user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS)
        await bot.answer(payload)
        bot.app.clock.set(MONDAY_OPEN)
        await bot.app.price_check.run_once()
        start = len(bot.fake.requests)
        assert await bot.app.dispatcher.drain_once() == 1
        opened = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path == "/users/@me/channels", after=start)
        assert opened.json == {"recipient_id": MEMBER_ID}
        dm = bot.fake.dm_channels[MEMBER_ID]
        post = await bot.fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{dm}/messages", after=start)
        assert post.json["embeds"][0]["title"] == "NVDA down 12.49% today"
        assert not any(r.path == f"/channels/{CHANNEL_ID}/messages" for r in bot.fake.requests[start:])  # not in the channel


async def test_a_delivery_sent_again_after_a_crash_is_dropped_by_discord(tmp_path):
    """The same alert to the same channel carries the same nonce with enforce_nonce, so Discord
    answers a resend (after a crash between its answer and our record) with the first message."""
    async with running_bot(tmp_path) as bot:
        start = len(bot.fake.requests)
        alert = _alert()
        await bot.adapter.send_alert(CHANNEL, alert)
        await bot.adapter.send_alert(CHANNEL, alert)  # the resend after a restart
        await bot.adapter.send_alert(CHANNEL, _alert(note="another"))  # another alert
        posts = [r for r in bot.fake.requests[start:] if r.method == "POST" and r.path.endswith("/messages")]
        assert len(posts) == 3
        first, again, other = (p.json for p in posts)
        assert first["enforce_nonce"] is True and first["nonce"] == again["nonce"] != other["nonce"]
        assert len(first["nonce"]) <= 25
        created = {int(m["id"]) for m in bot.fake.messages.values() if int(m["channel_id"]) == CHANNEL_ID}
        assert len(created) == 2  # the resend created nothing


async def test_a_long_group_goes_out_as_several_messages_each_with_its_own_nonce(tmp_path):
    """23 alerts for one channel from one check: three messages (10, 10 and 3 embeds) through the
    real discord.py; a resend of the whole delivery after a crash creates nothing new."""
    items = [_alert(note=f"alert {n}") for n in range(23)]
    group = Alert(kind=AlertKind.GROUP, ticker="NVDA", at=items[0].at, items=items)
    async with running_bot(tmp_path) as bot:
        start = len(bot.fake.requests)
        await bot.adapter.send_alert(CHANNEL, group)
        posts = [r.json for r in bot.fake.requests[start:] if r.method == "POST" and r.path.endswith("/messages")]
        assert [len(p["embeds"]) for p in posts] == [10, 10, 3]
        assert posts[0]["content"].startswith("**23 alerts · ") and "(continued)" in posts[1]["content"]
        assert len({p["nonce"] for p in posts}) == 3
        await bot.adapter.send_alert(CHANNEL, group)  # the resend after a restart
        created = {int(m["id"]) for m in bot.fake.messages.values() if int(m["channel_id"]) == CHANNEL_ID}
        assert len(created) == 3


async def test_a_silent_alert_is_sent_with_discords_silent_flag(tmp_path):
    async with running_bot(tmp_path) as bot:
        start = len(bot.fake.requests)
        await bot.adapter.send_alert(CHANNEL, _alert(silent=True))
        await bot.adapter.send_alert(CHANNEL, _alert(note="loud"))
        quiet, loud = (r.json for r in bot.fake.requests[start:] if r.method == "POST" and r.path.endswith("/messages"))
        assert quiet["flags"] & 4096  # SUPPRESS_NOTIFICATIONS
        assert not loud.get("flags", 0) & 4096
