"""/price with several tickers: one line each, under one deadline, honest when data is down."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.market import MarketDataError
from tests.conftest import DEMO_DATA, Harness, ny

SESSION = date(2025, 1, 24)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(SESSION, 17))


async def test_several_tickers_get_one_line_each_in_the_order_asked(chat: Harness) -> None:
    reply = await chat.say("/price NVDA avgo TSM nvda")
    lines = reply.splitlines()
    assert lines[0] == "Prices of 3 tickers"
    assert [line.split()[0] for line in lines[1:4]] == ["NVDA", "AVGO", "TSM"]
    assert lines[1] == "NVDA $142.60, −1.74% (close of 2025-01-24)"
    assert lines[-1].startswith("Prices as of 2025-01-24 17:00 ET")


async def test_an_unknown_ticker_among_known_ones_is_said_on_its_line(chat: Harness) -> None:
    reply = await chat.say("/price NVDA XYZZ")
    assert "XYZZ: unknown ticker (the market data has no price for it)" in reply
    assert "NVDA $142.60" in reply


async def test_while_data_is_down_the_last_known_prices_are_shown_with_their_age(chat: Harness) -> None:
    await chat.say("/price NVDA")  # remembered as the last known

    async def down(*_: object) -> dict:
        raise MarketDataError("cannot reach Yahoo Finance: DNS lookup failed")

    chat.app.context.market.quotes = down  # type: ignore[method-assign]
    reply = await chat.say("/price NVDA AVGO")
    assert "NVDA $142.60, −1.74% (close of 2025-01-24) (last known, 60 min 0 s old)" in reply
    assert "AVGO: no price right now" in reply
    assert "Market data is unavailable: cannot reach Yahoo Finance: DNS lookup failed" in reply
    nothing = await chat.say("/price AVGO TSM")
    assert "Market data is unavailable" in nothing and "Prices of" not in nothing
