"""Earnings catalysts driven like a chat: subscribe, let the replay clock run through sessions,
read what the chat was told (reminders, day-of notes, recaps, moved dates)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from bot.core.clock import ReplayClock
from bot.core.market import EarningsEvent, EarningsTime
from bot.core.messages import Alert
from bot.core.models import ChatKind, ChatRef
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from bot.replay import replay_app, run_replay
from tests.conftest import ALICE, ANALYST, CHAT, DEMO_DATA, DESCRIBER, NEW_YORK, Captured, ny, real_data
from tests.fakes.market import EditableMarket

OTHER_CHAT = ChatRef("console", "chat-2", ChatKind.GROUP)


class Bot:
    def __init__(self, app: App, clock: ReplayClock, out: Captured, market: EditableMarket) -> None:
        self.app, self.clock, self.out, self.market = app, clock, out, market

    async def say(self, text: str, *, user=ANALYST, chat: ChatRef = CHAT, manager: bool = True) -> str:
        replies = await self.app.router.handle_text(text, chat=chat, user=user, is_chat_manager=manager)
        await self.app.dispatcher.drain_once()
        return "\n".join(r.text for r in replies)

    async def run(self, start: date, end: date) -> list[tuple[ChatRef, Alert]]:
        """Replay the sessions from start to end as `tickerbell replay` does; return what was delivered."""
        before = len(self.out.alerts)
        await replay_app(self.app, self.clock, start, end)
        return self.out.alerts[before:]


@pytest.fixture
async def make_bot(tmp_path: Path, calendar: MarketCalendar) -> AsyncIterator:
    apps: list[App] = []

    async def build(data: Path, start, *, db: Path | None = None, clock: ReplayClock | None = None, market: EditableMarket | None = None) -> Bot:
        clock = clock or ReplayClock(start)
        market = market or EditableMarket(CsvMarket(data, clock=clock, calendar=calendar))
        config = replace(Config(), bot=replace(Config().bot, admins=frozenset({ANALYST.key})))
        app = await App.create(
            config, clock=clock, market=market, calendar=calendar, storage_path=db or tmp_path / "bot.sqlite3",
            features=("earnings",),
        )
        out = Captured()
        app.add_adapter(out)
        apps.append(app)
        return Bot(app, clock, out, market)

    yield build
    for app in apps:
        await app.close()


def write_prices(folder: Path, calendar: MarketCalendar, ticker: str, moves: dict[date, tuple[float, float]], earnings: str = "") -> Path:
    """A ticker at 100 every session from December 2024 to February 2025, except `moves` (open, close)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["Date,Open,High,Low,Close,Volume"]
    for session in calendar.sessions(date(2024, 12, 2), date(2025, 2, 28)):
        o, c = moves.get(session.day, (100.0, 100.0))
        rows.append(f"{session.day.isoformat()},{o},{max(o, c)},{min(o, c)},{c},1000000")
    (folder / f"{ticker}.csv").write_text("\n".join(rows) + "\n")
    (folder / "earnings.csv").write_text("Ticker,Date,Time\n" + earnings)
    return folder


def kinds(delivered: list[tuple[ChatRef, Alert]]) -> list[tuple[str, str]]:
    """(kind, New York day the alert is stamped with) for each delivery, in order."""
    return [(a.kind.value, a.at.astimezone(NEW_YORK).date().isoformat()) for _, a in delivered]


# -- timing -------------------------------------------------------------------------------

TIMING_CASES = [
    # (time column, recap day, gap %, change %)
    ("amc", "2025-01-16", -10.0, -5.0),
    ("bmo", "2025-01-15", 8.0, 12.0),
    ("", "2025-01-16", -10.0, -5.0),
]


