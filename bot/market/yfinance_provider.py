"""Market data from Yahoo Finance through the `yfinance` library.

What each method asks Yahoo (through yfinance, never around it):

    quotes()        Yahoo's multi-symbol quote endpoint, `/v7/finance/quote?symbols=A,B,...`,
                    `batch_size` symbols a request, through yfinance's own session, cookie and
                    crumb handling (`yfinance.data.YfData.get_raw_json`). 500 tickers at the
                    default batch size of 100 are 5 requests a cycle; Yahoo's cookie and crumb
                    cost 2 more once per process. (`yf.download()` would make one chart
                    request per ticker: 500.)
    history()       `Ticker.history()`: one chart request (plus one for the exchange timezone,
                    which yfinance then caches on disk).
    splits()        `Ticker.splits`: one chart request over the whole history.
    earnings()      `Ticker.get_earnings_dates()` (scrapes Yahoo's earnings-calendar page) and
                    `Ticker.calendar` (quoteSummary `calendarEvents`).
    fundamentals()  `Ticker.info`: quoteSummary, a one-symbol quote and a timeseries request.

Every blocking call runs in a small pool of *daemon* threads of our own (`DaemonThreads`),
under `asyncio.wait_for`: a call that hangs is abandoned after `timeout` seconds (its thread is
left to finish on its own), the event loop never waits on the network, and neither `aclose()`
nor the interpreter's exit waits for a stuck call (`ThreadPoolExecutor` joins its threads at
exit, which kept a stopped bot alive for minutes). Transient failures (connection errors, HTTP
5xx) are retried with exponential back-off by `stamina`; a timeout is not retried, so a
hanging Yahoo costs one `timeout` per call rather than one per attempt. Yahoo's 429 becomes
`RateLimited`, and the provider then refuses every call (raising `RateLimited`, without a
request) until its back-off, doubled on each consecutive 429, has passed on the injected
clock.

Every error carries a `reason` in plain words (the library's own text goes to the log only):

    DNS failure                  "cannot reach Yahoo Finance: DNS lookup failed"
    refused, reset, timeout      "cannot reach Yahoo Finance: no answer within 20 s"
    HTTP 429                     "Yahoo Finance is rate-limiting us; retrying in 2 min"
    HTTP 4xx, 5xx                "Yahoo Finance answered HTTP 503"
    malformed answer             "Yahoo Finance sent an answer we could not read"

yfinance is configured process-wide on first use (it keeps one session and one crumb per
process): `yf.config.debug.hide_exceptions = False` so that it raises instead of logging
and returning empty frames, `network.retries = 0` (retries are ours), and, when `cache_dir`
is given, its timezone/cookie caches go there. A `session` passed here replaces yfinance's
session for the whole process.

`YfData` is yfinance's internal request helper, not a documented API; it is used because it
is the only way to reach the multi-symbol quote endpoint with the library's crumb handling.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import stamina

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.market import (
    Bar,
    EarningsEvent,
    EarningsTime,
    Fundamentals,
    MarketDataError,
    Quote,
    RateLimited,
    Split,
    clean_price,
    wait_words,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
_QUOTE_FIELDS = ",".join(
    (
        "symbol",
        "regularMarketPrice",
        "regularMarketTime",
        "regularMarketPreviousClose",
        "regularMarketOpen",
        "regularMarketDayHigh",
        "regularMarketDayLow",
        "marketState",
        "exchangeTimezoneName",
        "currency",
    )
)
_REGULAR_OPEN = time(9, 30)
_REGULAR_CLOSE = time(16, 0)
# A price stamped before the close becomes final this long after the close: Yahoo
# replaces the last trade with the official closing print within minutes.
_SETTLE = timedelta(minutes=15)
_TIMEOUT_NAMES = frozenset({"Timeout", "ConnectTimeout", "ReadTimeout"})
_TRANSIENT_NAMES = frozenset(
    {
        "ConnectionError",
        "ChunkedEncodingError",
        "RemoteDisconnected",
        "ProtocolError",
        "IncompleteRead",
        "DNSError",
    }
)
_DNS_NAMES = frozenset({"DNSError", "NameResolutionError", "gaierror"})
_DNS_WORDS = (
    "could not resolve host",  # curl (curl_cffi), error 6
    "failed to resolve",  # urllib3 (requests)
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "getaddrinfo failed",
)
_CRUMB = re.compile(r"(crumb=)[^&\s'\"]+", re.IGNORECASE)
_QUERY = re.compile(r"\?[^\s'\")]+")
_STATUS = re.compile(r"HTTP Error (\d{3})|\b(\d{3}) (?:Client|Server) Error")

_YF_LOCK = threading.Lock()


class _Problem(MarketDataError):
    """A failure inside the provider: `reason` for people, `detail` (the library's words) for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


class _Transient(_Problem):
    """Worth another attempt: connection trouble, HTTP 5xx."""


class _NoData(_Problem):
    """Yahoo answered that it has nothing for this ticker (404, no timezone, no prices)."""


class _TimedOut(_Problem):
    """No answer within the timeout; the call was abandoned."""


class _Unreadable(_Problem):
    """Yahoo answered something we could not read (truncated JSON, the wrong shape)."""


UNREADABLE = "Yahoo Finance sent an answer we could not read"
CLOSED = "the Yahoo Finance connection is closed (the bot is stopping)"


class DaemonThreads(Executor):
    """At most `workers` daemon threads running submitted calls, started as needed.

    Unlike `ThreadPoolExecutor`, whose threads are joined when the interpreter exits, a thread
    stuck on the network here never keeps a stopped process alive, and `shutdown()` never
    waits for it unless asked to.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; a thread picks it up (a new one while fewer than `workers` exist)."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls and let idle threads end; a running call is never interrupted."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        job[0].cancel()
            for _ in self._threads:
                self._jobs.put(None)  # one "stop" per thread
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to the caller, like ThreadPoolExecutor
                    future.set_exception(exc)
            del job, future, fn, args, kwargs  # hold nothing while waiting for the next call
            self._idle.release()


class YFinanceMarket:
    """`MarketData` from Yahoo Finance via yfinance."""

    def __init__(
        self,
        *,
        clock: Clock,
        calendar: Calendar,
        timeout: float = 20.0,
        retries: int = 2,
        max_workers: int = 4,
        batch_size: int = 100,
        cache_dir: str | Path | None = None,
        session: Any = None,
        rate_limit_backoff: float = 60.0,
        max_rate_limit_backoff: float = 900.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if max_workers < 1 or batch_size < 1:
            raise ValueError("max_workers and batch_size must be >= 1")
        self._clock = clock
        self._calendar = calendar
        self._timeout = float(timeout)
        # yfinance's own socket timeout, a little longer so that ours fires first
        self._library_timeout = self._timeout + 1.0
        self._retries = retries
        self._batch_size = batch_size
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._session = session
        self._backoff = float(rate_limit_backoff)
        self._max_backoff = float(max_rate_limit_backoff)
        self._executor = DaemonThreads(max_workers, "tickerbell-yfinance")
        self._yf: Any = None
        self._backoff_until: datetime | None = None
        self._strikes = 0
        self._closed = False

    # -- MarketData ---------------------------------------------------------------

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """Latest regular-session quotes, `batch_size` tickers a request.

        Keys and `Quote.ticker` are the tickers as given. A ticker Yahoo does not know, or
        whose price or market time is missing, NaN or not positive, is absent. A quote last
        traded in an earlier session is returned with that session. `at` is Yahoo's
        regularMarketTime (when the price traded); `final` once the session has closed and
        the price is stamped at the close, or 15 minutes after it. Raises MarketDataError
        (or RateLimited) only when no batch could be fetched; after a timeout or a 429 the
        remaining batches of the cycle are not sent.
        """
        wanted: dict[str, str] = {}
        for ticker in tickers:
            if isinstance(ticker, str) and ticker.strip():
                wanted.setdefault(ticker.strip().upper(), ticker)
        if not wanted:
            return {}
        symbols = list(wanted)
        batches = [symbols[i : i + self._batch_size] for i in range(0, len(symbols), self._batch_size)]
        found: dict[str, Quote] = {}
        failure: MarketDataError | None = None
        answered = 0
        for number, batch in enumerate(batches, 1):
            what = f"quotes batch {number}/{len(batches)} ({len(batch)} tickers)"
            try:
                got = await self._call(what, self._quote_batch, batch, self._clock.now())
            except (RateLimited, _TimedOut) as exc:
                failure = exc
                break
            except MarketDataError as exc:
                failure = exc
                continue
            answered += 1
            for quote in got:
                asked = wanted.get(quote.ticker)
                if asked is not None:
                    found[asked] = quote if asked == quote.ticker else replace(quote, ticker=asked)
        if answered == 0 and failure is not None:
            raise _public(failure)
        return found

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        """Daily bars from `start` to `end` inclusive, in `end`'s share count.

        Yahoo (and so yfinance) serves prices adjusted for every split up to *today*; the
        bars are fetched through today and multiplied back by the splits after `end` found
        in the same reply (volumes divided). Prices are not adjusted for dividends
        (`auto_adjust=False`). Bars with a missing or non-positive price are left out
        (Yahoo's empty pre-market bar among them); during a session, today's bar is the
        session so far. Unknown ticker: an empty list.
        """
        if end < start:
            return []
        today = self._calendar.local_date(self._clock.now())
        fetch_end = max(end, today) + timedelta(days=1)
        return await self._ask(f"history {ticker}", [], self._history, ticker, start, end, fetch_end)

    async def intraday(self, ticker: str, days: int) -> list[tuple[datetime, float, float, float, float, float]]:
        """Intraday bars of the last `days` sessions (5-minute bars for one, 30-minute for more),
        as (start, open, high, low, close, volume) with an aware start, oldest first. For /chart 1d|5d."""
        return await self._ask(f"intraday {ticker}", [], self._intraday, ticker, days)

    async def splits(self, ticker: str) -> list[Split]:
        """Splits from yfinance's splits series (the whole history), oldest first."""
        return await self._ask(f"splits {ticker}", [], self._splits, ticker)

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        """Earnings dates from `get_earnings_dates()` and `Ticker.calendar`, merged, oldest first.

        Both sources are fragile; one failing (None, empty, an error) leaves what the other
        found. The time comes from the hour Yahoo gives: before 9:30 New York → bmo, 16:00
        or later → amc, otherwise (and for Yahoo's 00:00 placeholder, and calendar dates,
        which carry no hour) unknown. Raises only RateLimited, when nothing was found.
        """
        found: dict[date, EarningsEvent] = {}
        limited: RateLimited | None = None
        sources: tuple[tuple[str, Callable[..., list[EarningsEvent]]], ...] = (
            ("earnings dates", self._earnings_dates),
            ("earnings calendar", self._earnings_calendar),
        )
        for what, source in sources:
            try:
                events = await self._call(f"{what} {ticker}", source, ticker)
            except _NoData:
                continue
            except RateLimited as exc:
                limited = exc
                break
            except MarketDataError:
                continue  # already logged; the other source may still answer
            for event in events:
                known = found.get(event.day)
                if known is None or known.time is EarningsTime.UNKNOWN:
                    found[event.day] = event
        if not found and limited is not None:
            raise limited
        return sorted(found.values(), key=lambda event: event.day)

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        """Figures from `Ticker.info`, each cleaned (non-finite → None); None if nothing usable."""
        info = await self._ask(f"fundamentals {ticker}", None, self._info, ticker)
        return None if info is None else _fundamentals(ticker, info)

    async def aclose(self) -> None:
        """Stop the threads at once: calls still stuck on the network are abandoned (daemon threads)."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- calling yfinance ---------------------------------------------------------

    async def _ask(self, what: str, no_data: T, fn: Callable[..., T], *args: Any) -> T:
        """`_call`, with Yahoo's "nothing for this ticker" as `no_data` and public errors only."""
        try:
            return await self._call(what, fn, *args)
        except _NoData:
            return no_data
        except MarketDataError as exc:
            raise _public(exc) from None

    async def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise MarketDataError(CLOSED)
        self._check_backoff()
        loop = asyncio.get_running_loop()
        try:
            async for attempt in stamina.retry_context(
                on=_Transient,
                attempts=self._retries + 1,
                timeout=None,
                wait_initial=0.5,
                wait_max=10.0,
                wait_jitter=0.5,
            ):
                with attempt:
                    result = await self._attempt(loop, fn, args)
                    self._strikes = 0
                    return result
        except RateLimited:
            raise self._start_backoff(what) from None
        except _NoData:
            self._strikes = 0
            raise
        except MarketDataError as exc:
            detail = exc.detail if isinstance(exc, _Problem) else ""
            log.warning("yfinance %s failed: %s%s", what, exc.reason, f" ({detail})" if detail else "")
            raise
        raise MarketDataError(f"yfinance {what}: no attempt was made")  # pragma: no cover

    async def _attempt(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            future = loop.run_in_executor(self._executor, self._in_thread, fn, args)
        except RuntimeError as exc:  # the threads were shut down
            raise MarketDataError(CLOSED) from exc
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise _TimedOut(_no_answer(self._timeout), "call abandoned") from None

    def _in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(self._yfinance(), *args)
        except MarketDataError:
            raise
        except Exception as exc:
            raise _translate(exc, timeout=self._timeout) from None

    def _yfinance(self) -> Any:
        if self._yf is None:
            with _YF_LOCK:
                import yfinance as yf

                yf.config.debug.hide_exceptions = False
                yf.config.network.retries = 0
                if self._cache_dir is not None:
                    self._cache_dir.mkdir(parents=True, exist_ok=True)
                    yf.set_tz_cache_location(str(self._cache_dir))
                self._yf = yf
        return self._yf

    def _check_backoff(self) -> None:
        until = self._backoff_until
        if until is None:
            return
        remaining = (until - self._clock.now()).total_seconds()
        if remaining > 0:
            raise RateLimited(_rate_limited(remaining), retry_after=remaining)
        self._backoff_until = None

    def _start_backoff(self, what: str) -> RateLimited:
        self._strikes += 1
        delay = min(self._backoff * 2 ** (self._strikes - 1), self._max_backoff)
        self._backoff_until = self._clock.now() + timedelta(seconds=delay)
        log.warning("yfinance %s: Yahoo Finance is rate-limiting us (HTTP 429); no requests for %.0f s", what, delay)
        return RateLimited(_rate_limited(delay), retry_after=delay)

    # -- in the worker threads ----------------------------------------------------

    def _quote_batch(self, yf: Any, symbols: list[str], now: datetime) -> list[Quote]:
        from yfinance.data import YfData

        data = YfData(session=self._session) if self._session is not None else YfData()
        params = {
            "symbols": ",".join(symbols),
            "fields": _QUOTE_FIELDS,
            "formatted": "false",
            "lang": "en-US",
            "region": "US",
        }
        reply = data.get_raw_json(_QUOTE_URL, params=params, timeout=self._library_timeout)
        quotes = []
        for row in _quote_rows(reply):
            quote = self._quote(row, now)
            if quote is not None:
                quotes.append(quote)
        return quotes

    def _quote(self, row: dict[str, Any], now: datetime) -> Quote | None:
        symbol = row.get("symbol")
        price = clean_price(_raw(row.get("regularMarketPrice")))
        stamp = clean_price(_raw(row.get("regularMarketTime")))
        if not isinstance(symbol, str) or not symbol or price is None or stamp is None:
            return None
        try:
            at = datetime.fromtimestamp(stamp, UTC)
            day = self._calendar.last_closed_or_open_session(at)
            session = self._calendar.session(day)
        except Exception:
            return None
        final = False
        if session is not None and now >= session.close:
            final = at >= session.close or now >= session.close + _SETTLE
        return Quote(
            ticker=symbol.upper(),
            price=price,
            prev_close=clean_price(_raw(row.get("regularMarketPreviousClose"))),
            session=day,
            at=at,
            day_high=clean_price(_raw(row.get("regularMarketDayHigh"))),
            day_low=clean_price(_raw(row.get("regularMarketDayLow"))),
            day_open=clean_price(_raw(row.get("regularMarketOpen"))),
            final=final,
        )

    def _history(self, yf: Any, ticker: str, start: date, end: date, fetch_end: date) -> list[Bar]:
        frame = yf.Ticker(ticker, session=self._session).history(
            start=start.isoformat(),
            end=fetch_end.isoformat(),
            interval="1d",
            auto_adjust=False,
            actions=True,
            timeout=self._library_timeout,
        )
        if frame is None or frame.empty:
            return []
        factor = 1.0
        if "Stock Splits" in frame.columns:
            for stamp, ratio in frame["Stock Splits"].items():
                ratio = clean_price(ratio)
                if ratio is not None and _day(stamp) > end:
                    factor *= ratio
        bars = []
        for stamp, row in frame.iterrows():
            day = _day(stamp)
            if not start <= day <= end:
                continue
            prices = [clean_price(row.get(column)) for column in ("Open", "High", "Low", "Close")]
            if any(value is None for value in prices):
                continue
            opened, high, low, close = (value * factor for value in prices)  # type: ignore[operator]
            volume = _finite(row.get("Volume"))
            bars.append(
                Bar(
                    day=day,
                    open=opened,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume / factor if volume is not None and volume > 0 else 0.0,
                )
            )
        return sorted(bars, key=lambda bar: bar.day)

    def _intraday(self, yf: Any, ticker: str, days: int) -> list[tuple[datetime, float, float, float, float, float]]:
        frame = yf.Ticker(ticker, session=self._session).history(
            period=f"{days}d", interval="5m" if days <= 1 else "30m", auto_adjust=False, actions=False, timeout=self._library_timeout
        )
        if frame is None or frame.empty:
            return []
        rows = []
        for stamp, row in frame.iterrows():
            prices = [clean_price(row.get(column)) for column in ("Open", "High", "Low", "Close")]
            if any(value is None for value in prices):
                continue
            opened, high, low, close = prices
            volume = _finite(row.get("Volume"))
            rows.append((stamp.to_pydatetime(), opened, high, low, close, volume if volume is not None and volume > 0 else 0.0))
        return rows  # type: ignore[return-value]

    def _splits(self, yf: Any, ticker: str) -> list[Split]:
        series = yf.Ticker(ticker, session=self._session).splits
        found = []
        for stamp, value in series.items():
            ratio = clean_price(value)
            if ratio is not None and ratio != 1.0:
                found.append(Split(ticker=ticker, day=_day(stamp), ratio=ratio))
        return sorted(found, key=lambda split: split.day)

    def _earnings_dates(self, yf: Any, ticker: str) -> list[EarningsEvent]:
        _forget_cached_pages()  # yfinance caches this page for the life of the process
        frame = yf.Ticker(ticker, session=self._session).get_earnings_dates(limit=12)
        if frame is None or frame.empty:
            return []
        import pandas as pd

        events = []
        for stamp in frame.index:
            moment = pd.Timestamp(stamp)
            if pd.isna(moment):
                continue
            zone = str(self._calendar.tz)
            moment = moment.tz_localize(zone) if moment.tzinfo is None else moment.tz_convert(zone)
            events.append(EarningsEvent(ticker=ticker, day=moment.date(), time=_earnings_time(moment.time())))
        return events

    def _earnings_calendar(self, yf: Any, ticker: str) -> list[EarningsEvent]:
        calendar = yf.Ticker(ticker, session=self._session).calendar
        if not isinstance(calendar, dict):
            return []
        days = calendar.get("Earnings Date") or []
        if not isinstance(days, (list, tuple)):
            return []
        events = []
        for day in days:
            if isinstance(day, datetime):
                day = day.date()
            if isinstance(day, date):
                events.append(EarningsEvent(ticker=ticker, day=day, time=EarningsTime.UNKNOWN))
        return events

    def _info(self, yf: Any, ticker: str) -> dict[str, Any]:
        info = yf.Ticker(ticker, session=self._session).info
        return dict(info) if isinstance(info, dict) else {}


# -- helpers ----------------------------------------------------------------------


def _quote_rows(reply: object) -> list[dict[str, Any]]:
    if not isinstance(reply, dict):
        raise _Unreadable(UNREADABLE, "quote reply is not an object")
    body = reply.get("quoteResponse")
    if not isinstance(body, dict):
        raise _Unreadable(UNREADABLE, "quote reply has no quoteResponse")
    result = body.get("result")
    if result is None:
        error = body.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else error
            raise MarketDataError(f"Yahoo Finance answered with an error: {str(code)[:80]}")
        return []
    if not isinstance(result, list):
        raise _Unreadable(UNREADABLE, "quote result is not a list")
    return [row for row in result if isinstance(row, dict)]


def _raw(value: object) -> object:
    """Yahoo's formatted values are {"raw": 1.5, "fmt": "1.50"}; plain values pass through."""
    if isinstance(value, dict):
        return value.get("raw")
    return value


def _finite(value: object) -> float | None:
    """A finite float (negative allowed: EPS, margins), or None."""
    value = _raw(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _day(stamp: Any) -> date:
    """The calendar day of a yfinance index label (midnight in the exchange's timezone)."""
    if isinstance(stamp, datetime):
        return stamp.date()
    if isinstance(stamp, date):
        return stamp
    return cast(date, stamp.to_pydatetime().date())  # a pandas Timestamp (untyped here)


def _earnings_time(moment: time) -> EarningsTime:
    if moment == time(0, 0):
        return EarningsTime.UNKNOWN  # Yahoo's placeholder for "time not announced"
    if moment < _REGULAR_OPEN:
        return EarningsTime.BEFORE_OPEN
    if moment >= _REGULAR_CLOSE:
        return EarningsTime.AFTER_CLOSE
    return EarningsTime.UNKNOWN


def _fundamentals(ticker: str, info: object) -> Fundamentals | None:
    if not isinstance(info, dict):
        return None
    figures = Fundamentals(
        ticker=ticker,
        name=_text(info.get("longName")) or _text(info.get("shortName")),
        market_cap=clean_price(_raw(info.get("marketCap"))),
        trailing_pe=_finite(info.get("trailingPE")),
        forward_pe=_finite(info.get("forwardPE")),
        trailing_eps=_finite(info.get("trailingEps")),
        forward_eps=_finite(info.get("forwardEps")),
        gross_margin=_finite(info.get("grossMargins")),
        currency=_text(info.get("currency")),
    )
    usable = (
        figures.name,
        figures.market_cap,
        figures.trailing_pe,
        figures.forward_pe,
        figures.trailing_eps,
        figures.forward_eps,
        figures.gross_margin,
    )
    return figures if any(value is not None for value in usable) else None


def _forget_cached_pages() -> None:
    try:
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()
    except Exception:
        pass


def _translate(exc: Exception, *, timeout: float) -> MarketDataError:
    """Any exception from yfinance or its HTTP client, as a MarketDataError whose reason is in
    plain words; the library's own words (without secrets) are kept as the log's detail."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    detail = f"{type(exc).__name__}: {_redact(exc)}"
    status = _status(exc, names)
    if "YFRateLimitError" in names or status == 429:
        return RateLimited(_rate_limited(0.0), retry_after=0.0)  # the back-off sets the real wait
    if status is not None:
        if status == 404:
            return _NoData("Yahoo Finance has no data for it", detail)
        if status >= 500 or status == 408:
            return _Transient(f"Yahoo Finance answered HTTP {status}", detail)
        return _Problem(f"Yahoo Finance answered HTTP {status}", detail)
    if "YFTickerMissingError" in names:
        return _NoData("Yahoo Finance has no data for it", detail)
    if _is_dns_failure(exc):
        return _Transient("cannot reach Yahoo Finance: DNS lookup failed", detail)
    if isinstance(exc, (ValueError, KeyError, IndexError, TypeError, AttributeError)):
        return _Unreadable(UNREADABLE, detail)
    if isinstance(exc, TimeoutError) or names & _TIMEOUT_NAMES:
        return _TimedOut(_no_answer(timeout), detail)  # a hang: not retried
    if isinstance(exc, ConnectionError) or names & _TRANSIENT_NAMES:
        return _Transient(_no_answer(timeout), detail)
    return _Problem("the request to Yahoo Finance failed", detail)


def _no_answer(timeout: float) -> str:
    return f"cannot reach Yahoo Finance: no answer within {timeout:g} s"


def _rate_limited(retry_after: float) -> str:
    return f"Yahoo Finance is rate-limiting us; retrying in {wait_words(retry_after)}"


def _status(exc: Exception, names: set[str]) -> int | None:
    """The HTTP status Yahoo answered with; None when there was no answer (curl_cffi reports
    a failed connection with a response whose status is 0: that is not an HTTP status)."""
    code = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    if "HTTPError" in names:
        match = _STATUS.search(str(exc))
        if match:
            return int(match.group(1) or match.group(2))
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those inside it (causes, contexts, urllib3's `reason`, arguments), a few deep."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < 10:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        todo.extend(item for item in inner if isinstance(item, BaseException))


def _is_dns_failure(exc: BaseException) -> bool:
    """Whether the host name could not be looked up (curl's DNSError, urllib3's NameResolutionError, gaierror)."""
    for inner in _causes(exc):
        if {cls.__name__ for cls in type(inner).__mro__} & _DNS_NAMES:
            return True
        text = str(inner).lower()
        if any(words in text for words in _DNS_WORDS):
            return True
    return False


def _redact(exc: BaseException) -> str:
    """The message on one line, without query strings (crumb, long symbol lists) or any crumb, shortened."""
    text = _QUERY.sub("?...", " ".join(str(exc).split()))
    return _CRUMB.sub(r"\1<redacted>", text)[:200]


def _public(exc: MarketDataError) -> MarketDataError:
    """Internal subclasses stay internal: callers see MarketDataError (with its reason) or RateLimited."""
    if isinstance(exc, _Problem):
        return MarketDataError(exc.reason)
    return exc
