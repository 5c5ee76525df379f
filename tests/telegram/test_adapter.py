"""The Telegram adapter end to end: the real python-telegram-bot against a fake Bot API on
127.0.0.1, the real core (router, store, engine, price check, dispatcher) on a ReplayClock.

No network and no sleeps: each test waits for the fake to receive a request (with a
timeout). Where a test shows that something did NOT happen, it sends a later command in
the same chat and waits for that one's reply, with updates handled one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import RetryAfter

from bot.adapters.telegram import PacedRateLimiter, TelegramAdapter
from bot.adapters.telegram.render import plain_fallback
from bot.app import App
from bot.config import BotConfig, Config, ConfigError, TelegramConfig
from bot.core.clock import ReplayClock
from bot.core.commands import Arg, ArgKind, Command, CommandTable
from bot.core.delivery import ChatUnavailable, DeliveryError, RetryLater
from bot.core.handlers import core_commands
from bot.core.messages import Alert, AlertKind, Envelope, Image, Reply, Tone
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from bot.replay import replay_app
from tests.conftest import DEMO_DATA, real_data
from tests.telegram.fake_bot_api import FakeBotApi, Request

TOKEN = "7000000001:AAHfakeSecretTokenValue_0123456789abcdefXYZ"
SECRET = TOKEN.split(":", 1)[1]
NEW_YORK = ZoneInfo("America/New_York")
AFTER_CLOSE_0127 = datetime(2025, 1, 27, 17, 0, tzinfo=NEW_YORK)


def ny(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute), NEW_YORK)


@dataclass
class World:
    app: App
    clock: ReplayClock
    api: FakeBotApi
    adapter: TelegramAdapter

    async def say(self, text: str, *, chat_id: int, user_id: int, name: str = "Member", chat_type: str | None = None) -> Request:
        """Send a command as a member and return the bot's (first) reply to it."""
        mark = self.api.mark()
        message_id = self.api.push_command(text, chat_id=chat_id, user_id=user_id, chat_type=chat_type, first_name=name)
        return await self.api.wait_for("sendMessage", where=lambda r: r.reply_to == message_id, after=mark)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(token=TOKEN)
    await fake.start()
    yield fake
    await fake.stop()  # after the bot (the world fixture's teardown runs first)


@pytest.fixture
async def make_world(tmp_path: Path, calendar: MarketCalendar, api: FakeBotApi) -> AsyncIterator[Any]:
    apps: list[App] = []

    async def build(
        *,
        data: Path = DEMO_DATA,
        start: datetime = AFTER_CLOSE_0127,
        commands: CommandTable | None = None,
        features: tuple | None = (),
        token: str = TOKEN,
        sequential: bool = False,
        admins: frozenset[str] = frozenset(),
    ) -> World:
        config = Config(bot=BotConfig(admins=admins), telegram=TelegramConfig(enabled=True, api_base_url=api.base_url))
        clock = ReplayClock(start)
        market = CsvMarket(data, clock=clock, calendar=calendar)
        app = await App.create(config, clock=clock, market=market, calendar=calendar, storage_path=tmp_path / f"bot{len(apps)}.sqlite3",
                               commands=commands, features=features)
        apps.append(app)
        adapter = TelegramAdapter(config.telegram, token, app.router, describer=app.describer(), poll_timeout=10,
                                  concurrent_updates=False if sequential else 8)
        await adapter.start()
        app.add_adapter(adapter)
        return World(app, clock, api, adapter)

    yield build
    for app in apps:
        await app.close()  # stops the adapters


def an_alert(kind: AlertKind = AlertKind.PRICE_BELOW, *, rule_id: int | None = 1, mention: UserRef | None = None, ticker: str = "NVDA") -> Alert:
    return Alert(kind=kind, ticker=ticker, at=datetime(2025, 1, 27, 21, 5, tzinfo=NEW_YORK), price=118.36, change_pct=-17.0, level=120.0,
                 rule_id=rule_id, mention=mention)


# -- start-up ------------------------------------------------------------------------------------------