@pytest.mark.parametrize(("timing", "recap_day", "gap", "change"), TIMING_CASES, ids=["amc", "bmo", "unknown"])
async def test_reminder_day_of_and_recap_come_at_their_time(make_bot, tmp_path: Path, calendar, timing: str, recap_day: str, gap: float, change: float) -> None:
    report = date(2025, 1, 15)  # a Wednesday
    moves = {report: (108.0, 112.0)} if timing == "bmo" else {date(2025, 1, 16): (90.0, 95.0), report: (100.0, 100.0)}
    data = write_prices(tmp_path / "data", calendar, "ACME", moves, f"ACME,2025-01-15,{timing}\n")
    bot = await make_bot(data, ny(date(2025, 1, 13), 7))
    reply = await bot.say("/subscribe ACME")
    assert "Next report: Wed 2025-01-15" in reply and "a reminder on Tue 2025-01-14 (1 trading day before)" in reply
    delivered = await bot.run(date(2025, 1, 13), date(2025, 1, 17))
    assert kinds(delivered) == [
        ("earnings_reminder", "2025-01-14"),
        ("earnings_day", "2025-01-15"),
        ("earnings_recap", recap_day),
    ]
    reminder, day_of, recap = (alert for _, alert in delivered)
    assert reminder.at == ny(date(2025, 1, 14), 8) and day_of.at == ny(report, 8)  # before the open
    assert recap.at == ny(date.fromisoformat(recap_day), 16)  # stamped with that session's close
    assert recap.extra["gap_pct"] == pytest.approx(gap, abs=1e-6)
    assert recap.change_pct == pytest.approx(change, abs=1e-6)
    day_text = DESCRIBER.describe(day_of).title
    recap_text = DESCRIBER.describe(recap).text
    if timing == "amc":
        assert day_text == "ACME reports earnings today, after the close"
        assert "ACME after earnings: −5.00% on Thu 2025-01-16" in recap_text
    elif timing == "bmo":
        assert day_text == "ACME reports earnings today, before the open"
        assert "Opened $108.00 (+8.00% gap from the previous close of $100.00); closed $112.00, +12.00%." in recap_text
    else:
        assert day_text == "ACME reports earnings today (time not announced)"
        assert "time was not announced, so this is the session after the report day; on the report day itself it closed +0.00%" in recap_text
    assert DESCRIBER.describe(reminder).title.startswith("ACME reports earnings tomorrow")


