"""/chart: candles and volume, SMA50/SMA200 checked against values computed here from the real
price file, the analyst's levels labelled in the margin, 1d/5d from a provider's intraday bars."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.core.models import ChatKind, ChatRef
from bot.features.charts import moving_average, weekly
from bot.features.charts.render import Candle, build_figure
from tests.conftest import ALICE, ANALYST, Harness, ny, real_data

MONDAY = date(2025, 1, 27)


def closes_until(path: Path, day: date) -> list[tuple[date, float]]:
    with path.open(newline="") as handle:
        return [(date.fromisoformat(r["Date"]), float(r["Close"])) for r in csv.DictReader(handle) if date.fromisoformat(r["Date"]) <= day]


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(real_data(), ny(MONDAY, 17), features=("charts",))


async def test_the_chart_reply_carries_the_averages_and_a_png(chat: Harness) -> None:
    await chat.say("/setlevel NVDA entry 125", user=ANALYST)
    await chat.say("/setlevel NVDA stop 40", user=ANALYST)
    [reply] = await chat.app.router.handle_text("/chart NVDA", chat=ChatRef("console", "c", ChatKind.GROUP), user=ALICE)
    closes = [c for _, c in closes_until(real_data() / "NVDA.csv", MONDAY)]
    sma50, sma200 = sum(closes[-50:]) / 50, sum(closes[-200:]) / 200
    assert reply.title == "NVDA · 6 months"
    assert f"SMA50 ${sma50:,.2f} · SMA200 ${sma200:,.2f}" in reply.lines
    assert "Analyst's levels: entry $125.00, stop $40.00." in reply.lines
    assert reply.image is not None and reply.image.data[:4] == b"\x89PNG" and len(reply.image.data) > 20_000
    assert reply.image.filename == "NVDA-6m-2025-01-27.png"


async def test_periods_and_bad_input(chat: Harness) -> None:
    assert "NVDA · 1 year" in await chat.say("/chart NVDA 1y")
    five = await chat.say("/chart nvda 5y")
    assert "NVDA · 5 years (weekly candles)" in five and "The data provider's bars start on 2023-06-12." in five
    assert "Intraday bars are not available from this market data provider" in await chat.say("/chart NVDA 1d")
    assert "Period must be one of 1d, 5d, 1m, 6m, 1y, 5y" in await chat.say("/chart NVDA 2w")
    assert "Unknown ticker XYZZ" in await chat.say("/chart XYZZ")


def test_moving_average_and_weekly_candles() -> None:
    assert moving_average([1, 2, 3, 4, 5], 3) == [None, None, 2.0, 3.0, 4.0]
    days = [date(2025, 1, 20) + timedelta(days=i) for i in range(10) if (date(2025, 1, 20) + timedelta(days=i)).weekday() < 5]
    from datetime import datetime, time

    candles = [Candle(datetime.combine(d, time()), 10 + i, 12 + i, 9 + i, 11 + i, 100) for i, d in enumerate(days)]
    [first, second] = weekly(candles)
    assert (first.open, first.high, first.low, first.close, first.volume) == (10, 16, 9, 15, 500)
    assert second.at.date() == date(2025, 1, 29) and second.open == 15


def test_level_labels_sit_in_the_margin_and_far_levels_are_named_at_the_edge() -> None:
    from datetime import datetime, time

    candles = [Candle(datetime.combine(date(2025, 1, 1) + timedelta(days=i), time()), 100, 105, 95, 101, 1e6) for i in range(30)]
    figure = build_figure("NVDA", candles, {50: [None] * 30}, [("entry", 98.0), ("exit", 400.0)], title="NVDA")
    ax = figure.axes[0]
    texts = {t.get_gid(): t for t in ax.texts}
    assert texts["level-label:entry"].get_position()[0] > 1.0  # right of the plot, never over a candle
    assert "(off chart)" in texts["level-off:exit"].get_text()
    assert [line.get_gid() for line in ax.get_lines() if line.get_gid()] == ["level:entry"]
    assert ax.get_ylim()[1] < 200  # the far level does not squash the candles
    assert len(figure.axes) == 2  # prices and volume


async def test_intraday_charts_through_the_yfinance_provider(make_harness, tmp_path: Path, calendar) -> None:
    from bot.app import App
    from bot.config import Config
    from bot.core.clock import ReplayClock
    from bot.market.yfinance_provider import YFinanceMarket
    from tests.fakes.yahoo import FakeYahoo

    async with FakeYahoo() as fake:
        clock = ReplayClock(ny(date(2024, 6, 13), 17))
        market = YFinanceMarket(clock=clock, calendar=calendar, session=fake.session(), cache_dir=tmp_path / "yf", timeout=10.0)
        app = await App.create(Config(), clock=clock, market=market, calendar=calendar, storage_path=tmp_path / "y.sqlite3", features=("charts",))
        try:
            [reply] = await app.router.handle_text("/chart NVDA 5d", chat=ChatRef("console", "c"), user=ALICE)
        finally:
            await app.close()
    assert reply.title == "NVDA · 5 days", reply.text
    assert reply.image is not None and reply.image.data[:4] == b"\x89PNG"


async def test_the_console_saves_the_chart_image(chat: Harness, tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    from bot.adapters.console import ConsoleAdapter

    out = StringIO()
    console = ConsoleAdapter(chat.app.router, describer=chat.app.describer(), output=Console(file=out, width=300), prompt=False,
                             charts_dir=tmp_path / "charts")
    [reply] = await console.run_line("/chart NVDA 1y")
    saved = tmp_path / "charts" / "NVDA-1y-2025-01-27.png"
    assert reply.title == "NVDA · 1 year" and saved.read_bytes()[:4] == b"\x89PNG"
    assert str(saved) in out.getvalue().replace("\n", "")
