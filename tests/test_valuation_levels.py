"""Valuation levels: /setlevel NVDA exit pe 45. The price follows the provider's EPS, refreshed
every morning; without usable EPS the level is shown as inactive and never fires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from bot.core.clock import ReplayClock
from bot.core.errors import UserError
from bot.core.handlers import parse_level_value
from bot.core.messages import Alert
from bot.core.models import ChatRef, Direction, RuleKind
from bot.core.router import Invocation
from bot.features import primer
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.conftest import ALICE, ANALYST, CHAT, DEMO_DATA, Captured, ny
from tests.fakes.market import EditableMarket

MONDAY = date(2025, 1, 27)  # the DeepSeek sell-off: NVDA 142.60 -> 118.36 in the demo prices


class Desk:
    def __init__(self, app: App, clock: ReplayClock, market: EditableMarket, out: Captured) -> None:
        self.app, self.clock, self.market, self.out = app, clock, market, out

    async def say(self, text: str, *, user=ANALYST) -> str:
        replies = await self.app.router.handle_text(text, chat=CHAT, user=user, is_chat_manager=True)
        return "\n".join(r.text for r in replies)

    async def morning(self, day: date) -> None:
        self.clock.set(ny(day, 8))
        await self.app.run_daily_jobs(day)

    async def check_at(self, moment) -> list[tuple[ChatRef, Alert]]:
        before = len(self.out.alerts)
        self.clock.set(moment)
        await self.app.price_check.run_once()
        await self.app.dispatcher.drain_once()
        return self.out.alerts[before:]

    async def level(self, ticker: str, name: str):
        return next((r for r in await self.app.rules.analyst_levels(ticker) if str(r.level_name) == name), None)


@pytest.fixture
async def make_desk(tmp_path: Path, calendar: MarketCalendar) -> AsyncIterator:
    apps: list[App] = []

    async def build(start: datetime | None = None, *, seeds: bool = False) -> Desk:
        clock = ReplayClock(start or ny(date(2025, 1, 24), 17))
        market = EditableMarket(CsvMarket(DEMO_DATA, clock=clock, calendar=calendar))
        config = replace(Config(), bot=replace(Config().bot, admins=frozenset({ANALYST.key})))
        empty = tmp_path / "no-primers"
        empty.mkdir(exist_ok=True)

        app = await App.create(config, clock=clock, market=market, calendar=calendar, storage_path=tmp_path / f"v{len(apps)}.sqlite3", features=())
        await app.add_feature(primer.PrimerFeature(app.context, folder=primer.default_folder() if seeds else empty))
        out = Captured()
        app.add_adapter(out)
        apps.append(app)
        return Desk(app, clock, market, out)

    yield build
    for app in apps:
        await app.close()


async def test_a_multiple_of_eps_is_a_level_whose_price_is_shown_with_it(make_desk) -> None:
    desk = await make_desk()
    reply = await desk.say("/setlevel NVDA exit pe 45 trim above 45x trailing")
    assert reply.splitlines()[0] == "NVDA exit level set at 45× trailing EPS"
    assert "Today that is $114.30 (45 × trailing EPS of $2.54); it follows EPS, refreshed every morning." in reply
    assert "Note: trim above 45x trailing" in reply
    rule = await desk.level("NVDA", "exit")
    assert (rule.multiple, rule.basis, rule.threshold, rule.kind) == (45.0, "pe", pytest.approx(114.30), RuleKind.CROSS)
    assert rule.direction is Direction.UP  # an exit fires on a rise, whatever the price now
    assert rule.armed is False  # 142.60 is already above it: it waits for the next rise to it
    assert "already above it, so the condition holds now" in reply
    assert "NVDA entry level set at 28× forward EPS" in await desk.say("/setlevel NVDA entry fpe 28x")
    levels = await desk.say("/levels NVDA")
    assert "NVDA entry: 28× forward EPS = $124.60 (−12.62% from $142.60)" in levels
    assert "NVDA exit: 45× trailing EPS = $114.30 (−19.85% from $142.60) · trim above 45x trailing · written 2025-01-24, today" in levels
    assert "Multiples follow the provider's EPS" in levels
    card = await desk.say("/primer NVDA", user=ALICE)
    assert "Levels: entry 28× forward EPS = $124.60 (−12.6%) · exit 45× trailing EPS = $114.30 (−19.8%)" in card


async def test_the_price_follows_eps_at_the_daily_refresh(make_desk) -> None:
    desk = await make_desk()
    await desk.say("/setlevel NVDA stop fpe 30")
    assert (await desk.level("NVDA", "stop")).threshold == pytest.approx(133.50)  # 30 x 4.45
    desk.market.set_eps("NVDA", trailing=2.54, forward=4.10)  # analysts cut the forward estimate
    await desk.morning(MONDAY)
    rule = await desk.level("NVDA", "stop")
    assert rule.threshold == pytest.approx(123.0)
    [live] = [r for r in desk.app.rules.rules_of("NVDA") if r.id == rule.id]
    assert live.threshold == pytest.approx(123.0)  # the engine checks the new price
    assert "NVDA stop: 30× forward EPS = $123.00" in await desk.say("/levels NVDA")
    # The sell-off crosses 123 (118.36 at the close): chats that watch NVDA hear it.
    await desk.say("/watch NVDA")
    await desk.check_at(ny(MONDAY, 9, 31))
    alerts = await desk.check_at(ny(MONDAY, 16, 5))
    assert [(a.kind.value, a.level) for _, a in alerts if a.kind.value == "analyst_level"] == [("analyst_level", pytest.approx(123.0))]


async def test_missing_eps_leaves_the_level_inactive_and_silent(make_desk) -> None:
    desk = await make_desk()
    await desk.say("/watch NVDA")
    await desk.say("/setlevel NVDA stop fpe 30")  # 133.50 while forward EPS is 4.45
    desk.market.set_eps("NVDA", trailing=None, forward=None)  # the provider lost the figures
    await desk.morning(MONDAY)
    rule = await desk.level("NVDA", "stop")
    assert rule.threshold == 0.0 and rule.multiple == 30.0
    levels = await desk.say("/levels NVDA")
    assert "NVDA stop: 30× forward EPS (inactive: no forward EPS from the data provider)" in levels
    assert "from $" not in levels
    card = await desk.say("/primer NVDA", user=ALICE)
    assert "stop 30× forward EPS (inactive: no forward EPS from the data provider)" in card
    # 142.60 -> 125.63 at the open -> 118.36 at the close: well through 30 x the old EPS (133.50), and no alert.
    alerts = await desk.check_at(ny(MONDAY, 9, 31)) + await desk.check_at(ny(MONDAY, 16, 5))
    assert [a.kind.value for _, a in alerts if a.kind.value == "analyst_level"] == []
    assert {a.kind.value for _, a in alerts} == {"selloff", "drawdown"}  # the watch itself still works


async def test_a_level_set_without_eps_is_inactive_from_the_start(make_desk) -> None:
    desk = await make_desk()
    reply = await desk.say("/setlevel CRDO exit pe 50")  # CRDO's trailing EPS is negative: no P/E
    assert "CRDO exit level set at 50× trailing EPS" in reply
    assert "no usable trailing EPS for CRDO now, so the level is inactive" in reply
    assert (await desk.level("CRDO", "exit")).threshold == 0.0
    assert "Chats that /watch" not in reply


async def test_seed_levels_take_effect_from_their_notes_date(make_desk) -> None:
    desk = await make_desk(seeds=True)  # Friday 2025-01-24: the notes are dated 2025-01-28
    assert await desk.level("MSFT", "exit") is None
    assert "No analyst levels for NVDA yet." in await desk.say("/levels NVDA")
    await desk.morning(date(2025, 1, 28))  # the notes' date: the morning job seeds them
    nvda = await desk.level("NVDA", "stop")
    assert nvda is not None and nvda.threshold == 97.0
    assert "written 2025-01-28, today" in await desk.say("/levels NVDA")


async def test_seeded_multiples_follow_the_demo_fundamentals(make_desk) -> None:
    desk = await make_desk(seeds=True, start=ny(date(2025, 1, 28), 17))
    msft = await desk.level("MSFT", "exit")
    goog = await desk.level("GOOG", "exit")
    assert (msft.multiple, msft.basis, msft.threshold) == (36.0, "fpe", pytest.approx(500.40))
    assert (goog.multiple, goog.basis, goog.threshold) == (25.0, "fpe", pytest.approx(229.50))
    assert "MSFT exit: 36× forward EPS = $500.40" in await desk.say("/levels MSFT")


async def test_a_price_still_works_and_bad_values_say_what_is_expected(make_desk) -> None:
    desk = await make_desk()
    assert "NVDA entry level set at $120.00" in await desk.say("/setlevel NVDA entry 120 buy the dip")
    assert (await desk.level("NVDA", "entry")).multiple is None
    assert "The multiple is missing after fpe" in await desk.say("/setlevel NVDA exit fpe")
    assert "The multiple must be above 0" in await desk.say("/setlevel NVDA exit pe -3")
    assert "Multiple must be a number" in await desk.say("/setlevel NVDA exit pe lots")
    assert "The price must be a number like 120, or pe 45 / fpe 40" in await desk.say("/setlevel NVDA exit ps 10")
    assert "The price must be above 0" in await desk.say("/setlevel NVDA exit 0")
    # A Discord option arrives as one string: "pe 45".
    invocation = Invocation(chat=CHAT, user=ANALYST, command="setlevel", args=("NVDA", "exit", "pe 45", "trim there"))
    [reply] = await desk.app.router.handle(invocation)
    assert reply.title.startswith("NVDA exit level set at 45× trailing EPS") and "Note: trim there" in reply.text
    assert "the entry ($120.00) should be below the exit ($114.30)" in reply.text  # 45 x 2.54 is under the entry: said


def test_parse_level_value() -> None:
    assert parse_level_value("120", None) == (120.0, None, None, None)
    assert parse_level_value("120", "why not") == (120.0, None, None, "why not")
    assert parse_level_value("pe", "45 trim") == (None, 45.0, "pe", "trim")
    assert parse_level_value("FPE", "40x") == (None, 40.0, "fpe", None)
    assert parse_level_value("fpe 40", "note") == (None, 40.0, "fpe", "note")
    with pytest.raises(UserError):
        parse_level_value("pe", None)


async def test_no_fundamentals_at_all_keeps_yesterdays_price(make_desk) -> None:
    desk = await make_desk()
    await desk.say("/setlevel NVDA stop fpe 30")
    desk.market.fundamentals_by_ticker["NVDA"] = None  # the provider answered with nothing: an outage
    await desk.morning(MONDAY)
    assert (await desk.level("NVDA", "stop")).threshold == pytest.approx(133.50)  # not made inactive