async def test_a_holiday_between_reminder_and_report_moves_the_reminder_a_session_earlier(make_bot, tmp_path: Path, calendar) -> None:
    # 2025-01-09 was a market holiday (national day of mourning): one trading day before Fri 2025-01-10 is Wed 2025-01-08.
    data = write_prices(tmp_path / "data", calendar, "ACME", {date(2025, 1, 13): (95.0, 97.0)}, "ACME,2025-01-10,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 6), 7))
    await bot.say("/subscribe ACME")
    await bot.say("/subscribe ACME 2", chat=OTHER_CHAT)
    delivered = await bot.run(date(2025, 1, 6), date(2025, 1, 14))
    mine = [(k, d) for (chat, _), (k, d) in zip(delivered, kinds(delivered), strict=False) if chat == CHAT]
    other = [(k, d) for (chat, _), (k, d) in zip(delivered, kinds(delivered), strict=False) if chat == OTHER_CHAT]
    assert mine == [("earnings_reminder", "2025-01-08"), ("earnings_day", "2025-01-10"), ("earnings_recap", "2025-01-13")]
    assert other[0] == ("earnings_reminder", "2025-01-07")  # two trading days before: Tue, skipping the holiday
    reminder = delivered[0][1] if delivered[0][0] == CHAT else next(a for c, a in delivered if c == CHAT)
    assert DESCRIBER.describe(reminder).title == "ACME reports earnings on Fri, the next session, after the close"


async def test_the_unsubscribed_hear_nothing_and_nothing_repeats_after_a_restart(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-15,amc\n")
    db = tmp_path / "keep.sqlite3"
    first = await make_bot(data, ny(date(2025, 1, 13), 7), db=db)
    await first.say("/subscribe ACME")
    await first.say("/watch ACME", chat=OTHER_CHAT)  # watching is not subscribing
    delivered = await first.run(date(2025, 1, 13), date(2025, 1, 14))
    assert [k for k, _ in kinds(delivered)] == ["earnings_reminder"]
    assert all(chat == CHAT for chat, _ in delivered)
    await first.app.close()
    # Restart on the same database and run the same morning again: the outbox remembers.
    second = await make_bot(data, None, db=db, clock=first.clock)
    await second.app.run_daily_jobs(date(2025, 1, 14))
    await second.app.dispatcher.drain_once()
    assert second.out.alerts == []
    assert "This chat no longer gets ACME's earnings reminders." in await second.say("/unsubscribe ACME")
    assert await second.run(date(2025, 1, 15), date(2025, 1, 17)) == []


# -- moved dates and the admin's word -----------------------------------------------------


async def test_a_moved_date_is_told_once_and_reminders_follow_it(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-15,amc\n")
    db = tmp_path / "moved.sqlite3"
    bot = await make_bot(data, ny(date(2025, 1, 10), 7), db=db)
    await bot.say("/subscribe ACME")
    await bot.say("/subscribe ACME", chat=OTHER_CHAT)
    assert await bot.run(date(2025, 1, 10), date(2025, 1, 10)) == []
    bot.market.events["ACME"] = [EarningsEvent("ACME", date(2025, 1, 22), EarningsTime.AFTER_CLOSE)]
    delivered = await bot.run(date(2025, 1, 13), date(2025, 1, 14))
    assert [(chat.chat_id, k) for (chat, _), (k, _) in zip(delivered, kinds(delivered), strict=False)] == [
        ("chat-1", "earnings_moved"),
        ("chat-2", "earnings_moved"),
    ]  # no reminder on the 14th for the old date
    moved = DESCRIBER.describe(delivered[0][1])
    assert moved.title == "ACME earnings date moved: Wed 2025-01-15 → Wed 2025-01-22"
    assert "(was Wed 2025-01-15, after the close), per the data provider" in moved.lines[0]
    await bot.app.close()
    again = await make_bot(data, None, db=db, clock=bot.clock, market=bot.market)  # a restart: still told once
    delivered = await again.run(date(2025, 1, 15), date(2025, 1, 24))
    assert kinds(delivered) == [
        ("earnings_reminder", "2025-01-21"),
        ("earnings_reminder", "2025-01-21"),
        ("earnings_day", "2025-01-22"),
        ("earnings_day", "2025-01-22"),
        ("earnings_recap", "2025-01-23"),
        ("earnings_recap", "2025-01-23"),
    ]  # one of each per chat for the new date, and no second notice of the move


async def test_the_admins_date_wins_until_the_provider_publishes_another(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-15,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 10), 7))
    await bot.say("/subscribe ACME")
    refused = await bot.say("/setearnings ACME 2025-01-16 bmo", user=ALICE)
    assert "/setearnings is for the bot's admins" in refused
    set_reply = await bot.say("/setearnings ACME 2025-01-16 bmo")
    assert "ACME earnings set to Thu 2025-01-16, before the open" in set_reply
    assert "Was Wed 2025-01-15, after the close (from the data provider)" in set_reply
    [(_, moved)] = bot.out.alerts
    assert DESCRIBER.describe(moved).title == "ACME earnings date moved: Wed 2025-01-15 → Thu 2025-01-16"
    assert "per the analyst" in DESCRIBER.describe(moved).lines[0]
    # Days later the provider still says the 15th: the admin's date stands.
    await bot.run(date(2025, 1, 13), date(2025, 1, 13))
    text = await bot.say("/earnings ACME")
    assert "ACME reports earnings Thu 2025-01-16, before the open" in text
    assert "set by the analyst" in text
    # The provider confirms the admin's day: it is now the provider's date, no news for the chat.
    bot.market.events["ACME"] = [EarningsEvent("ACME", date(2025, 1, 16), EarningsTime.BEFORE_OPEN)]
    assert await bot.run(date(2025, 1, 14), date(2025, 1, 14)) == []
    assert "set by the analyst" not in await bot.say("/earnings ACME")


async def test_a_provider_date_published_after_the_admins_correction_wins(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-15,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 10), 7))
    await bot.say("/subscribe ACME")
    await bot.say("/setearnings ACME 2025-01-16")
    bot.market.events["ACME"] = [EarningsEvent("ACME", date(2025, 1, 21), EarningsTime.AFTER_CLOSE)]
    delivered = await bot.run(date(2025, 1, 13), date(2025, 1, 13))
    assert [DESCRIBER.describe(a).title for _, a in delivered] == ["ACME earnings date moved: Thu 2025-01-16 → Tue 2025-01-21"]
    assert "ACME reports earnings Tue 2025-01-21, after the close" in await bot.say("/earnings ACME")


# -- commands -----------------------------------------------------------------------------