async def test_start_sets_the_menu_from_the_table_and_no_log_line_holds_the_token(make_world: Any, api: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = await make_world()
    (menu,) = api.calls("setMyCommands")
    table = world.app.router.commands
    assert menu.json("commands") == [{"command": c.name, "description": c.summary} for c in table]
    assert len(table) >= 12 and api.calls("getMe") and api.calls("deleteWebhook")
    reply = await world.say("/help", chat_id=701, user_id=701)
    for command in table:
        if command.access.value != "admin":
            assert f"/{command.name}" in reply.text
    await world.adapter.stop()
    assert "[telegram-token]" in caplog.text  # the library did log the URL, and it was masked
    assert SECRET not in caplog.text and TOKEN not in caplog.text
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


async def test_a_rejected_token_stops_start_up_with_one_line_naming_the_variable(make_world: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "7000000001:AAHwrongTokenValueThatTelegramRejects_999"
    with pytest.raises(ConfigError) as stopped:
        await make_world(token=wrong)
    line = str(stopped.value)
    assert "TICKERBELL_TELEGRAM_TOKEN" in line and "\n" not in line
    assert wrong not in line and wrong.split(":")[1] not in caplog.text
    assert stopped.value.__cause__ is None and stopped.value.__suppress_context__


# -- commands ------------------------------------------------------------------------------------------------


async def test_price_round_trip_in_a_private_chat(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    reply = await world.say("/price NVDA", chat_id=777, user_id=777, name="Alice")
    assert reply.chat_id == 777
    assert reply.params["parse_mode"] == "HTML"
    assert reply.text == (
        "📉 <b>NVDA $118.36, −17.00% (close of 2025-01-27)</b>\n"
        "Previous close: $142.60\n"
        "Day range: $117.08 – $125.83\n"
        "<i>Price as of 2025-01-27 16:00 ET</i>"
    )
    start = await world.say("/start", chat_id=778, user_id=778)
    assert start.text.startswith("<b>tickerbell commands</b>")
    addressed = await world.say("/start@tickerbell_bot", chat_id=-100779, user_id=779)
    assert addressed.text.startswith("<b>tickerbell commands</b>")


async def test_group_commands_addressed_to_us_or_to_another_bot(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(sequential=True)
    group = -100555
    price = await world.say("/price@tickerbell_bot nvda", chat_id=group, user_id=42)
    assert price.chat_id == group and "<b>NVDA $118.36" in price.text

    mark = api.mark()
    elsewhere = api.push_command("/price@OtherBot NVDA", chat_id=group, user_id=42)
    bare = api.push_command("/otherbotcommand", chat_id=group, user_id=42)
    bare_start = api.push_command("/start", chat_id=group, user_id=42)  # every bot in the group would answer that
    unknown = await world.say("/frobnicate@TickerBell_Bot now", chat_id=group, user_id=42)
    assert unknown.text == "❗ <b>Unknown command /frobnicate. Try /help for the list.</b>"
    assert not api.calls("sendMessage", where=lambda r: r.reply_to in (elsewhere, bare, bare_start))
    assert len([r for r in api.requests[mark:] if r.method == "sendMessage"]) == 1


async def test_watch_in_a_group_needs_a_chat_admin(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    group = -100777
    api.members[(group, 52)] = "administrator"
    refused = await world.say("/watch NVDA", chat_id=group, user_id=51, name="Mallory")
    assert "only a chat admin can do that here" in refused.text and refused.text.startswith("❗")
    accepted = await world.say("/watch NVDA", chat_id=group, user_id=52, name="Ada")
    assert "This chat now follows NVDA." in accepted.text
    asked = api.calls("getChatMember")
    assert [(r.chat_id, r.params["user_id"]) for r in asked] == [(group, "51"), (group, "52")]

    removed = await world.say("/unwatch NVDA", chat_id=group, user_id=52, name="Ada")
    assert "no longer follows NVDA" in removed.text
    assert len(api.calls("getChatMember")) == 2  # the answer is cached ...
    world.clock.set(world.clock.now() + timedelta(minutes=6))
    await world.say("/watch NVDA", chat_id=group, user_id=52, name="Ada")
    assert len(api.calls("getChatMember")) == 3  # ... for about five minutes

    mark = api.mark()  # an anonymous admin speaks as the group itself: no need to ask
    anonymous = api.push_message("/watch AVGO", chat_id=-100778, user_id=1087968824, first_name="Group",
                                 entities=[{"type": "bot_command", "offset": 0, "length": 6}],
                                 sender_chat={"id": -100778, "type": "supergroup", "title": "Group -100778"})
    reply = await api.wait_for("sendMessage", where=lambda r: r.reply_to == anonymous, after=mark)
    assert "This chat now follows AVGO." in reply.text
    assert not [r for r in api.requests[mark:] if r.method == "getChatMember"]


# -- alerts and buttons ----------------------------------------------------------------------------------


async def test_a_replayed_price_move_alerts_the_group_with_buttons(make_world: Any, api: FakeBotApi, calendar: MarketCalendar) -> None:
    data = real_data()
    world = await make_world(data=data, start=ny("2025-01-24", 8))
    group = -100999
    made = await world.say("/alert NVDA move 10", chat_id=group, user_id=42, name="Alice")
    assert "Alert #1 set: NVDA moves 10% in a day" in made.text

    mark = api.mark()
    await replay_app(world.app, world.clock, date(2025, 1, 24), date(2025, 1, 27))
    alert = await api.wait_for("sendMessage", where=lambda r: r.chat_id == group, after=mark)
    lines = alert.text.split("\n")
    assert re.fullmatch(r"📉 <b>NVDA down \d+\.\d\d% today</b>", lines[0])
    assert lines[1] == '🔔 <a href="tg://user?id=42">Alice</a>'
    assert "Alert #1 for Alice: a daily move of 10% or more." in alert.text
    assert alert.keyboard == [[{"text": "Snooze 1 day", "callback_data": "a:snooze:1:1"}, {"text": "Remove alert", "callback_data": "a:unalert:1"}]]
    assert len([r for r in api.requests[mark:] if r.method == "sendMessage"]) == 1  # once per session, not per check
    counts = await world.app.storage.outbox.counts()
    assert (counts.pending, counts.sent, counts.dead) == (0, 1, 0)


async def test_a_member_who_asked_for_dms_gets_group_alerts_in_their_private_chat(make_world: Any, api: FakeBotApi, calendar: MarketCalendar) -> None:
    data = real_data()
    world = await make_world(data=data, start=ny("2025-01-24", 8))
    group, alice = -100777, 42
    assert "Your alerts now come by direct message." in (await world.say("/dm on", chat_id=group, user_id=alice, name="Alice")).text
    await world.say("/alert NVDA move 10", chat_id=group, user_id=alice, name="Alice")
    mark = api.mark()
    await replay_app(world.app, world.clock, date(2025, 1, 24), date(2025, 1, 27))
    alert = await api.wait_for("sendMessage", where=lambda r: r.chat_id == alice, after=mark)  # a private chat's id is the user's
    assert "NVDA down" in alert.text
    assert not any(r.method == "sendMessage" and r.chat_id == group for r in api.requests[mark:])


async def test_buttons_run_as_the_member_who_pressed(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(sequential=True)
    group = -100444
    alice = UserRef("telegram", "42", "Alice")
    made = await world.say("/alert NVDA below 100", chat_id=group, user_id=42, name="Alice")
    assert "Alert #1 set" in made.text
    mark = api.mark()
    await world.adapter.send_alert(ChatRef("telegram", str(group), ChatKind.GROUP), an_alert(mention=alice))
    sent = await api.wait_for("sendMessage", where=lambda r: r.chat_id == group, after=mark)
    message_id, shown = sent.result["message_id"], plain_fallback(sent.text)

    def press(data: str, user_id: int, name: str) -> tuple[str, int]:
        return api.push_button(data, chat_id=group, user_id=user_id, message_id=message_id, message_text=shown, first_name=name,
                               keyboard=sent.keyboard), api.mark()

    query, at = press("a:snooze:1:1", 43, "Bob")  # not Bob's alert: the core refuses
    answer = await api.wait_for("answerCallbackQuery", where=lambda r: r.params["callback_query_id"] == query, after=at)
    assert answer.params["text"] == "You have no alert #1. /alerts lists yours." and answer.params["show_alert"] == "true"

    query, at = press("a:snooze:1:1", 42, "Alice")
    answer = await api.wait_for("answerCallbackQuery", where=lambda r: r.params["callback_query_id"] == query, after=at)
    assert answer.params["text"] == "Alert #1 snoozed for 1 day."
    edit = await api.wait_for("editMessageText", after=at)
    assert int(edit.params["message_id"]) == message_id and edit.chat_id == group
    assert edit.text.endswith("\n<i>— snoozed by Alice</i>") and edit.keyboard == sent.keyboard
    assert len(api.calls("editMessageText")) == 1  # Bob's press edited nothing
    rule = await world.app.storage.rules.get(1)
    assert rule is not None and rule.snoozed_until == world.clock.now() + timedelta(days=1)

    query, at = press("a:unalert:1", 42, "Alice")
    edit = await api.wait_for("editMessageText", after=at)
    assert edit.text.endswith("\n<i>— removed by Alice</i>") and edit.keyboard == []
    assert await world.app.storage.rules.get(1) is None

    query, at = press("a:nosuch:1", 42, "Alice")
    answer = await api.wait_for("answerCallbackQuery", where=lambda r: r.params["callback_query_id"] == query, after=at)
    assert answer.params["text"] == "This button no longer works."


def _card_table() -> CommandTable:
    async def card(context: Any, invocation: Any, values: dict[str, Any]) -> Reply:
        long = bool(values.get("size"))
        lines = tuple(f"fact {i}: " + "z" * 90 for i in range(30)) if long else ("Designs GPUs <and> systems.",)
        return Reply(title="NVDA primer", lines=lines, image=Image("nvda.png", b"\x89PNG\r\n fake chart", "NVDA, one year"), tone=Tone.NEUTRAL)

    table = core_commands()
    table.add(Command("card", "A test card with a picture", card, args=(Arg("size", ArgKind.TEXT, "long", required=False),)))
    return table


async def test_a_reply_with_an_image_is_sent_as_a_photo(make_world: Any, api: FakeBotApi) -> None:
    await make_world(commands=_card_table())
    mark = api.mark()
    message_id = api.push_command("/card", chat_id=801, user_id=801)
    photo = await api.wait_for("sendPhoto", after=mark)
    assert photo.files["photo"] == b"\x89PNG\r\n fake chart"
    assert photo.content_type == "multipart/form-data" and photo.reply_to == message_id
    assert photo.params["caption"] == "<b>NVDA primer</b>\nDesigns GPUs &lt;and&gt; systems."

    mark = api.mark()
    message_id = api.push_command("/card long", chat_id=802, user_id=802)
    photo = await api.wait_for("sendPhoto", after=mark)
    rest = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 802, after=mark)
    assert len(photo.params["caption"]) <= 1024 and photo.reply_to == message_id and rest.reply_to is None
    assert (photo.params["caption"] + "\n" + rest.text).count("fact ") == 30


async def test_the_primer_command_sends_its_chart_if_the_table_has_one(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=None)
    if world.app.router.commands.get("primer") is None:
        pytest.skip("no /primer in the command table yet; sendPhoto is covered by test_a_reply_with_an_image_is_sent_as_a_photo")
    mark = api.mark()
    api.push_command("/primer NVDA", chat_id=803, user_id=803)
    sent = await api.wait_for("sendPhoto", after=mark, timeout=20)
    assert sent.files["photo"][:4] == b"\x89PNG" and "NVDA" in sent.params["caption"]

    mark = api.mark()  # the Primer button under an alert answers with the card, quoting the alert
    await world.adapter.send_alert(ChatRef("telegram", "804", ChatKind.PRIVATE), an_alert(rule_id=None))
    alert = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 804, after=mark)
    assert alert.keyboard == [[{"text": "Primer", "callback_data": "a:primer:NVDA"}]]
    message_id = alert.result["message_id"]
    query = api.push_button("a:primer:NVDA", chat_id=804, user_id=804, message_id=message_id, message_text=plain_fallback(alert.text))
    answer = await api.wait_for("answerCallbackQuery", where=lambda r: r.params["callback_query_id"] == query, after=mark)
    assert "show_alert" not in answer.params or answer.params["show_alert"] == "false"
    card = await api.wait_for("sendPhoto", where=lambda r: r.chat_id == 804, after=mark, timeout=20)
    assert card.reply_to == message_id and "NVDA" in card.params["caption"]


# -- faults ----------------------------------------------------------------------------------------------------


async def test_flood_control_is_honoured_through_the_outbox(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    outbox, clock = world.app.storage.outbox, world.clock
    chat = ChatRef("telegram", "888", ChatKind.PRIVATE)
    await outbox.enqueue([Envelope(chat, an_alert(rule_id=None), "flood-1"), Envelope(chat, an_alert(rule_id=None, ticker="AVGO"), "flood-2")],
                         now=clock.now())
    api.flood_next("sendMessage", retry_after=3)
    failed_at = clock.now()
    assert await world.app.dispatcher.drain_once() == 0
    assert len(api.calls("sendMessage")) == 1  # the second waits too, without asking Telegram again
    next_due = await outbox.next_due_at(["telegram"])
    assert next_due is not None and next_due - failed_at >= timedelta(seconds=3)

    clock.set(failed_at + timedelta(seconds=2))
    assert await world.app.dispatcher.drain_once() == 0
    assert len(api.calls("sendMessage")) == 1
    clock.set(failed_at + timedelta(seconds=3))
    assert await world.app.dispatcher.drain_once() == 2
    assert [r.text.split("\n")[0] for r in api.calls("sendMessage")[1:]] == ["📉 <b>NVDA fell below $120.00</b>", "📉 <b>AVGO fell below $120.00</b>"]
    counts = await outbox.counts()
    assert (counts.pending, counts.sent) == (0, 2)


async def test_a_blocked_chat_stops_and_comes_back_when_it_speaks(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(sequential=True)
    outbox, routing, clock = world.app.storage.outbox, world.app.context.routing, world.clock
    chat = ChatRef("telegram", "999", ChatKind.PRIVATE)
    await outbox.enqueue([Envelope(chat, an_alert(rule_id=None), "b-1"), Envelope(chat, an_alert(rule_id=None, ticker="AVGO"), "b-2")],
                         now=clock.now())
    api.blocked.add(999)
    assert await world.app.dispatcher.drain_once() == 0
    assert not await world.app.chats.reachable(chat) and not await world.app.storage.chats.is_active(chat)  # and it is stored
    counts = await outbox.counts()
    assert (counts.pending, counts.dead) == (0, 2)
    assert len(api.calls("sendMessage")) == 1  # the second was not tried: the chat is known to be gone
    await outbox.enqueue(await routing.reachable([Envelope(chat, an_alert(rule_id=None, ticker="TSM"), "b-3")]), now=clock.now())
    assert (await outbox.counts()).pending == 0  # nothing is queued for an inactive chat

    api.blocked.discard(999)  # the member unblocks the bot and writes to it
    api.push_message("hello again", chat_id=999, user_id=999)
    await world.say("/help", chat_id=999, user_id=999)
    assert await world.app.chats.reachable(chat) and await world.app.storage.chats.is_active(chat)
    await outbox.enqueue(await routing.reachable([Envelope(chat, an_alert(rule_id=None, ticker="TSM"), "b-4")]), now=clock.now())
    assert await world.app.dispatcher.drain_once() == 1
    assert api.calls("sendMessage", where=lambda r: r.chat_id == 999 and "TSM" in r.text)


async def test_delivery_errors_map_to_what_the_dispatcher_expects(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    adapter = world.adapter

    def chat(n: int) -> ChatRef:
        return ChatRef("telegram", str(n), ChatKind.PRIVATE if n > 0 else ChatKind.GROUP)

    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(ChatUnavailable):
        await adapter.send_alert(chat(901), an_alert())
    api.forbid_next("sendMessage", "Forbidden: bot was kicked from the group chat")
    with pytest.raises(ChatUnavailable):
        await adapter.send_alert(chat(-100901), an_alert())
    api.fail_next("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": -1009020})
    with pytest.raises(ChatUnavailable, match="-1009020"):
        await adapter.send_alert(chat(-902), an_alert())
    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(DeliveryError) as failed:
        await adapter.send_alert(chat(903), an_alert())
    assert not isinstance(failed.value, (RetryLater, ChatUnavailable))
    api.flood_next("sendMessage", retry_after=7)
    with pytest.raises(RetryLater) as flood:
        await adapter.send_alert(chat(904), an_alert())
    assert flood.value.retry_after == 7

    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag")
    mark = api.mark()
    await adapter.send_alert(chat(905), an_alert())  # falls back to plain text
    retried = [r for r in api.requests[mark:] if r.method == "sendMessage"]
    assert len(retried) == 2 and "parse_mode" not in retried[1].params and "<b>" not in retried[1].text

    await adapter.stop()
    await adapter.stop()  # safe twice
    with pytest.raises(DeliveryError):
        await adapter.send_alert(chat(906), an_alert())


async def test_a_reply_hit_by_flood_control_is_sent_after_the_wait(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    api.flood_next("sendMessage", retry_after=1)
    refused = await world.say("/price NVDA", chat_id=910, user_id=910)
    resent = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 910 and r is not refused, timeout=5)
    assert resent.text == refused.text and "<b>NVDA" in resent.text and resent.reply_to == refused.reply_to


async def test_hostile_input_gets_a_clear_reply_or_silence(make_world: Any, api: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    world = await make_world(sequential=True)
    huge = await world.say("/price " + "A" * 10_000, chat_id=601, user_id=601)
    assert huge.text.startswith("❗ <b>That is too much input for /price (10,001 characters).")
    lookalike = await world.say("/prіce NVDA", chat_id=602, user_id=602)  # a Cyrillic і
    assert lookalike.text == "❗ <b>Unknown command /prіce. Did you mean /price? Try /help for the list.</b>"
    markup = await world.say("/<b>x</b> <i>", chat_id=603, user_id=603)
    assert "&lt;b&gt;x&lt;/b&gt;" in markup.text and "<b>x</b>" not in markup.text
    weird = await world.say("/price \u202eADVN\u200b\u0000", chat_id=604, user_id=604)
    assert weird.text.startswith("❗ <b>") and "is not a ticker" in weird.text

    mark = api.mark()
    command = [{"type": "bot_command", "offset": 0, "length": 5}]
    api.push_message("/help", chat_id=605, user_id=None, entities=command)  # no sender
    api.push_update({"message": {"message_id": 1, "date": 1737990000, "text": "/help", "entities": command,
                                 "from": {"id": 606, "is_bot": False, "first_name": "X"}}})  # no chat
    api.push_update({"message": {"message_id": 2, "chat": {"id": 607, "type": "private"}, "text": "/help"}})  # no date: unreadable
    api.push_update({"message": {"message_id": 3, "date": 1, "chat": {"id": 608}, "text": "/help", "entities": command}})  # chat without type
    api.push_message("", chat_id=609, user_id=609, entities=command)  # a command entity and no text
    api.push_message("/he", chat_id=610, user_id=610, entities=[{"type": "bot_command", "offset": 0, "length": 40}])
    api.push_update({"callback_query": {"id": "junk", "from": {"id": 611, "is_bot": False, "first_name": "X"}, "chat_instance": "c", "data": "💣"}})
    api.push_update({"something_new": {"x": 1}})
    api.push_update({})
    sentinel = await world.say("/help", chat_id=612, user_id=612)
    assert sentinel.text.startswith("<b>tickerbell commands</b>")

    answered = await api.wait_for("answerCallbackQuery", after=mark)
    assert answered.params["text"] == "This button no longer works."
    he = api.calls("sendMessage", where=lambda r: r.chat_id == 610)
    assert len(he) == 1 and "Unknown command /he" in he[0].text  # an entity longer than the text is clipped
    replied_to = {r.chat_id for r in api.requests[mark:] if r.method == "sendMessage"}
    assert replied_to == {610, 612}
    skipped = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(skipped) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_every_command_in_the_table_answers_through_telegram(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=None)  # with every registered feature's commands
    mark = api.mark()
    sent: dict[int, str] = {}
    for index, command in enumerate(world.app.router.commands):
        text = command.examples[0] if command.examples else f"/{command.name}"
        sent[api.push_command(text, chat_id=5000 + index, user_id=5000 + index)] = text
    replies = await asyncio.gather(*(
        api.wait_for(("sendMessage", "sendPhoto"), where=lambda r, m=message_id: r.reply_to == m, after=mark, timeout=20)
        for message_id in sent
    ))
    for (_, text), reply in zip(sent.items(), replies, strict=False):
        assert reply.text and "Sorry, something went wrong" not in reply.text, f"{text} -> {reply.text}"


async def test_being_removed_from_a_group_marks_it_inactive_until_it_adds_the_bot_back(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(sequential=True)
    group = ChatRef("telegram", "-100321", ChatKind.GROUP)
    bot_user = {"id": 7000000001, "is_bot": True, "first_name": "tickerbell", "username": "tickerbell_bot"}

    def member(status: str) -> dict[str, Any]:
        return {"status": status, "user": bot_user, **({"until_date": 0} if status == "kicked" else {})}

    def membership(old: str, new: str) -> dict[str, Any]:
        return {"my_chat_member": {"chat": {"id": -100321, "type": "supergroup", "title": "G"}, "date": 1737990000,
                                   "from": {"id": 52, "is_bot": False, "first_name": "Ada"},
                                   "old_chat_member": member(old), "new_chat_member": member(new)}}

    api.push_update(membership("member", "kicked"))
    await world.say("/help", chat_id=322, user_id=322)  # handled after the update before it
    assert not await world.app.chats.reachable(group) and not await world.app.storage.chats.is_active(group)
    api.push_update(membership("kicked", "member"))
    await world.say("/help", chat_id=323, user_id=323)
    assert await world.app.chats.reachable(group) and await world.app.storage.chats.is_active(group)


async def test_the_rate_limiter_hands_flood_control_back_instead_of_sleeping(caplog: pytest.LogCaptureFixture) -> None:
    limiter = PacedRateLimiter()
    calls = 0

    async def flooded(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise RetryAfter(30)

    with pytest.raises(RetryAfter):
        await limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert calls == 1  # max_retries=0: re-raised at once, not slept on for 30 s
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # handled by us: no library traceback


async def test_an_unreachable_api_stops_start_up_with_one_line(tmp_path: Path, calendar: MarketCalendar) -> None:
    config = Config(telegram=TelegramConfig(enabled=True, api_base_url="http://127.0.0.1:9/bot"))
    clock = ReplayClock(AFTER_CLOSE_0127)
    app = await App.create(config, clock=clock, market=CsvMarket(DEMO_DATA, clock=clock, calendar=calendar), calendar=calendar,
                           storage_path=tmp_path / "bot.sqlite3", features=())
    try:
        with pytest.raises(ConfigError, match=r"could not reach the Telegram Bot API at http://127\.0\.0\.1:9/bot") as stopped:
            await TelegramAdapter(config.telegram, TOKEN, app.router, describer=app.describer()).start()
        assert SECRET not in str(stopped.value)
    finally:
        await app.close()


async def test_a_silent_alert_is_sent_with_disable_notification(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    mark = api.mark()
    await world.adapter.send_alert(ChatRef("telegram", "805", ChatKind.PRIVATE), replace(an_alert(), silent=True))
    await world.adapter.send_alert(ChatRef("telegram", "806", ChatKind.PRIVATE), an_alert())
    quiet = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 805, after=mark)
    loud = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 806, after=mark)
    assert quiet.params["disable_notification"] == "true"
    assert "disable_notification" not in loud.params


# -- issue 14: cashtags ----------------------------------------------------------------------------------------


async def test_a_cashtag_in_an_ordinary_message_is_answered_once_the_group_turns_them_on(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=("cashtags",), sequential=True)
    group = -100901
    mark = api.mark()
    api.members[(group, 42)] = "administrator"
    ignored = api.push_message("anyone looking at $NVDA?", chat_id=group, user_id=42)
    off = await world.say("/cashtags", chat_id=group, user_id=42)
    assert "Cashtags are off in this chat." in off.text
    assert not api.calls("sendMessage", where=lambda r: r.reply_to == ignored)
    refused = await world.say("/cashtags on", chat_id=group, user_id=43)
    assert "only a chat admin can do that here" in refused.text
    on = await world.say("/cashtags on", chat_id=group, user_id=42)
    assert "Cashtags are on in this chat." in on.text and "privacy mode" in on.text
    message_id = api.push_message("anyone looking at $NVDA and $notaticker?", chat_id=group, user_id=43)
    answer = await api.wait_for("sendMessage", where=lambda r: r.reply_to == message_id, after=mark)
    assert answer.text == "📉 <b>NVDA $118.36, −17.00% (close of 2025-01-27)</b>"
    again = api.push_message("$NVDA!!", chat_id=group, user_id=44)  # within 30 s: no second answer
    later = await world.say("/cashtags", chat_id=group, user_id=42)
    assert "on" in later.text
    assert not api.calls("sendMessage", where=lambda r: r.reply_to == again)


async def test_history_lists_what_fired_in_the_group(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=("history",))
    group = ChatRef("telegram", "-100902", ChatKind.GROUP)
    alert = an_alert(mention=UserRef("telegram", "42", "Alice"))
    await world.app.storage.outbox.enqueue([Envelope(group, alert, "history-test-1")], now=world.clock.now())
    reply = await world.say("/history NVDA", chat_id=-100902, user_id=43)
    assert reply.text == (
        "<b>What fired for NVDA in this chat (newest first, last 1)</b>\n"
        "2025-01-27 21:05 ET · NVDA fell below $120.00 · $118.36, −17.00% (waiting to be delivered)"
    )


async def test_a_chart_is_sent_as_a_photo(make_world: Any, api: FakeBotApi) -> None:
    await make_world(features=("charts",))
    mark = api.mark()
    message_id = api.push_command("/chart NVDA 1m", chat_id=905, user_id=905)
    photo = await api.wait_for("sendPhoto", after=mark, timeout=20)
    assert photo.files["photo"][:4] == b"\x89PNG" and photo.reply_to == message_id
    assert photo.params["caption"].startswith("<b>NVDA · 1 month</b>\nNow $118.36, −17.00% (close of 2025-01-27).")


async def test_an_export_is_sent_as_a_document(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=("transfer",), admins=frozenset({"telegram:906"}))
    await world.say("/watch NVDA", chat_id=906, user_id=906)
    mark = api.mark()
    reply = await world.say("/export", chat_id=906, user_id=906)
    assert reply.text.startswith("<b>Export (CSV): 0 levels, 1 watches")
    document = await api.wait_for("sendDocument", after=mark)
    assert document.chat_id == 906 and document.content_type == "multipart/form-data"
    assert document.files["document"].decode().splitlines()[:2] == ["section,ticker,what,value,note,chat,member", "watch,NVDA,,,,telegram:906,"]
    refused = await world.say("/export", chat_id=907, user_id=907)
    assert "/export is for the bot's admins" in refused.text


async def test_import_reads_a_csv_document_sent_with_the_command_as_caption(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=("transfer",), admins=frozenset({"telegram:908"}))
    mark = api.mark()
    message_id = api.push_document("/import", b"ticker,level,price,note\nNVDA,entry,100,buy the dip\n", filename="levels.csv", chat_id=908, user_id=908)
    reply = await api.wait_for("sendMessage", where=lambda r: r.reply_to == message_id, after=mark)
    assert reply.text.startswith("<b>Imported 1 level</b>\nNVDA entry $100.00")
    assert api.calls("getFile")
    [level] = await world.app.rules.analyst_levels("NVDA")
    assert level.note == "buy the dip"


async def test_catalysts_and_an_alert_preview_through_telegram(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world(features=("earnings", "catalysts"), admins=frozenset({"telegram:909"}))
    set_reply = await world.say("/setcatalyst NVDA 2025-01-29 GTC keynote", chat_id=909, user_id=909)
    assert set_reply.text.startswith("<b>Set NVDA's catalyst on Wed 2025-01-29: GTC keynote</b>")
    week = await world.say("/catalysts week", chat_id=909, user_id=909)
    assert "Wed 2025-01-29 · NVDA · GTC keynote (in 2 trading days)" in week.text
    preview = await world.say("/alert NVDA below 120 preview", chat_id=909, user_id=909)
    assert preview.text.startswith("<b>Preview, not saved: NVDA below $120.00</b>")
    assert "it would" in preview.text and await world.app.storage.rules.all() == []


async def test_moving_average_rsi_and_change_alerts_through_telegram(make_world: Any, api: FakeBotApi) -> None:
    world = await make_world()
    said = [await world.say(line, chat_id=909, user_id=909) for line in ("/alert NVDA above ema20", "/alert NVDA rsi above 70", "/alert NVDA move 8 over 10d")]
    assert [reply.text.split("</b>")[0] for reply in said] == [
        "<b>Alert #1 set: NVDA above its EMA20", "<b>Alert #2 set: NVDA RSI(14) above 70", "<b>Alert #3 set: NVDA moves 8% over 10 sessions"]
    assert "Its EMA20 is $" in said[0].text
    assert [(r.kind.value, r.indicator, r.period) for r in await world.app.storage.rules.all()] == [("ma", "ema", 20), ("rsi", "rsi", 14), ("change", None, 10)]
