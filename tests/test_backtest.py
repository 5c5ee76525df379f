"""Before you save it: how often an alert would have fired over three years of daily bars, by the
reference engine on a private instance, checked against figures computed here from the price file."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.cli import build_parser
from bot.config import Config
from bot.core.backtest import LOOKBACK_DAYS, backtest
from bot.core.market import Bar
from bot.core.models import Direction, Rule, RuleKind, RuleSource
from tests.conftest import ALICE, Harness, ny, real_data

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2025, 1, 27)


def bars_of(ticker: str) -> list[Bar]:
    with (real_data() / f"{ticker}.csv").open(newline="") as handle:
        return [Bar(date.fromisoformat(r["Date"]), float(r["Open"]), float(r["High"]), float(r["Low"]), float(r["Close"]), float(r["Volume"]))
                for r in csv.DictReader(handle)]


def test_a_move_up_alert_fires_on_each_day_whose_high_reached_the_move() -> None:
    bars = bars_of("NVDA")
    start = date(2024, 1, 2)
    window = [b for b in bars if b.day >= start]
    rule = Rule(0, "NVDA", RuleKind.MOVE, 6.0, RuleSource.MEMBER, direction=Direction.UP)
    result = backtest(rule, bars, start=start, zone=NEW_YORK, rearm_band_pct=1.0)
    previous = {b.day: p.close for p, b in pairwise(bars)}
    expected = [b.day for b in window if b.high / previous[b.day] - 1 >= 0.06 and not (b.day == start and b.open / previous[b.day] - 1 >= 0.06)]
    assert list(result.fired) == expected and len(expected) >= 5
    assert result.first_day == start


def test_a_price_alert_fires_on_crossings_and_rearms_past_the_band() -> None:
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(6)]
    flat = lambda d, o, h, low, c: Bar(d, o, h, low, c)  # noqa: E731
    bars = [
        flat(days[0], 130, 131, 129, 130),
        flat(days[1], 130, 130, 118, 119),  # crosses below 120: fires
        flat(days[2], 119, 120.5, 117, 120.2),  # back above 120 but not past the 1 % band: stays fired
        flat(days[3], 120, 120.4, 115, 116),  # no new firing
        flat(days[4], 116, 125, 116, 124),  # past 121.20: re-armed
        flat(days[5], 124, 124, 110, 111),  # crosses again: fires
    ]
    rule = Rule(0, "TEST", RuleKind.BELOW, 120.0, RuleSource.MEMBER)
    result = backtest(rule, bars, start=days[0], zone=NEW_YORK, rearm_band_pct=1.0)
    assert result.fired == (days[1], days[5])
    assert "would have fired 2 times since 2024-03: 2024-03-02, 2024-03-06." in result.sentence(since=days[0])


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(real_data(), ny(MONDAY, 17))


async def test_the_alert_reply_and_preview_say_how_often_it_would_have_fired(chat: Harness) -> None:
    bars = bars_of("NVDA")
    start = MONDAY - timedelta(days=LOOKBACK_DAYS)
    rule = Rule(0, "NVDA", RuleKind.MOVE, 8.0, RuleSource.MEMBER)
    expected = backtest(rule, [b for b in bars if b.day < MONDAY], start=start, zone=NEW_YORK, rearm_band_pct=1.0)
    preview = await chat.say("/alert NVDA move 8 preview")
    assert preview.startswith("Preview, not saved: NVDA moves 8% in a day")
    dates = ", ".join(d.isoformat() for d in expected.fired)
    assert f"Over the daily bars the data provider has it would have fired {len(expected.fired)} times since 2023-06-12: {dates}." in preview
    assert "2024-08-05" in dates  # the sell-off of 2024-08-05 (NVDA's low 15 % under the previous close)
    assert await chat.app.storage.rules.all() == []  # nothing saved
    saved = await chat.say("/alert NVDA move 8")
    assert "Alert #1 set" in saved and f"would have fired {len(expected.fired)} times" in saved
    assert "Ticker" not in await chat.say("/alert NVDA below 100 preview", user=ALICE)


async def test_with_look_back_off_the_reply_skips_it_and_preview_still_says_it(make_harness) -> None:
    config = Config()
    chat = await make_harness(real_data(), ny(MONDAY, 17), config=replace(config, alerts=replace(config.alerts, look_back=False)))
    saved = await chat.say("/alert NVDA move 8")
    assert "Alert #1 set" in saved and "would have fired" not in saved and "would not have fired" not in saved
    assert "would have fired" in await chat.say("/alert NVDA move 9 preview")


def test_replay_has_a_no_look_back_flag() -> None:
    args = build_parser().parse_args(["replay", "--data", "d", "--from", "2025-01-21", "--to", "2025-01-31", "--no-look-back"])
    assert args.no_look_back is True
    assert build_parser().parse_args(["replay", "--data", "d", "--from", "2025-01-21", "--to", "2025-01-31"]).no_look_back is False