async def test_earnings_commands_read_like_a_chat(make_bot, calendar) -> None:
    bot = await make_bot(DEMO_DATA, ny(date(2025, 1, 27), 7))
    assert "This chat has no earnings subscriptions." in await bot.say("/subscriptions")
    assert "This chat follows no tickers yet." in await bot.say("/earnings week")
    assert "only a chat admin can do that here" in await bot.say("/subscribe MSFT", user=ALICE, manager=False)
    assert "Unknown ticker XYZZ" in await bot.say("/subscribe XYZZ")
    assert "Remind 0 to 10 trading days before" in await bot.say("/subscribe MSFT 99")
    assert "Days must be a whole number" in await bot.say("/subscribe MSFT soon")
    assert "not subscribed to MSFT's earnings" in await bot.say("/unsubscribe MSFT")
    assert "has passed" in await bot.say("/setearnings MSFT 2025-01-02 amc")
    assert "Date must be a date like 2025-01-29" in await bot.say("/setearnings MSFT tomorrow")
    assert "This chat now gets META's earnings reminders." in await bot.say("/subscribe META")
    assert "This chat's META earnings reminders are updated." in await bot.say("/subscribe META 2")
    await bot.say("/subscribe MSFT")
    await bot.say("/watch GOOG")
    assert await bot.say("/subscriptions") == (
        "This chat's earnings subscriptions (2)\n"
        "META: Wed 2025-01-29, after the close · reminder 2 trading days before\n"
        "MSFT: Wed 2025-01-29, after the close · reminder 1 trading day before\n"
        "Remove one with /unsubscribe TICKER."
    )
    assert await bot.say("/earnings week") == (
        "Earnings from Mon 2025-01-27 to Mon 2025-02-03\n"
        "Wed 2025-01-29 · META after the close · subscribed\n"
        "Wed 2025-01-29 · MSFT after the close · subscribed\n"
        "From this chat's /watchlist and /subscriptions. /earnings TICKER for details."
    )  # GOOG reports on 02-04, after the coming week
    assert await bot.say("/earnings MSFT") == (
        "MSFT reports earnings Wed 2025-01-29, after the close\n"
        "That is in 2 trading days (2 calendar days); the first session on the news is Thu 2025-01-30.\n"
        "This chat is subscribed: a reminder 1 trading day before, one on the day and a recap after."
    )
    assert "reports earnings" not in await bot.say("/earnings ^SOX") and "no upcoming earnings date" in await bot.say("/earnings ^SOX")


async def test_earnings_for_a_ticker_shows_the_move_after_its_last_report() -> None:
    data = real_data()
    calendar = MarketCalendar()
    clock = ReplayClock(ny(date(2025, 1, 27), 7))
    app = await App.create(Config(), clock=clock, market=CsvMarket(data, clock=clock, calendar=calendar), calendar=calendar,
                           storage_path=":memory:", features=("earnings",))
    try:
        replies = await app.router.handle_text("/earnings MSFT", chat=CHAT, user=ALICE)
        text = replies[0].text
        # 2024-10-30 after the close; on 2024-10-31 MSFT opened at 415.36 after a 432.53 close and closed at 406.35.
        assert "Last report Wed 2024-10-30, after the close: on Thu 2024-10-31 it opened −3.97% from the previous close and closed −6.05%." in text
        assert "MSFT reports earnings Wed 2025-01-29, after the close" in text
    finally:
        await app.close()


# -- replay over the real data ------------------------------------------------------------


