"""Fairness on Telegram: one member's burst of commands never holds up another chat.

The real python-telegram-bot against the fake Bot API (tests/telegram/fake_bot_api.py), with
the adapter's real pacing (about one message a second per chat). Times are the fake server's
receive times; the tests wait by short polling, never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.telegram import TelegramAdapter
from bot.app import App
from bot.config import BotConfig, Config, TelegramConfig
from bot.core.clock import ReplayClock
from bot.core.commands import Command, CommandTable
from bot.core.handlers import core_commands
from bot.core.messages import Reply
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.conftest import DEMO_DATA
from tests.telegram.fake_bot_api import FakeBotApi, Request
from tests.telegram.test_adapter import AFTER_CLOSE_0127, TOKEN, World

MEMBER, OTHER = 1001, 1002  # private chats: a chat's id is its member's
ADAPTER_LOG = "bot.adapters.telegram.adapter"


class Stamped(list[Request]):
    """The fake's request list, with when each request was received (time.monotonic())."""

    def __init__(self) -> None:
        super().__init__()
        self.received: dict[int, float] = {}

    def append(self, request: Request) -> None:
        self.received[id(request)] = time.monotonic()
        super().append(request)

    def at(self, request: Request) -> float:
        return self.received[id(request)]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(token=TOKEN)
    fake.requests = Stamped()
    await fake.start()
    yield fake
    await fake.stop()  # after the bot


@pytest.fixture
async def make_world(tmp_path: Path, calendar: MarketCalendar, api: FakeBotApi) -> AsyncIterator[Any]:
    apps: list[App] = []

    async def build(*, commands: CommandTable | None = None, chat_queue_limit: int = 20) -> World:
        config = Config(bot=BotConfig(), telegram=TelegramConfig(enabled=True, api_base_url=api.base_url))
        clock = ReplayClock(AFTER_CLOSE_0127)
        market = CsvMarket(DEMO_DATA, clock=clock, calendar=calendar)
        app = await App.create(config, clock=clock, market=market, calendar=calendar, storage_path=tmp_path / f"fair{len(apps)}.sqlite3",
                               commands=commands, features=())
        apps.append(app)
        adapter = TelegramAdapter(config.telegram, TOKEN, app.router, describer=app.describer(), poll_timeout=10, chat_queue_limit=chat_queue_limit)
        await adapter.start()
        app.add_adapter(adapter)
        return World(app, clock, api, adapter)

    yield build
    for app in apps:
        await app.close()


def sent_to(api: FakeBotApi, chat_id: int) -> list[Request]:
    return [r for r in api.requests if r.method == "sendMessage" and r.chat_id == chat_id]


