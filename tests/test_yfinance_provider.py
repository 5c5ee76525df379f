"""The yfinance provider, through the real yfinance library, against a local fake Yahoo.

Nothing here reaches the network: yfinance is given a requests.Session that sends every
Yahoo URL to tests/fakes/yahoo.py on 127.0.0.1, which serves tests/fixtures/yahoo/.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import stamina

from bot.core.clock import ReplayClock
from bot.core.market import (
    EarningsEvent,
    EarningsTime,
    MarketData,
    MarketDataError,
    RateLimited,
    Split,
)
from bot.market.calendar import MarketCalendar
from bot.market.yfinance_provider import DaemonThreads, YFinanceMarket, _translate
from tests.fakes.yahoo import CRUMB, FakeYahoo, count_cycle_requests

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

UTC = UTC
MONDAY_AFTER_CLOSE = datetime(2025, 1, 27, 21, 30, tzinfo=UTC)  # 16:30 New York, 2025-01-27
JUNE_13_PREMARKET = datetime(2024, 6, 13, 12, 0, tzinfo=UTC)  # 08:00 New York


@pytest.fixture(scope="module")
def calendar() -> MarketCalendar:
    return MarketCalendar()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # yfinance is imported here, not on the provider's first call: the import (about a
    # second) would otherwise eat into the small timeouts the tests set.
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()  # yfinance keeps responses per process
    with stamina.set_testing(True, attempts=3, cap=True):  # retries without waiting
        yield


@pytest.fixture
async def fake():
    async with FakeYahoo() as server:
        yield server


@pytest.fixture
async def make_market(fake: FakeYahoo, calendar: MarketCalendar, tmp_path: Path):
    made: list[YFinanceMarket] = []

    def make(clock: ReplayClock | None = None, **options) -> YFinanceMarket:
        options.setdefault("timeout", 10.0)
        market = YFinanceMarket(
            clock=clock or ReplayClock(MONDAY_AFTER_CLOSE),
            calendar=calendar,
            session=fake.session(),
            cache_dir=tmp_path / "yfinance-cache",
            **options,
        )
        made.append(market)
        return market

    yield make
    for market in made:
        await market.aclose()


# -- quotes --------------------------------------------------------------------------


async def test_a_batch_of_quotes_is_parsed_from_one_request(fake, make_market):
    market = make_market()
    assert isinstance(market, MarketData)

    got = await market.quotes(["NVDA", "MSFT", "AVGO"])

    assert set(got) == {"NVDA", "MSFT", "AVGO"}
    nvda = got["NVDA"]
    assert nvda.price == 118.42
    assert nvda.prev_close == 142.62
    assert nvda.change_pct == pytest.approx(-16.968, abs=1e-3)
    assert nvda.session == date(2025, 1, 27)
    assert nvda.at == datetime(2025, 1, 27, 21, 0, tzinfo=UTC)
    assert (nvda.day_open, nvda.day_high, nvda.day_low) == (124.8, 128.4, 116.7)
    assert nvda.final is True
    assert got["MSFT"].price == 434.56 and got["MSFT"].prev_close == 444.06
    # AVGO's last price is Friday's close: stamped with Friday's session, not dropped
    assert got["AVGO"].session == date(2025, 1, 24)
    assert got["AVGO"].price == 244.7 and got["AVGO"].final is True

    quote_requests = [seen for seen in fake.requests if seen.kind == "quote"]
    assert len(quote_requests) == 1
    assert quote_requests[0].query["symbols"] == "NVDA,MSFT,AVGO"
    assert quote_requests[0].query["crumb"] == CRUMB  # went through yfinance's crumb handling


async def test_keys_follow_the_tickers_as_asked(make_market):
    got = await make_market().quotes(["nvda", "NVDA"])

    assert list(got) == ["nvda"]
    assert got["nvda"].ticker == "nvda" and got["nvda"].price == 118.42


async def test_a_quote_during_the_session_is_not_final_until_the_close_settles(fake, make_market):
    def trade(at: datetime, price: float) -> None:
        fake.quotes["NVDA"] = {
            **fake.quotes["NVDA"],
            "regularMarketPrice": price,
            "regularMarketPreviousClose": 118.42,
            "regularMarketTime": int(at.timestamp()),
            "marketState": "REGULAR",
        }

    clock = ReplayClock(datetime(2025, 1, 28, 15, 1, tzinfo=UTC))  # 10:01 New York
    market = make_market(clock)
    trade(datetime(2025, 1, 28, 15, 0, tzinfo=UTC), 121.81)

    during = (await market.quotes(["NVDA"]))["NVDA"]
    assert during.session == date(2025, 1, 28)
    assert during.final is False
    assert during.change_pct == pytest.approx(2.8627, abs=1e-3)

    # last trade one second before the close; five minutes after it, not yet the close
    trade(datetime(2025, 1, 28, 20, 59, 59, tzinfo=UTC), 128.99)
    clock.set(datetime(2025, 1, 28, 21, 5, tzinfo=UTC))
    assert (await market.quotes(["NVDA"]))["NVDA"].final is False
    clock.set(datetime(2025, 1, 28, 21, 16, tzinfo=UTC))
    assert (await market.quotes(["NVDA"]))["NVDA"].final is True


async def test_missing_nan_and_zero_prices_are_absent(make_market):
    got = await make_market().quotes(["NVDA", "NOPX", "NULLPX", "NANPX", "ZEROPX", "NOTIME", "NOPREV"])

    assert set(got) == {"NVDA", "NOPREV"}
    # a price without a previous close is still a price; the change is unknown, not 0
    assert got["NOPREV"].price == 21.5
    assert got["NOPREV"].prev_close is None and got["NOPREV"].change_pct is None


async def test_an_unknown_ticker_is_absent_not_a_crash(fake, make_market):
    market = make_market()

    got = await market.quotes(["ZZZZQ", "NVDA"])

    assert list(got) == ["NVDA"]
    assert await market.history("ZZZZQ", date(2024, 6, 3), date(2024, 6, 7)) == []
    assert await market.splits("ZZZZQ") == []
    assert await market.earnings("ZZZZQ") == []
    assert await market.fundamentals("ZZZZQ") is None
    assert fake.count("chart") > 0 and fake.count("quoteSummary") > 0  # Yahoo did say 404


@pytest.mark.parametrize(
    ("endpoint", "damage"),
    [
        ("quote", "garbage"),
        ("quote", "wrong_shape"),
        ("chart", "garbage"),
        ("chart", "wrong_shape"),
        ("quoteSummary", "garbage"),
    ],
)
async def test_garbage_from_yahoo_is_a_market_data_error(fake, make_market, endpoint, damage):
    getattr(fake, damage).add(endpoint)
    market = make_market()
    call = {
        "quote": lambda: market.quotes(["NVDA", "MSFT"]),
        "chart": lambda: market.history("NVDA", date(2024, 6, 5), date(2024, 6, 7)),
        "quoteSummary": lambda: market.fundamentals("NVDA"),
    }[endpoint]

    with pytest.raises(MarketDataError) as caught:
        await call()
    assert str(caught.value) == "Yahoo Finance sent an answer we could not read"
    assert caught.value.reason == str(caught.value)


async def test_a_summary_of_the_wrong_shape_gives_no_figures(fake, make_market):
    fake.wrong_shape.add("quoteSummary")

    nvda = await make_market().fundamentals("NVDA")

    # the name and currency still come from the (intact) quote endpoint; no figure is made up
    assert nvda is not None and nvda.name == "NVIDIA Corporation"
    assert (nvda.market_cap, nvda.trailing_pe, nvda.forward_pe, nvda.trailing_eps, nvda.gross_margin) == (None,) * 5


async def test_a_failed_batch_leaves_the_others(fake, make_market):
    market = make_market(batch_size=2)
    fake.fail_next["quote"] = (2, 400)  # yfinance tries twice; the first batch fails

    got = await market.quotes(["NVDA", "MSFT", "AVGO"])

    assert set(got) == {"AVGO"}
    assert fake.count("quote") == 3


# -- hanging, retries, rate limits --------------------------------------------------


@pytest.mark.parametrize("endpoint", ["quote", "chart"])
async def test_a_hanging_yahoo_is_abandoned_after_the_timeout_and_the_loop_stays_free(
    fake, make_market, endpoint
):
    fake.hang.add(endpoint)
    market = make_market(timeout=0.5)
    loop = asyncio.get_running_loop()

    async def bystander() -> float:
        # the fake server runs on this very loop: it can only take the request, and this
        # coroutine can only run, if the provider is not blocking the loop
        await fake.hung.wait()
        return loop.time()

    side = asyncio.create_task(bystander())
    call = market.quotes(["NVDA"]) if endpoint == "quote" else market.history("NVDA", date(2024, 6, 5), date(2024, 6, 7))
    started = loop.time()
    with pytest.raises(MarketDataError) as caught:
        await call
    failed_at = loop.time()

    assert type(caught.value) is MarketDataError
    assert caught.value.reason == "cannot reach Yahoo Finance: no answer within 0.5 s"
    assert 0.45 <= failed_at - started < 3.0
    assert side.done() and side.result() < failed_at
    # closing does not wait for the thread still stuck on the request
    await market.aclose()
    assert loop.time() - failed_at < 0.5
    with pytest.raises(MarketDataError, match="closed"):
        await market.quotes(["NVDA"])


async def test_transient_errors_are_retried(fake, make_market):
    fake.fail_next["quote"] = (2, 503)  # one whole attempt (yfinance re-asks once itself)

    got = await make_market(retries=2).quotes(["NVDA"])

    assert got["NVDA"].price == 118.42
    assert fake.count("quote") == 3


async def test_without_retries_a_transient_error_is_a_market_data_error(fake, make_market):
    fake.fail_next["quote"] = (2, 503)

    with pytest.raises(MarketDataError) as caught:
        await make_market(retries=0).quotes(["NVDA"])
    assert caught.value.reason == "Yahoo Finance answered HTTP 503"
    assert fake.count("quote") == 2


async def test_a_429_backs_off_and_refuses_calls_until_the_back_off_ends(fake, make_market):
    clock = ReplayClock(MONDAY_AFTER_CLOSE)
    market = make_market(clock, rate_limit_backoff=60.0)
    fake.rate_limited = True

    with pytest.raises(RateLimited) as first:
        await market.quotes(["NVDA"])
    assert first.value.retry_after == 60.0
    assert first.value.reason == "Yahoo Finance is rate-limiting us; retrying in 1 min"

    fake.rate_limited = False
    asked = fake.count()
    clock.set(MONDAY_AFTER_CLOSE + timedelta(seconds=30))
    with pytest.raises(RateLimited) as refused:
        await market.quotes(["NVDA"])
    assert refused.value.retry_after == pytest.approx(30.0)
    assert str(refused.value) == "Yahoo Finance is rate-limiting us; retrying in 30 s"
    with pytest.raises(RateLimited):
        await market.history("NVDA", date(2024, 6, 5), date(2024, 6, 7))
    with pytest.raises(RateLimited):
        await market.earnings("NVDA")
    assert fake.count() == asked  # refused without a single request

    # a second 429 right after the back-off doubles it
    fake.rate_limited = True
    clock.set(MONDAY_AFTER_CLOSE + timedelta(seconds=61))
    with pytest.raises(RateLimited) as second:
        await market.quotes(["NVDA"])
    assert second.value.retry_after == 120.0
    assert second.value.reason == "Yahoo Finance is rate-limiting us; retrying in 2 min"

    fake.rate_limited = False
    clock.set(MONDAY_AFTER_CLOSE + timedelta(seconds=182))
    assert (await market.quotes(["NVDA"]))["NVDA"].price == 118.42


async def test_failures_log_one_warning_line_without_the_crumb(fake, make_market, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.market.yfinance_provider")
    caplog.set_level(logging.WARNING, logger="stamina")
    fake.fail_next["quote"] = (6, 503)

    with pytest.raises(MarketDataError) as caught:
        await make_market(retries=2).quotes(["NVDA"])

    ours = [r for r in caplog.records if r.name == "bot.market.yfinance_provider"]
    assert len(ours) == 1 and ours[0].levelno == logging.WARNING
    assert "\n" not in ours[0].getMessage()
    everything = " ".join(str(r.__dict__) for r in caplog.records) + str(caught.value)
    assert CRUMB not in everything


async def test_an_unreachable_yahoo_is_a_market_data_error(fake, make_market, caplog):
    market = make_market(retries=1)
    await market.quotes(["NVDA"])  # cookie and crumb in hand
    await fake.close()  # then Yahoo goes away: connection refused

    with pytest.raises(MarketDataError) as caught:
        await market.quotes(["NVDA"])

    assert type(caught.value) is MarketDataError
    assert caught.value.reason == "cannot reach Yahoo Finance: no answer within 10 s"  # refused: no answer at all
    assert CRUMB not in caplog.text + str(caught.value)


async def test_a_host_name_that_cannot_be_looked_up_says_so(fake, make_market, caplog):
    caplog.set_level(logging.WARNING, logger="bot.market.yfinance_provider")
    fake.dns_down = True  # a real lookup of an .invalid name: no resolver knows it
    market = make_market(retries=1, timeout=5.0)

    with pytest.raises(MarketDataError) as caught:
        await market.quotes(["NVDA"])
    with pytest.raises(MarketDataError) as history:
        await market.history("NVDA", date(2024, 6, 5), date(2024, 6, 7))

    assert caught.value.reason == "cannot reach Yahoo Finance: DNS lookup failed"
    assert history.value.reason == "cannot reach Yahoo Finance: DNS lookup failed"
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.market.yfinance_provider"]
    assert logged and all("cannot reach Yahoo Finance: DNS lookup failed" in line for line in logged)
    assert not any("HTTP 0" in line for line in logged)
    assert fake.count() == 0  # nothing reached the server


def _curl_error(kind: str, message: str, code: int) -> Exception:
    """A curl_cffi exception as its session raises it: with a response whose status is 0."""
    from curl_cffi.requests import exceptions

    class NoAnswer:
        status_code = 0

    return getattr(exceptions, kind)(message, code, NoAnswer())


@pytest.mark.parametrize(
    ("error", "expected", "kind"),
    [
        (requests.ConnectionError("Max retries exceeded with url: /v7/finance/quote?crumb=Fk3.yT9rQx2&symbols=NVDA"),
         "cannot reach Yahoo Finance: no answer within 20 s", "_Transient"),
        (requests.ReadTimeout("Read timed out. url: /v8/finance/chart/NVDA?crumb=Fk3.yT9rQx2"),
         "cannot reach Yahoo Finance: no answer within 20 s", "_TimedOut"),
        (requests.HTTPError("401 Client Error: Unauthorized for url: /v7/finance/quote?crumb=Fk3.yT9rQx2"),
         "Yahoo Finance answered HTTP 401", "_Problem"),
        (KeyError("currentTradingPeriod"), "Yahoo Finance sent an answer we could not read", "_Unreadable"),
        (_curl_error("DNSError", "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com", 6),
         "cannot reach Yahoo Finance: DNS lookup failed", "_Transient"),
        (_curl_error("ConnectionError", "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com port 443", 7),
         "cannot reach Yahoo Finance: no answer within 20 s", "_Transient"),
        (_curl_error("Timeout", "Failed to perform, curl: (28) Operation timed out after 21001 milliseconds", 28),
         "cannot reach Yahoo Finance: no answer within 20 s", "_TimedOut"),
    ],
)
def test_library_errors_are_translated_into_plain_reasons_without_the_crumb(error, expected, kind):
    translated = _translate(error, timeout=20.0)

    assert isinstance(translated, MarketDataError) and type(translated).__name__ == kind
    assert str(translated) == translated.reason == expected
    assert "HTTP 0" not in str(translated)
    assert CRUMB not in str(translated) + translated.detail


# -- threads: a stuck call never holds up shutdown ------------------------------------


async def test_a_call_stuck_in_its_thread_does_not_hold_up_aclose(make_market):
    market = make_market()
    started, release = threading.Event(), threading.Event()
    ran_on: list[threading.Thread] = []

    def stuck(yf: object) -> None:
        ran_on.append(threading.current_thread())
        started.set()
        release.wait(30)

    call = asyncio.create_task(market._call("a stuck call", stuck))
    try:
        for _ in range(200):
            if started.is_set():
                break
            await asyncio.sleep(0.01)
        assert started.is_set()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await market.aclose()
        assert loop.time() - began < 0.5
        assert ran_on[0].daemon  # never joined at the interpreter's exit
    finally:
        release.set()
        call.cancel()


def test_daemon_threads_run_calls_on_at_most_their_workers_and_skip_cancelled_ones():
    threads = DaemonThreads(2, "test")
    gate = threading.Event()
    names: list[str] = []

    def held(n: int) -> int:
        names.append(threading.current_thread().name)
        gate.wait(5)
        return n * 10

    first, second, queued = threads.submit(held, 1), threads.submit(held, 2), threads.submit(held, 3)
    skipped = threads.submit(held, 4)
    assert skipped.cancel()  # still queued: never runs
    failing = threads.submit(lambda: 1 / 0)
    gate.set()
    assert [f.result(5) for f in (first, second, queued)] == [10, 20, 30]
    with pytest.raises(ZeroDivisionError):
        failing.result(5)
    assert len(names) == 3 and set(names) <= {"test-0", "test-1"}
    threads.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        threads.submit(held, 5)


def test_a_stopped_process_does_not_wait_for_a_stuck_call():
    code = (
        "import threading, time\n"
        "from bot.market.yfinance_provider import DaemonThreads\n"
        "threads = DaemonThreads(2, 'stuck')\n"
        "threads.submit(threading.Event().wait)\n"  # never returns
        "time.sleep(0.1)\n"
        "threads.shutdown(wait=False, cancel_futures=True)\n"
        "print('done')\n"
    )
    began = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "done" and out.returncode == 0
    assert time.monotonic() - began < 10  # a ThreadPoolExecutor would keep it alive for good


# -- history, splits, earnings, fundamentals ----------------------------------------


async def test_history_is_in_the_share_count_of_its_end_date(fake, make_market):
    market = make_market(ReplayClock(JUNE_13_PREMARKET))

    before_split = await market.history("NVDA", date(2024, 6, 5), date(2024, 6, 7))
    after_split = await market.history("NVDA", date(2024, 6, 7), date(2024, 6, 13))

    # Yahoo serves 122.44, 120.998, 120.888 (adjusted for the 10-for-1 of 2024-06-10)
    assert [bar.day for bar in before_split] == [date(2024, 6, 5), date(2024, 6, 6), date(2024, 6, 7)]
    assert [bar.close for bar in before_split] == pytest.approx([1224.40, 1209.98, 1208.88])
    assert before_split[-1].open == pytest.approx(1197.70)
    assert before_split[-1].volume == pytest.approx(41_238_600)
    # after the split: as served; 06-13 is Yahoo's empty pre-market bar, not a price
    assert [bar.day for bar in after_split] == [date(2024, 6, 7), date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)]
    assert [bar.close for bar in after_split] == pytest.approx([120.888, 121.79, 120.91, 125.20])
    assert after_split[1].high == pytest.approx(123.10) and after_split[1].low == pytest.approx(117.01)
    assert await market.history("NVDA", date(2024, 6, 7), date(2024, 6, 5)) == []


async def test_splits_come_from_the_splits_series(make_market):
    splits = await make_market().splits("NVDA")

    assert splits == [
        Split("NVDA", date(2000, 6, 27), 2.0),
        Split("NVDA", date(2001, 9, 10), 2.0),
        Split("NVDA", date(2006, 4, 7), 2.0),
        Split("NVDA", date(2007, 9, 11), 1.5),
        Split("NVDA", date(2021, 7, 20), 4.0),
        Split("NVDA", date(2024, 6, 10), 10.0),
    ]


async def test_earnings_times_come_from_the_hour(make_market):
    market = make_market()

    nvda = await market.earnings("NVDA")
    jpm = await market.earnings("JPM")

    amc, bmo, unknown = EarningsTime.AFTER_CLOSE, EarningsTime.BEFORE_OPEN, EarningsTime.UNKNOWN
    assert nvda == [
        EarningsEvent("NVDA", date(2024, 11, 20), amc),
        EarningsEvent("NVDA", date(2025, 2, 26), amc),  # also in the calendar, without an hour
        EarningsEvent("NVDA", date(2025, 5, 28), amc),
        EarningsEvent("NVDA", date(2025, 8, 27), unknown),  # Yahoo's "12 AM" placeholder
    ]
    assert jpm == [EarningsEvent("JPM", date(2025, 1, 15), bmo), EarningsEvent("JPM", date(2025, 4, 11), bmo)]


async def test_earnings_keep_what_one_fragile_source_found(fake, make_market):
    market = make_market()

    # AVGO: the earnings page has no table (yfinance returns None); the calendar has a date
    assert await market.earnings("AVGO") == [EarningsEvent("AVGO", date(2025, 3, 6), EarningsTime.UNKNOWN)]

    # NVDA with a broken calendar reply: the page alone
    fake.garbage.add("quoteSummary")
    nvda = await market.earnings("NVDA")
    assert [event.day for event in nvda] == [date(2024, 11, 20), date(2025, 2, 26), date(2025, 5, 28), date(2025, 8, 27)]


async def test_fundamentals_are_read_from_info(make_market):
    market = make_market()

    nvda = await market.fundamentals("NVDA")

    assert nvda is not None
    assert nvda.name == "NVIDIA Corporation"
    assert nvda.market_cap == 2_900_165_000_000
    assert (nvda.trailing_pe, nvda.forward_pe) == (46.81, 26.32)
    assert (nvda.trailing_eps, nvda.forward_eps) == (2.53, 4.5)
    assert nvda.gross_margin == 0.75975
    assert nvda.currency == "USD"


async def test_missing_and_infinite_fundamentals_are_none(make_market):
    smh = await make_market().fundamentals("SMH")  # an ETF; Yahoo sends trailingPE "Infinity"

    assert smh is not None
    assert smh.name == "VanEck Semiconductor ETF" and smh.currency == "USD"
    assert smh.trailing_pe is None
    assert (smh.market_cap, smh.forward_pe, smh.trailing_eps, smh.forward_eps, smh.gross_margin) == (None,) * 5


# -- requests per cycle ---------------------------------------------------------------


async def test_quotes_for_many_tickers_take_one_request_per_batch(fake, make_market):
    market = make_market(batch_size=100)
    await market.quotes(["NVDA"])  # Yahoo's cookie and crumb, once per process
    before = fake.count()

    got = await market.quotes([f"SYN{i:04d}" for i in range(250)])

    assert len(got) == 250
    assert fake.count() - before == 3
    assert [len(seen.query["symbols"].split(",")) for seen in fake.requests[before:]] == [100, 100, 50]


async def test_a_cycle_of_500_tickers_makes_5_requests():
    assert await count_cycle_requests(500) == 5
    assert await count_cycle_requests(500, batch_size=250) == 2


def test_importing_the_provider_does_not_import_yfinance():
    code = "import sys, bot.market.yfinance_provider; print('yfinance' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"



async def test_intraday_bars_come_from_the_chart_endpoint_with_aware_times(fake, make_market):
    """/chart 1d|5d asks for intraday bars (the fake serves its recorded bars whatever the interval)."""
    market = make_market()
    rows = await market.intraday("NVDA", 5)
    assert rows, "the chart endpoint's bars"
    start, opened, high, low, close, volume = rows[-1]
    assert start.tzinfo is not None and low <= min(opened, close) <= max(opened, close) <= high and volume >= 0
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert await market.intraday("NOPE", 1) == []
