"""Data down is not intent lost: with the market data unreachable, the commands that save
something save it (after checking the ticker's form) and say why they could not verify it;
when data returns, the first check applies the same "already past it" rule as with a price.

Driven like a chat over the demo prices (NVDA 142.60 on Friday 2025-01-24, opening 11.9 %
down at 125.63 on Monday 2025-01-27 and closing at 118.36), with a market that can go down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from bot.core.clock import ReplayClock
from bot.core.market import RateLimited
from bot.core.models import RuleKind, RuleSource
from bot.features.primer.levels import refresh_valuation_levels
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.conftest import ALICE, ANALYST, BOB, CHAT, DEMO_DATA, Captured, Harness, ny
from tests.fakes.market import DNS_FAILED, EditableMarket

FRIDAY, MONDAY, TUESDAY, WEDNESDAY = date(2025, 1, 24), date(2025, 1, 27), date(2025, 1, 28), date(2025, 1, 29)
UNAVAILABLE = f"Market data is unavailable: {DNS_FAILED}. Try again in a minute."


def saved(tickers: str, reason: str = DNS_FAILED) -> str:
    return f"Saved anyway: the market data provider cannot be reached now ({reason}), so {tickers} could not be verified."


class Bot(Harness):
    """A chat with a market that a test takes down and brings back."""

    def __init__(self, app: App, clock: ReplayClock, out: Captured, market: EditableMarket) -> None:
        super().__init__(app, clock, out)
        self.market = market

    async def kinds_at(self, moment: datetime) -> list[tuple[str, str]]:
        return [(alert.ticker, alert.kind.value) for _, alert in await self.at(moment)]


@pytest.fixture
async def make_bot(tmp_path: Path, calendar: MarketCalendar) -> AsyncIterator:
    apps: list[App] = []

    async def build(start: datetime, *, db: Path | None = None, features: tuple[str, ...] | None = ("earnings", "baskets")) -> Bot:
        clock = ReplayClock(start)
        market = EditableMarket(CsvMarket(DEMO_DATA, clock=clock, calendar=calendar))
        config = replace(Config(), bot=replace(Config().bot, admins=frozenset({ANALYST.key})))
        app = await App.create(config, clock=clock, market=market, calendar=calendar,
                               storage_path=db or tmp_path / f"down-{len(apps)}.sqlite3", features=features)
        out = Captured()
        app.add_adapter(out)
        apps.append(app)
        return Bot(app, clock, out, market)

    yield build
    for app in apps:
        await app.close()


# -- saved while down, and said so ------------------------------------------------------


SAVED_WHILE_DOWN = [
    # (command line, who, the tickers not verified, what waits for data)
    ("/alert NVDA below 120", ALICE, "NVDA", "When data returns: if NVDA is already below $120.00, it waits for the next crossing."),
    ("/alert NVDA move 10", ALICE, "NVDA", "When data returns: if the session's move has already reached 10%, the alert starts with the next session."),
    ("/alert NVDA drawdown 20", ALICE, "NVDA",
     "When data returns: its peak (the 52-week high close) is read, and if NVDA is already 20% or more below it, the alert waits for a new peak."),
    ("/watch NVDA", ALICE, "NVDA", "When data returns: its price and its peak (the 52-week high close) are read, and the watch starts from them."),
    ("/subscribe MSFT 2", ALICE, "MSFT", "When data returns: its earnings dates are read from the data provider, and the reminders follow them."),
    ("/setlevel NVDA entry 125", ANALYST, "NVDA",
     "When data returns: if NVDA is already below $125.00, it waits for the next crossing. /levels shows its distance then."),
    ("/setlevel NVDA exit pe 45", ANALYST, "NVDA",
     "Its price (45 × trailing EPS) is set by the morning refresh once data returns; until then it is inactive and alerts nothing."),
    ("/setbasket ai NVDA AVGO TSM", ANALYST, "NVDA, AVGO, TSM",
     "When data returns: /basket ai shows each member's move and the basket's distance from its 52-week high."),
]


@pytest.mark.parametrize(("line", "user", "tickers", "later"), SAVED_WHILE_DOWN, ids=[case[0] for case in SAVED_WHILE_DOWN])
async def test_a_command_that_saves_is_saved_while_data_is_down_and_says_why(make_bot, line, user, tickers, later) -> None:
    bot = await make_bot(ny(FRIDAY, 17))
    bot.market.go_down()

    reply = await bot.say(line, user=user)

    assert saved(tickers) in reply
    assert later in reply
    assert "Market data is unavailable" not in reply and "HTTP" not in reply


async def test_what_was_saved_while_down_is_stored_and_waits_for_its_first_price(make_bot) -> None:
    bot = await make_bot(ny(FRIDAY, 17))
    bot.market.go_down()
    for line, user, _, _ in SAVED_WHILE_DOWN:
        await bot.say(line, user=user)

    rules = await bot.app.storage.rules.all()
    member = sorted((r.kind.value, r.armed) for r in rules if r.source is RuleSource.MEMBER)
    assert member == [("below", None), ("drawdown", None), ("move", None)]  # each takes its baseline at the first check
    watch = sorted(r.kind.value for r in rules if r.source is RuleSource.WATCH)
    assert watch == ["drawdown", "move"]  # the watch's sell-off and drawdown rules exist already
    levels = {str(r.level_name): (r.direction.value, r.threshold) for r in rules if r.source is RuleSource.ANALYST}
    assert levels == {"entry": ("down", 125.0), "exit": ("up", 0.0)}  # directions from the names; the multiple inactive
    assert await bot.app.storage.watches.of_chat(CHAT) == ["NVDA"]
    assert [(s.ticker, s.days_before) for s in await bot.app.storage.earnings.subscriptions(CHAT)] == [("MSFT", 2)]
    assert "ai: NVDA AVGO TSM" in await bot.say("/basket")
    assert "waiting for the first price" in await bot.say("/alerts")


async def test_a_rate_limit_is_said_with_its_wait(make_bot) -> None:
    bot = await make_bot(ny(FRIDAY, 17))
    bot.market.go_down(RateLimited("Yahoo Finance is rate-limiting us; retrying in 2 min", retry_after=120))

    assert saved("NVDA", "Yahoo Finance is rate-limiting us; retrying in 2 min") in await bot.say("/alert NVDA below 120")
    refused = await bot.say("/price NVDA")
    assert refused == "Market data is unavailable: Yahoo Finance is rate-limiting us; retrying in 2 min. Try again after that."


@pytest.mark.parametrize(("line", "user"), [("/alert NVDA;DROP below 10", ALICE), ("/watch ^^bad!", ALICE), ("/setbasket ai NVDA ^^bad!", ANALYST)])
async def test_while_down_the_tickers_form_is_still_checked(make_bot, line, user) -> None:
    bot = await make_bot(ny(FRIDAY, 17))
    bot.market.go_down()

    assert "is not a ticker" in await bot.say(line, user=user)
    assert await bot.app.storage.rules.all() == []


UNKNOWN = [
    ("/alert XYZZ below 10", ALICE),
    ("/watch XYZZ", ALICE),
    ("/subscribe XYZZ", ALICE),
    ("/setlevel XYZZ entry 10", ANALYST),
    ("/setbasket ai NVDA XYZZ", ANALYST),
]


@pytest.mark.parametrize(("line", "user"), UNKNOWN, ids=[case[0] for case in UNKNOWN])
async def test_with_data_up_an_unknown_ticker_is_still_refused(make_bot, line, user) -> None:
    bot = await make_bot(ny(FRIDAY, 17))

    assert "Unknown ticker XYZZ: the market data has no price for it." in await bot.say(line, user=user)
    assert await bot.app.storage.rules.all() == []
    assert await bot.app.storage.watches.of_chat(CHAT) == []
    assert await bot.app.storage.earnings.subscriptions(CHAT) == []
    assert "No baskets yet." in await bot.say("/basket")


async def test_reads_while_down_say_why(make_bot) -> None:
    bot = await make_bot(ny(FRIDAY, 17), features=None)
    await bot.say("/watch NVDA")
    await bot.say("/setbasket ai NVDA AVGO TSM", user=ANALYST)
    await bot.say("/setlevel NVDA entry 125 buy the dip", user=ANALYST)  # the seeds' notes are dated 2025-01-28
    bot.market.go_down()

    for line in ("/earnings MSFT", "/basket ai"):
        assert await bot.say(line) == UNAVAILABLE, line
    for line in ("/price NVDA", "/primer NVDA"):  # /watch saw NVDA's close an hour ago: that price, its age, and why
        reply = await bot.say(line)
        assert "$142.60, −1.74% (close of 2025-01-24)" in reply and "That is the last known price, 60 min 0 s old: cannot reach Yahoo Finance: DNS lookup failed." in reply, line
    assert await bot.say("/price GOOG") == UNAVAILABLE  # never seen: plainly unavailable
    watchlist = await bot.say("/watchlist")
    assert "NVDA: no price right now" in watchlist and UNAVAILABLE in watchlist
    levels = await bot.say("/levels NVDA")
    assert "NVDA entry: $125.00 · " in levels and UNAVAILABLE in levels


# -- when data returns: the same "already past it" rule as with a price ----------------


async def test_a_price_level_already_crossed_when_data_returns_waits_and_one_crossed_later_fires(make_bot) -> None:
    bot = await make_bot(ny(MONDAY, 9, 45))  # NVDA opened at 125.63, down from 142.60
    bot.market.go_down()
    await bot.say("/alert NVDA below 130", user=ALICE)  # already crossed when data returns
    await bot.say("/alert NVDA below 120", user=BOB)  # crossed at the close, 118.36
    assert await bot.at(ny(MONDAY, 9, 50)) == []  # no data, no check

    bot.market.come_back()
    assert await bot.at(ny(MONDAY, 10)) == []
    alerts = await bot.at(ny(MONDAY, 16, 5))
    assert [(a.kind.value, a.mention.user_id) for _, a in alerts] == [("price_below", "bob")]


async def test_analyst_levels_set_while_down_alert_the_watching_chats_on_a_later_crossing(make_bot) -> None:
    bot = await make_bot(ny(MONDAY, 9, 45))
    bot.market.go_down()
    await bot.say("/watch NVDA")
    await bot.say("/setlevel NVDA entry 130", user=ANALYST)  # an entry is approached from above: already crossed
    await bot.say("/setlevel NVDA stop 120", user=ANALYST)

    bot.market.come_back()
    opened = await bot.kinds_at(ny(MONDAY, 10))
    assert ("NVDA", "analyst_level") not in opened  # (the watch reports the day's sell-off, as with data up)
    closed = await bot.at(ny(MONDAY, 16, 5))
    assert [a.level_name for _, a in closed if a.kind.value == "analyst_level"] == ["stop"]


async def test_a_move_alert_set_while_down_after_the_move_stays_quiet_that_session_and_fires_the_next(make_bot, tmp_path: Path) -> None:
    db = tmp_path / "move.sqlite3"
    bot = await make_bot(ny(MONDAY, 10), db=db)  # NVDA is 11.9 % down
    bot.market.go_down()
    assert saved("NVDA") in await bot.say("/alert NVDA move 5")

    bot.market.come_back()
    assert await bot.at(ny(MONDAY, 10, 5)) == []  # the session had already moved 11.9 %: quiet in it
    await bot.app.close()
    again = await make_bot(ny(MONDAY, 12), db=db)  # a restart keeps it quiet
    assert await again.at(ny(MONDAY, 16, 5)) == []  # -17 %: the same session
    assert await again.at(ny(TUESDAY, 10)) == []  # +4.8 % at the open
    assert await again.kinds_at(ny(TUESDAY, 16, 5)) == [("NVDA", "daily_move")]  # +8 %: a new move, a new session


async def test_a_drawdown_alert_set_while_down_past_its_threshold_waits_for_a_new_peak(make_bot) -> None:
    bot = await make_bot(ny(TUESDAY, 12))  # CRDO: 31 % below its peak close of 85.33 at Tuesday's close
    bot.market.go_down()
    await bot.say("/alert CRDO drawdown 25", user=ALICE)  # already deeper when data returns
    await bot.say("/alert CRDO drawdown 33", user=BOB)  # not yet

    bot.market.come_back()
    assert await bot.at(ny(TUESDAY, 16, 5)) == []
    state = bot.app.rules.state("CRDO")
    assert state is not None and state.peak == pytest.approx(85.33)  # seeded from history before the baseline
    alerts = await bot.at(ny(WEDNESDAY, 16, 5))  # 34.5 % below the peak
    assert [(a.kind.value, a.mention.user_id) for _, a in alerts] == [("drawdown", "bob")]
    assert "fired; re-arms after a new peak" in await bot.say("/alerts", user=ALICE)


async def test_a_valuation_level_saved_while_down_is_priced_by_the_morning_refresh(make_bot) -> None:
    bot = await make_bot(ny(FRIDAY, 17))
    bot.market.go_down()
    await bot.say("/setlevel NVDA exit pe 45", user=ANALYST)
    assert "inactive: no trailing EPS" in await bot.say("/levels")  # the level is there, without a price yet

    bot.market.come_back()
    bot.clock.set(ny(MONDAY, 8))
    await refresh_valuation_levels(bot.app.context)
    [level] = await bot.app.rules.analyst_levels("NVDA")
    assert level.kind is RuleKind.CROSS and level.threshold == pytest.approx(45 * 2.54)