async def until(condition: Any, *, timeout: float, what: str) -> None:
    """Poll `condition()` every 20 ms until it holds; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.02)


async def answer_time(api: FakeBotApi, text: str, chat_id: int) -> float:
    """Send a command in a chat; the seconds until the fake received the reply to it."""
    mark = api.mark()
    pushed = time.monotonic()
    message_id = api.push_command(text, chat_id=chat_id, user_id=chat_id)
    reply = await api.wait_for("sendMessage", where=lambda r: r.reply_to == message_id, after=mark, timeout=10)
    assert isinstance(api.requests, Stamped)
    return api.requests.at(reply) - pushed


def dropped_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ADAPTER_LOG and "faster than they could be answered" in r.getMessage()]


async def test_a_burst_of_1000_commands_from_one_member_never_holds_up_another_chat(
    make_world: Any, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    await make_world()
    began = time.monotonic()
    burst = [api.push_command("/price NVDA", chat_id=MEMBER, user_id=MEMBER) for _ in range(1000)]

    # The other member's 7 /help: the first behind the whole burst in Telegram's update queue,
    # the others while the burst's accepted commands are answered at the chat's pace.
    waits = [await answer_time(api, "/help", OTHER)]
    for _ in range(6):
        seen = len(sent_to(api, MEMBER))
        await until(lambda s=seen: len(sent_to(api, MEMBER)) > s, timeout=10, what="the member's next answer")
        waits.append(await answer_time(api, "/help", OTHER))
    assert max(waits) < 2, f"the other chat waited {max(waits):.2f} s"

    await until(lambda: dropped_lines(caplog), timeout=60, what="the member's queue emptied")
    drained = time.monotonic() - began
    replies = sent_to(api, MEMBER)
    answers = [r for r in replies if r.reply_to in set(burst)]
    slow_downs = [r for r in replies if "Slow down" in r.text]
    dropped = 1000 - len(answers)
    assert len(slow_downs) == 1 and len(replies) == len(answers) + 1
    assert 21 <= len(answers) <= 30  # the one being answered and the 20 waiting, plus any that found room as the queue moved
    assert [r.reply_to for r in answers] == sorted(r.reply_to for r in answers)  # answered in the order sent
    assert dropped_lines(caplog) == [f"telegram: chat telegram:{MEMBER} sent commands faster than they could be answered; {dropped} dropped"]
    print(f"\nfairness: the other chat's 7 /help answered in {min(waits):.2f}-{max(waits):.2f} s (median {sorted(waits)[3]:.2f} s) during the burst; "
          f"of 1,000 burst commands {len(answers)} answered, {dropped} dropped, 1 slow-down reply; the member's queue emptied after {drained:.1f} s")


def count_in(line: str) -> int:
    """N from '...; N dropped'."""
    return int(line.rsplit("; ", 1)[1].split()[0])


def held_table(gate: asyncio.Event) -> CommandTable:
    """The core's commands plus /hold, which answers once `gate` opens."""

    async def hold(context: Any, invocation: Any, values: dict[str, Any]) -> Reply:
        await gate.wait()
        return Reply(title="held")

    table = core_commands()
    table.add(Command("hold", "Answers once the test lets it", hold))
    return table


async def test_a_full_queue_drops_the_excess_with_one_slow_down_per_burst_and_a_stop_drops_what_waits(
    make_world: Any, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    gate = asyncio.Event()
    world = await make_world(commands=held_table(gate), chat_queue_limit=3)
    for _ in range(10):  # one being answered (held), 3 waiting, 6 dropped
        api.push_command("/hold", chat_id=MEMBER, user_id=MEMBER)
    slow_down = await api.wait_for("sendMessage", where=lambda r: r.chat_id == MEMBER)  # while the first is still held
    assert slow_down.text == (
        "⚠️ <b>Slow down, please: 3 commands are already waiting in this chat, and they are answered about one a second. "
        "Newer ones were dropped; send them again once these are answered.</b>"
    )
    assert await answer_time(api, "/help", OTHER) < 2
    gate.set()
    await until(lambda: dropped_lines(caplog), timeout=20, what="the member's queue emptied")
    [line] = dropped_lines(caplog)
    answered = 10 - count_in(line)
    assert line == f"telegram: chat telegram:{MEMBER} sent commands faster than they could be answered; {10 - answered} dropped"
    assert [r.text for r in sent_to(api, MEMBER)][1:] == ["<b>held</b>"] * answered and answered in (3, 4)  # 3 waiting, and maybe 1 taken first

    gate.clear()  # a second burst gets its own slow-down, and a stop drops what waits
    mark = api.mark()
    for _ in range(5):
        api.push_command("/hold", chat_id=MEMBER, user_id=MEMBER)
    await api.wait_for("sendMessage", where=lambda r: r.chat_id == MEMBER and "Slow down" in r.text, after=mark)
    began = time.monotonic()
    await world.adapter.stop()  # the held command gets its grace, then is cancelled
    assert time.monotonic() - began < 1.5
    assert not [r for r in api.requests[mark:] if r.method == "sendMessage" and "held" in r.text]
    stopping = [r.getMessage() for r in caplog.records if "stopping;" in r.getMessage()]
    over = count_in(dropped_lines(caplog)[1])  # the second burst's overflow, logged as its queue ended
    assert stopping == [f"telegram: stopping; {5 - 1 - over} commands not answered yet were dropped"] and 5 - 1 - over <= 3