async def test_replay_over_real_data_shows_the_reports_of_2025_01_29_and_their_moves() -> None:
    data = real_data()
    out = io.StringIO()
    await run_replay(Config(), data_dir=data, start=date(2025, 1, 27), end=date(2025, 1, 31), script=["/subscribe META", "/subscribe MSFT"], jsonl=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    earnings = [r for r in records if str(r["kind"]).startswith("earnings_")]
    assert [(r["kind"], r["ticker"], r["at"][:10]) for r in earnings] == [
        ("earnings_reminder", "META", "2025-01-28"),
        ("earnings_reminder", "MSFT", "2025-01-28"),
        ("earnings_day", "META", "2025-01-29"),
        ("earnings_day", "MSFT", "2025-01-29"),
        ("earnings_recap", "META", "2025-01-30"),
        ("earnings_recap", "MSFT", "2025-01-30"),
    ]
    assert all(r["report_day"] == "2025-01-29" and r["timing"] == "amc" for r in earnings)
    recaps = {r["ticker"]: r for r in earnings if r["kind"] == "earnings_recap"}
    assert recaps["MSFT"]["change_pct"] == pytest.approx(-6.2, abs=0.1)  # 442.33 -> 414.99
    assert recaps["META"]["change_pct"] == pytest.approx(1.6, abs=0.1)  # 676.49 -> 687.00
    assert recaps["MSFT"]["gap_pct"] == pytest.approx(-5.33, abs=0.01)  # opened 418.77
    assert recaps["MSFT"]["at"] == "2025-01-30T16:00:00-05:00"
    assert "MSFT after earnings: −6.18% on Thu 2025-01-30" in recaps["MSFT"]["text"]
    assert len(records) == len(earnings)  # subscriptions alone raise no price alerts


def test_days_helpers(calendar) -> None:
    from bot.features.earnings.desk import EarningsDesk, Report

    desk = EarningsDesk(store=None, watches=None, outbox=None, routing=None, market=None, calendar=calendar, clock=ReplayClock(ny(date(2025, 1, 6), 7)))  # type: ignore[arg-type]
    friday = Report("ACME", date(2025, 1, 10), EarningsTime.AFTER_CLOSE)
    assert desk.reminder_day(friday, 1) == date(2025, 1, 8)
    assert desk.reaction_session(friday) == date(2025, 1, 13)
    assert desk.reaction_session(Report("ACME", date(2025, 1, 10), EarningsTime.BEFORE_OPEN)) == date(2025, 1, 10)
    assert desk.trading_days_until(date(2025, 1, 10)) == 3  # Tue, Wed, Fri (Thu closed)
    assert desk.trading_days_until(date(2025, 1, 6)) == 0
    assert desk.reminder_day(friday, 0) == friday.day


# -- found in review -----------------------------------------------------------------------


async def test_setting_next_quarters_date_on_report_evening_keeps_todays_report(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {date(2025, 1, 16): (90.0, 95.0)}, "ACME,2025-01-15,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 13), 7))
    await bot.say("/subscribe ACME")
    await bot.run(date(2025, 1, 13), date(2025, 1, 15))
    bot.clock.set(ny(date(2025, 1, 15), 17))  # the company announced its next date with tonight's release
    before = len(bot.out.alerts)
    await bot.say("/setearnings ACME 2025-02-26 amc")
    assert bot.out.alerts[before:] == []  # not a "moved" notice: today's report still happened
    assert ("earnings_recap", "2025-01-16") in kinds(await bot.run(date(2025, 1, 16), date(2025, 1, 17)))
    assert "Last report Wed 2025-01-15" in await bot.say("/earnings ACME")


async def test_a_reminder_due_on_a_weekend_goes_out_on_the_weekend(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-13,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 11), 7))  # Saturday; the report is Monday
    assert "a reminder on Sat 2025-01-11" in await bot.say("/subscribe ACME")
    bot.clock.set(ny(date(2025, 1, 11), 17))
    await bot.app.run_daily_jobs(date(2025, 1, 11))  # the live timer runs daily jobs on weekends too
    await bot.app.dispatcher.drain_once()
    assert kinds(bot.out.alerts) == [("earnings_reminder", "2025-01-11")]


async def test_changing_days_does_not_repeat_a_reminder_and_every_move_is_told(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-22,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 13), 7))
    await bot.say("/subscribe ACME 3")
    await bot.run(date(2025, 1, 13), date(2025, 1, 16))
    await bot.say("/subscribe ACME 1")
    later = await bot.run(date(2025, 1, 17), date(2025, 1, 21))
    assert [k for k, _ in kinds(later)].count("earnings_reminder") == 0  # told on the 16th already

    flips = write_prices(tmp_path / "flips", calendar, "FLIP", {}, "FLIP,2025-02-12,amc\n")
    other = await make_bot(flips, ny(date(2025, 1, 13), 7), db=tmp_path / "flips.sqlite3")
    await other.say("/subscribe FLIP 0")
    told = []
    for day, said in [(date(2025, 1, 13), date(2025, 2, 12)), (date(2025, 1, 14), date(2025, 2, 13)),
                      (date(2025, 1, 15), date(2025, 2, 12)), (date(2025, 1, 16), date(2025, 2, 13))]:
        other.market.events["FLIP"] = [EarningsEvent("FLIP", said, EarningsTime.AFTER_CLOSE)]
        told += [a for _, a in await other.run(day, day) if a.kind.value == "earnings_moved"]
    assert len(told) == 3  # 12 -> 13, 13 -> 12, 12 -> 13: each told, though two are alike


async def test_an_untimed_estimate_does_not_move_a_timed_date(make_bot, tmp_path: Path, calendar) -> None:
    data = write_prices(tmp_path / "data", calendar, "ACME", {}, "ACME,2025-01-22,amc\n")
    bot = await make_bot(data, ny(date(2025, 1, 13), 7))
    await bot.say("/subscribe ACME")
    await bot.run(date(2025, 1, 13), date(2025, 1, 13))
    # one bad day: the dated feed fails and the calendar offers an estimated range, untimed
    bot.market.events["ACME"] = [EarningsEvent("ACME", date(2025, 1, 21)), EarningsEvent("ACME", date(2025, 1, 27))]
    moved = [a for _, a in await bot.run(date(2025, 1, 14), date(2025, 1, 14)) if a.kind.value == "earnings_moved"]
    assert moved == []
    del bot.market.events["ACME"]
    got = kinds(await bot.run(date(2025, 1, 15), date(2025, 1, 23)))
    assert ("earnings_day", "2025-01-22") in got and ("earnings_recap", "2025-01-23") in got
