"""Interactive commands answer in time even when the data provider hangs: with the last known
quote and its age, or a plain "unavailable" with the reason. And no check starts while the
database refuses writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from bot.core.feature import DailyJob
from bot.core.market import Quote
from bot.features.primer import PrimerFeature
from jobs.scheduler import MarketTimer
from tests.conftest import ANALYST, DEMO_DATA, ny

SESSION = date(2025, 1, 27)
LIMIT = 0.3  # the answer_within_seconds these tests give the bot (5 s by default)


class Hanging:
    """The harness's CSV market, except that the calls named in `hung` never return."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.hung: set[str] = set()

    async def _maybe_hang(self, name: str) -> None:
        if name in self.hung:
            await asyncio.Event().wait()

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        await self._maybe_hang("quotes")
        return await self.inner.quotes(tickers)  # type: ignore[attr-defined,no-any-return]

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)

        async def call(*args: object, **kwargs: object) -> object:
            await self._maybe_hang(name)
            return await method(*args, **kwargs)

        return call if name in ("history", "fundamentals", "earnings", "splits") else method


async def bot_with_hanging_market(make_harness, start):  # type: ignore[no-untyped-def]
    desk = await make_harness(DEMO_DATA, start)
    market = Hanging(desk.app.context.market)
    desk.app.context.market = market
    desk.app.context.settings = replace(desk.app.context.settings, answer_within_seconds=LIMIT)
    return desk, market


async def timed(coroutine):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    began = loop.time()
    result = await coroutine
    return result, loop.time() - began


async def test_price_with_a_hung_provider_and_no_earlier_quote_says_why_in_time(make_harness) -> None:
    desk, market = await bot_with_hanging_market(make_harness, ny(SESSION, 10, 0))
    market.hung.add("quotes")
    reply, seconds = await timed(desk.say("/price NVDA"))
    assert reply == f"Market data is unavailable: the market data provider did not answer within {LIMIT:g} s. Try again in a minute."
    assert seconds < LIMIT + 0.5


async def test_price_with_a_hung_provider_shows_the_last_known_quote_and_its_age(make_harness) -> None:
    desk, market = await bot_with_hanging_market(make_harness, ny(SESSION, 9, 31))
    await desk.say("/alert NVDA below 100", user=ANALYST)
    await desk.at(ny(SESSION, 9, 32))  # the price check sees NVDA: the last known quote
    desk.clock.set(ny(SESSION, 9, 36, ))
    market.hung.add("quotes")
    reply, seconds = await timed(desk.say("/price NVDA"))
    assert seconds < LIMIT + 0.5
    assert reply.startswith("NVDA $")
    assert f"That is the last known price, 4 min 0 s old: the market data provider did not answer within {LIMIT:g} s." in reply
    assert "Price as of 2025-01-27 09:32 ET" in reply


async def test_a_primer_whose_figures_hang_comes_in_time_with_what_there_is(make_harness) -> None:
    desk, market = await bot_with_hanging_market(make_harness, ny(SESSION, 17, 0))
    await desk.app.add_feature(PrimerFeature(desk.app.context))
    market.hung.update({"history", "fundamentals", "earnings"})
    reply, seconds = await timed(desk.say("/primer NVDA"))
    assert seconds < LIMIT + 2.0  # the chart is drawn after the data, off the loop
    assert "NVDA · NVIDIA" in reply
    assert "Market cap: unavailable" in reply
    assert "Next earnings: unavailable right now." in reply


async def test_no_check_or_daily_job_starts_while_storage_refuses_writes(calendar, caplog) -> None:
    from bot.core.clock import ReplayClock

    checks: list[str] = []
    jobs: list[date] = []
    refusing = [True]

    async def check() -> None:
        checks.append("check")

    async def job(day: date) -> None:
        jobs.append(day)

    timer = MarketTimer(clock=ReplayClock(ny(SESSION, 10, 0)), calendar=calendar, check=check,
                        daily_jobs=[DailyJob(ny(SESSION, 8, 0).timetz().replace(tzinfo=None), job, "a job")], paused=lambda: refusing[0])
    with caplog.at_level(logging.WARNING):
        assert await timer.tick() == "paused"
        assert await timer.tick() == "paused"
        refusing[0] = False
        assert await timer.tick() == "checked"
    assert checks == ["check"] and jobs == [SESSION]
    said = [r.getMessage() for r in caplog.records if r.name == "jobs.scheduler"]
    assert said == ["price checks and daily jobs paused: storage refuses writes (deliveries are paused too)",
                    "storage accepts writes again: price checks and daily jobs resume"]
