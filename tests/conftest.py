"""Shared fixtures: real data (skipped where absent), demo data, and an app wired like the live one."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.config import Config
from bot.core.clock import ReplayClock
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.features.baskets.describe import BASKET_KINDS
from bot.features.earnings.describe import EARNINGS_KINDS
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "data" / "prices"
DEMO_DATA = ROOT / "seeds" / "demo" / "prices"
NEW_YORK = ZoneInfo("America/New_York")

CHAT = ChatRef("console", "chat-1", ChatKind.GROUP)
ALICE = UserRef("console", "alice", "Alice")
BOB = UserRef("console", "bob", "Bob")
ANALYST = UserRef("console", "analyst", "Analyst")
DESCRIBER = AlertDescriber(NEW_YORK, {**EARNINGS_KINDS, **BASKET_KINDS})  # what every alert kind says, in market time


def ny(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK)


def real_data() -> Path:
    if not (REAL_DATA / "NVDA.csv").is_file():
        pytest.skip(f"real price data not found at {REAL_DATA} (it lives in the shared folder beside the checkout)")
    return REAL_DATA


@pytest.fixture(scope="session")
def calendar() -> MarketCalendar:
    return MarketCalendar()


class Captured:
    """The console platform as a test sees it: every alert delivered, in order."""

    platform = "console"

    def __init__(self) -> None:
        self.alerts: list[tuple[ChatRef, Alert]] = []  # each alert, a group's one by one
        self.messages: list[tuple[ChatRef, Alert]] = []  # each message as sent (a group is one)
        self.fail_with: Exception | None = None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.messages.append((chat, alert))
        self.alerts.extend((chat, item) for item in alert.alerts)

    def kinds(self) -> list[tuple[str, str]]:
        return [(a.ticker, a.kind.value) for _, a in self.alerts]


class Harness:
    """Drive the bot like a chat: send commands, move the clock, read what came out."""

    def __init__(self, app: App, clock: ReplayClock, out: Captured) -> None:
        self.app, self.clock, self.out = app, clock, out

    async def say(self, text: str, *, user: UserRef = ALICE, chat: ChatRef = CHAT, manager: bool = True) -> str:
        replies = await self.app.router.handle_text(text, chat=chat, user=user, is_chat_manager=manager)
        return "\n".join(r.text for r in replies)

    async def at(self, moment: datetime) -> list[tuple[ChatRef, Alert]]:
        """Move the clock, run one price check and deliver; return the new alerts."""
        before = len(self.out.alerts)
        self.clock.set(moment)
        await self.app.price_check.run_once()
        await self.app.dispatcher.drain_once()
        return self.out.alerts[before:]


@pytest.fixture
async def make_harness(tmp_path: Path, calendar: MarketCalendar) -> AsyncIterator:
    apps: list[App] = []

    async def build(
        data: Path, start: datetime, *, config: Config | None = None, db: Path | None = None, features: tuple = ()
    ) -> Harness:
        config = config or Config()
        config = replace(config, bot=replace(config.bot, admins=config.bot.admins | {ANALYST.key}))
        clock = ReplayClock(start)
        market = CsvMarket(data, clock=clock, calendar=calendar)
        app = await App.create(config, clock=clock, market=market, calendar=calendar, storage_path=db or tmp_path / "bot.sqlite3", features=features)
        out = Captured()
        app.add_adapter(out)
        apps.append(app)
        return Harness(app, clock, out)

    yield build
    for app in apps:
        await app.close()
