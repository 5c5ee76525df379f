"""Baskets: an equal-weight group of tickers whose sell-off and drawdown are said once."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest

from bot.config import Config
from bot.core.feature import ListenerNews
from bot.features.baskets import equal_weight_history
from bot.replay import run_replay
from tests.conftest import ALICE, ANALYST, DEMO_DATA, ny, real_data

SEMIS = ["NVDA", "AVGO", "TSM", "ANET", "CRDO"]


def test_the_level_is_rebalanced_daily_and_its_peak_kept() -> None:
    d1, d2, d3 = date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6)
    closes = {"A": {d1: 100.0, d2: 110.0, d3: 99.0}, "B": {d1: 50.0, d2: 50.0, d3: 45.0}, "C": {d2: 1.0}}
    history = equal_weight_history({"A": closes["A"], "B": closes["B"]})
    assert history is not None
    # day 2: mean(+10 %, 0 %) = +5 % -> 105; day 3: mean(-10 %, -10 %) = -10 % -> 94.5
    assert history.day == d3 and history.level == pytest.approx(94.5) and history.peak == pytest.approx(105.0)
    assert equal_weight_history(closes) is None  # C traded one common day only: no history


async def test_the_deepseek_day_is_one_basket_message_listing_the_members() -> None:
    data = real_data()
    out = io.StringIO()
    script = ["/setbasket ai-semis " + " ".join(SEMIS), "/watchbasket ai-semis"]
    await run_replay(Config(), data_dir=data, start=date(2025, 1, 21), end=date(2025, 1, 31), script=script, jsonl=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    selloffs = [r for r in records if r["kind"] == "basket_selloff"]
    assert [r["at"][:10] for r in selloffs] == ["2025-01-27"]  # once, not once per check or per member
    [selloff] = selloffs
    assert selloff["ticker"] == "ai-semis"
    assert [ticker for ticker, _ in selloff["members"]] == SEMIS
    assert "NVDA −12.49%" in selloff["text"]  # each member's move, at the open
    drawdowns = [r for r in records if r["kind"] == "basket_drawdown"]
    assert len(drawdowns) == 1 and drawdowns[0]["change_pct"] == pytest.approx(-20.19, abs=0.01)  # mean of the five closes
    assert drawdowns[0]["drawdown_pct"] >= 20


async def test_a_member_without_a_fresh_quote_means_no_basket_alert(make_harness, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for ticker in ("NVDA", "CRDO"):
        lines = (DEMO_DATA / f"{ticker}.csv").read_text().splitlines()
        keep = lines if ticker == "NVDA" else [line for line in lines if line.startswith("Date") or line[:10] <= "2025-01-24"]
        (data / f"{ticker}.csv").write_text("\n".join(keep) + "\n")
    desk = await make_harness(data, ny(date(2025, 1, 24), 17), features=None)
    await desk.say("/setbasket pair NVDA CRDO", user=ANALYST)
    await desk.say("/watchbasket pair")
    await desk.at(ny(date(2025, 1, 24), 17, 30))
    assert [a for _, a in await desk.at(ny(date(2025, 1, 27), 16, 5)) if a.kind.value.startswith("basket")] == []


async def test_basket_commands(make_harness) -> None:
    desk = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17), features=None)
    assert "No baskets yet." in await desk.say("/basket")
    assert "/setbasket is for the bot's admins" in await desk.say("/setbasket x NVDA AVGO", user=ALICE)
    assert "Basket ai-semis made: NVDA AVGO TSM" in await desk.say("/setbasket AI-Semis nvda avgo tsm nvda", user=ANALYST)
    assert "Basket ai-semis changed: NVDA AVGO" in await desk.say("/setbasket ai-semis NVDA AVGO", user=ANALYST)
    assert "This chat now follows the basket ai-semis." in await desk.say("/watchbasket ai-semis")
    shown = await desk.say("/basket ai-semis")
    assert "Equal-weight move today: " in shown and "NVDA −1.74%" in shown
    assert "ai-semis: NVDA AVGO · followed here" in await desk.say("/basket")
    assert "no longer follows the basket ai-semis" in await desk.say("/unwatchbasket ai-semis")
    assert "Basket ai-semis removed" in await desk.say("/clearbasket ai-semis", user=ANALYST)
    assert "No baskets yet." in await desk.say("/basket")


async def test_a_basket_drawdown_is_said_once_per_peak_over_months() -> None:
    data = real_data()
    out = io.StringIO()
    script = ["/setbasket ai-semis " + " ".join(SEMIS), "/watchbasket ai-semis"]
    await run_replay(Config(), data_dir=data, start=date(2025, 1, 27), end=date(2025, 5, 15), script=script, jsonl=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["at"][:10] for r in records if r["kind"] == "basket_drawdown"] == ["2025-01-27"]
    selloff_days = [r["at"][:10] for r in records if r["kind"] == "basket_selloff"]
    assert len(selloff_days) == len(set(selloff_days))  # at most once a session


async def test_a_basket_drawdown_is_told_again_from_a_later_peak(make_harness) -> None:
    from bot.features.baskets import BasketsFeature, Reading

    desk = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17), features=None)
    await desk.say("/setbasket pair NVDA AVGO", user=ANALYST)
    await desk.say("/watchbasket pair")
    [baskets] = [f.desk for f in desk.app.features if isinstance(f, BasketsFeature)]
    now = desk.clock.now()

    async def tell(reading: Reading, session: date) -> int:
        news = ListenerNews()
        await baskets._tell("pair", reading, session, now, news)
        await desk.app.rules.record_check([], news.envelopes, now=now, baskets=news.baskets)  # as the price check records it
        return len(news.envelopes)

    first = Reading(-3.0, 75.0, 100.0, date(2025, 1, 6), (("NVDA", -3.0), ("AVGO", -3.0)))
    assert await tell(first, date(2025, 1, 27)) == 1
    assert await tell(first, date(2025, 1, 28)) == 0  # same peak: once
    later = Reading(-3.0, 85.0, 110.0, date(2025, 2, 10), (("NVDA", -3.0), ("AVGO", -3.0)))
    assert await tell(later, date(2025, 3, 3)) == 1  # a later peak, 22.7 % below it


async def test_a_basket_that_only_falls_is_told_its_drawdown_once(make_harness, tmp_path) -> None:
    from bot.market.calendar import MarketCalendar

    days = MarketCalendar().sessions(date(2024, 1, 2), date(2025, 1, 31))
    data = tmp_path / "falling"
    data.mkdir()
    for ticker in ("AAA", "BBB"):
        rows = ["Date,Open,High,Low,Close"]
        price = 100.0
        for session in days:
            rows.append(f"{session.day},{price:.4f},{price:.4f},{price:.4f},{price * 0.9985:.4f}")
            price *= 0.9985  # 0.15 % lower every day: the window's first day is always its "peak"
        (data / f"{ticker}.csv").write_text("\n".join(rows) + "\n")
    desk = await make_harness(data, ny(date(2025, 1, 10), 17), features=None)
    await desk.say("/setbasket falling AAA BBB", user=ANALYST)
    await desk.say("/watchbasket falling")
    told = []
    for session in [s.day for s in days if s.day >= date(2025, 1, 13)]:
        told += [a for _, a in await desk.at(ny(session, 16, 5)) if a.kind.value == "basket_drawdown"]
    assert len(told) == 1
