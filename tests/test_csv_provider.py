"""The CSV provider: what a feed would have shown at a moment, raw or split-adjusted files, bad rows,
and a price file that hangs."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from bot.core.clock import ReplayClock
from bot.core.market import MarketDataError
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.conftest import ALICE, CHAT, DEMO_DATA, REAL_DATA, ny, real_data


def market_at(folder: Path, moment, calendar: MarketCalendar) -> tuple[CsvMarket, ReplayClock]:
    clock = ReplayClock(moment)
    return CsvMarket(folder, clock=clock, calendar=calendar), clock


async def test_open_during_the_session_close_after_it(calendar: MarketCalendar) -> None:
    market, clock = market_at(real_data(), ny(date(2025, 1, 27), 10), calendar)
    during = (await market.quotes(["NVDA"]))["NVDA"]
    assert not during.final and during.session == date(2025, 1, 27)
    clock.set(ny(date(2025, 1, 27), 16, 5))
    after = (await market.quotes(["NVDA"]))["NVDA"]
    assert after.final and round(after.price, 2) == 118.42 and round(after.prev_close, 2) == 142.62
    assert after.change_pct == pytest.approx(-16.97, abs=0.01)


async def test_on_a_holiday_the_quote_belongs_to_the_session_before(calendar: MarketCalendar) -> None:
    market, _ = market_at(real_data(), ny(date(2025, 1, 9), 12), calendar)
    quote = (await market.quotes(["NVDA"]))["NVDA"]
    assert quote.session == date(2025, 1, 8)


async def test_unknown_tickers_are_absent(calendar: MarketCalendar) -> None:
    market, _ = market_at(real_data(), ny(date(2025, 1, 27), 17), calendar)
    assert set(await market.quotes(["NVDA", "XYZZ"])) == {"NVDA"}


@pytest.mark.parametrize("folder", ["raw", "adjusted"])
async def test_raw_and_adjusted_files_give_the_same_as_traded_prices(folder: str, calendar: MarketCalendar) -> None:
    data = REAL_DATA / "nvda-split-2024" / folder
    if not (data / "NVDA.csv").is_file():
        pytest.skip(f"NVDA split data not found at {data}")
    market, clock = market_at(data, ny(date(2024, 6, 7), 17), calendar)
    before = (await market.quotes(["NVDA"]))["NVDA"]
    assert round(before.price, 2) == 1208.88
    clock.set(ny(date(2024, 6, 10), 17))
    after = (await market.quotes(["NVDA"]))["NVDA"]
    assert round(after.price, 2) == 121.79
    assert after.change_pct == pytest.approx(0.75, abs=0.01)  # scaled previous close: a normal day
    history = await market.history("NVDA", date(2024, 6, 5), date(2024, 6, 10))
    assert [round(b.close, 2) for b in history] == [122.44, 121.0, 120.89, 121.79]  # scaled to the end date
    assert [s.ratio for s in await market.splits("NVDA")] == [10.0]


async def test_garbage_rows_are_skipped_not_trusted(tmp_path: Path, calendar: MarketCalendar) -> None:
    (tmp_path / "ZZZ.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2025-01-22,10,11,9,10,100\n"
        "2025-01-23,nan,11,9,NaN,100\n"
        "garbage,row\n"
        "2025-01-24,-5,11,9,-5,100\n"
    )
    market, _ = market_at(tmp_path, ny(date(2025, 1, 24), 17), calendar)
    quote = (await market.quotes(["ZZZ"]))["ZZZ"]
    assert quote.session == date(2025, 1, 22) and quote.price == 10.0  # the last sane bar, stamped with its own date


async def test_a_file_without_price_columns_is_no_data(tmp_path: Path, calendar: MarketCalendar) -> None:
    (tmp_path / "BAD.csv").write_text("when,what\n2025-01-24,hello\n")
    market, _ = market_at(tmp_path, ny(date(2025, 1, 24), 17), calendar)
    assert await market.quotes(["BAD"]) == {}


async def test_the_long_lower_case_layout_reads_too(calendar: MarketCalendar) -> None:
    data = REAL_DATA / "long"
    if not (data / "NVDA.csv").is_file():
        pytest.skip(f"long histories not found at {data}")
    market, _ = market_at(data, ny(date(2025, 1, 27), 17), calendar)
    assert round((await market.quotes(["NVDA"]))["NVDA"].price, 2) == 118.42


async def test_a_price_file_that_cannot_be_read_is_an_outage_with_its_reason(tmp_path: Path, calendar: MarketCalendar) -> None:
    (tmp_path / "NVDA.csv").write_bytes(b"Date,Open,High,Low,Close\n2025-01-24,\xff\xfe,1,1,1\n")
    (tmp_path / "AVGO.csv").mkdir()  # a folder where the file should be: an OSError on open
    (tmp_path / "MSFT.csv").write_text("Date,Open,High,Low,Close\n2025-01-24,10,11,9,10\n")
    market, _ = market_at(tmp_path, ny(date(2025, 1, 24), 17), calendar)

    with pytest.raises(MarketDataError) as caught:
        await market.quotes(["NVDA"])
    assert caught.value.reason == "the price file NVDA.csv cannot be read: it is not UTF-8 text"
    with pytest.raises(MarketDataError, match=r"^the price file AVGO.csv cannot be read: is a directory$"):
        await market.history("AVGO", date(2025, 1, 1), date(2025, 1, 24))
    # in a batch, the files that read are served and the unreadable one is absent
    assert set(await market.quotes(["NVDA", "MSFT"])) == {"MSFT"}
    # not remembered as "no data": once the file is fixed, it is read
    (tmp_path / "NVDA.csv").write_text("Date,Open,High,Low,Close\n2025-01-24,10,11,9,10\n")
    assert (await market.quotes(["NVDA"]))["NVDA"].price == 10.0


# -- a price file that hangs ----------------------------------------------------------------------
# A FIFO that nobody writes stands in for a file on a hung network file system: opening it blocks.


@pytest.fixture
def hung_folder(tmp_path: Path) -> Iterator[Path]:
    """AVGO.csv from the demo data, and NVDA.csv a FIFO nobody writes (unblocked at teardown)."""
    shutil.copy(DEMO_DATA / "AVGO.csv", tmp_path / "AVGO.csv")
    os.mkfifo(tmp_path / "NVDA.csv")
    yield tmp_path
    release(tmp_path / "NVDA.csv", b"")


def release(fifo: Path, content: bytes) -> bool:
    """Write `content` to a FIFO whose reader is blocked opening it, then close: that read ends. False if nobody reads it."""
    try:
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader waiting
        return False
    try:
        os.write(writer, content)
    finally:
        os.close(writer)
    return True


def csv_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tickerbell-csv")]


async def test_a_hung_price_file_costs_its_ticker_alone_and_one_timeout(hung_folder: Path, calendar: MarketCalendar) -> None:
    clock = ReplayClock(ny(date(2025, 1, 27), 17))
    market = CsvMarket(hung_folder, clock=clock, calendar=calendar, timeout=1)
    others = set(csv_threads())
    began = time.monotonic()
    served = await market.quotes(["NVDA", "AVGO"])
    took = time.monotonic() - began
    assert set(served) == {"AVGO"} and served["AVGO"].session == date(2025, 1, 27)
    assert 0.9 < took < 1.5, f"the batch took {took:.2f} s"

    began = time.monotonic()  # the read is still stuck: later calls say so at once, without a second read
    for _ in range(5):
        with pytest.raises(MarketDataError) as caught:
            await market.quotes(["NVDA"])
        assert caught.value.reason == "the price file NVDA.csv did not answer within 1 s"
    with pytest.raises(MarketDataError, match=r"^the price file NVDA.csv did not answer within 1 s$"):
        await market.history("NVDA", date(2025, 1, 1), date(2025, 1, 27))
    assert time.monotonic() - began < 0.5
    assert len(set(csv_threads()) - others) <= 2  # one stuck on NVDA (never a second), one that read AVGO

    # once the file answers, the read that was waiting finishes and its prices are used
    assert release(hung_folder / "NVDA.csv", (DEMO_DATA / "NVDA.csv").read_bytes())
    deadline = time.monotonic() + 5
    while True:
        try:
            quote = (await market.quotes(["NVDA"]))["NVDA"]
            break
        except MarketDataError:
            assert time.monotonic() < deadline, "the NVDA read never finished"
            await asyncio.sleep(0.02)
    assert quote.session == date(2025, 1, 27) and round(quote.price, 2) == 118.36
    await market.aclose()


async def test_commands_and_the_stop_do_not_wait_for_a_hung_price_file(hung_folder: Path, tmp_path: Path, calendar: MarketCalendar) -> None:
    clock = ReplayClock(ny(date(2025, 1, 27), 17))
    market = CsvMarket(hung_folder, clock=clock, calendar=calendar, timeout=1)
    app = await App.create(Config(), clock=clock, market=market, calendar=calendar, storage_path=tmp_path / "bot.sqlite3", features=())
    closed = False
    try:
        ask = app.router.handle_text
        nvda = asyncio.create_task(ask("/price NVDA", chat=CHAT, user=ALICE))
        await asyncio.sleep(0.05)  # NVDA's read has started and hangs
        began = time.monotonic()
        [avgo] = await ask("/price AVGO", chat=CHAT, user=ALICE)
        assert time.monotonic() - began < 0.5 and avgo.title.startswith("AVGO $")
        assert not nvda.done()
        [refused] = await asyncio.wait_for(nvda, 2)
        assert refused.text.startswith("Market data is unavailable: the price file NVDA.csv did not answer within 1 s.")

        began = time.monotonic()  # the stop does not wait for the stuck read, and its thread cannot hold the process
        await app.close()
        closed = True
        assert time.monotonic() - began < 0.5
        assert csv_threads() and all(t.daemon for t in csv_threads())
    finally:
        if not closed:
            await app.close()
