"""Market data from a folder of CSV files, replayed against an injected clock.

Layout (the one `yfinance` `history()` writes): `<TICKER>.csv` with `Date,Open,High,Low,Close`
(`Adj Close`, `Volume` and other columns optional; lower-case `date,open,...` layouts work too),
plus optional `splits.csv` (`Ticker,Date,Ratio`) and `earnings.csv` (`Ticker,Date,Time`).

Files may be split-adjusted (as yfinance serves them: `splits.csv` lists splits already
applied) or raw as traded. Each split is checked against the closes around it: a jump by
about the ratio means the file is raw there; no jump means it was adjusted. Either way
the provider serves *as-traded* prices, like a live feed, so the engine sees a split as
a split (and rescales rules) and never as a crash.

A price file that cannot be read (permissions, not UTF-8, a broken CSV) is an outage, not an
unknown ticker: `MarketDataError("the price file NVDA.csv cannot be read: permission denied")`,
asked again on the next call. A file without price columns, or with garbage rows, is no data.

Files are read off the event loop, in daemon threads (`DaemonThreads`), each read under
`timeout` seconds: a file that hangs (a stuck network file system; a FIFO in the tests) is
`MarketDataError("the price file NVDA.csv did not answer within 20 s")` for that ticker alone,
while the others are served. The stuck read is never started twice, and is left to finish on
its own: once it does, its prices are used. Until then later calls fail at once, and neither
`aclose()` nor the process's exit waits for it.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import math
import time
from bisect import bisect_right
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.market import Bar, EarningsEvent, EarningsTime, Fundamentals, MarketDataError, Quote, Split, clean_price, wait_words
from bot.market.yfinance_provider import DaemonThreads  # a small executor of our own; yfinance itself loads lazily

log = logging.getLogger(__name__)

T = TypeVar("T")

_ALIASES = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
}


@dataclass(frozen=True, slots=True)
class _Series:
    """One ticker's as-traded bars, oldest first."""

    days: list[date]
    bars: list[Bar]
    splits: list[Split]  # splits inside the series' range, oldest first

    def ratio_between(self, after: date, upto: date) -> float:
        """The product of split ratios effective in (after, upto]."""
        ratio = 1.0
        for split in self.splits:
            if after < split.day <= upto:
                ratio *= split.ratio
        return ratio


@dataclass(frozen=True, slots=True)
class _Read:
    """A file being read in a worker thread, and when waiting for it stops making sense."""

    future: Future[_Series]
    deadline: float  # time.monotonic()


class CsvMarket:
    """The `MarketData` protocol over a folder of daily CSV files."""

    def __init__(self, folder: str | Path, *, clock: Clock, calendar: Calendar, timeout: float = 20.0, max_workers: int = 8) -> None:
        """`timeout`: seconds one file may take to read (`[market] timeout_seconds`)."""
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"market data folder not found: {self.folder}")
        self.clock = clock
        self.calendar = calendar
        self.timeout = timeout
        self.max_workers = max_workers
        self._files = {p.stem.upper(): p for p in self.folder.glob("*.csv") if p.stem.lower() not in ("splits", "earnings", "fundamentals")}
        self._all_splits = self._read_splits()
        self._earnings = self._read_earnings()
        self._fundamentals = self._read_fundamentals()
        self._series: dict[str, _Series | None] = {}
        self._reading: dict[str, _Read] = {}
        self._threads: DaemonThreads | None = None
        self.requests = 0  # how many calls were made, for benchmarks

    # -- the protocol ------------------------------------------------------------------

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """The quotes a feed would show now. A ticker whose file cannot be read (or does not answer
        in time) is absent, unless no ticker could be served: then the first such MarketDataError is raised."""
        self.requests += 1
        now = self.clock.now()
        wanted = list(dict.fromkeys(tickers))
        failures = await self._load_all(wanted)
        result: dict[str, Quote] = {}
        for ticker in wanted:
            if ticker not in failures and (quote := self._quote(ticker, self._series.get(ticker.upper()), now)) is not None:
                result[ticker] = quote
        if failures and not result:
            raise next(iter(failures.values()))
        return result

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        series = await self._load(ticker)
        if series is None:
            return []
        lo = bisect_right(series.days, start - _ONE_DAY)
        hi = bisect_right(series.days, end)
        return [_scaled(bar, series.ratio_between(bar.day, end)) for bar in series.bars[lo:hi]]

    async def splits(self, ticker: str) -> list[Split]:
        return list(self._all_splits.get(ticker.upper(), []))

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        return list(self._earnings.get(ticker.upper(), []))

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        return self._fundamentals.get(ticker.upper())

    async def aclose(self) -> None:
        """Forget what was read. A read stuck in its thread is abandoned, not awaited."""
        self._series.clear()
        self._reading.clear()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    # -- quotes --------------------------------------------------------------------------

    def _quote(self, ticker: str, series: _Series | None, now: datetime) -> Quote | None:
        """The price a live feed would have shown at `now`: the open during a session,
        the close after it, or the latest close before it."""
        if series is None or not series.bars:
            return None
        session_day = self.calendar.last_closed_or_open_session(now)
        index = bisect_right(series.days, session_day) - 1
        if index < 0:
            return None
        bar = series.bars[index]
        session = self.calendar.session(bar.day)
        if bar.day == session_day and session is not None and now < session.close:
            price, final, high, low = bar.open, False, bar.open, bar.open
            at = max(session.open, min(now, session.close))
        else:
            price, final, high, low = bar.close, True, bar.high, bar.low
            at = session.close if session else now
        prev_close = None
        if index > 0:
            prev = series.bars[index - 1]
            prev_close = prev.close / series.ratio_between(prev.day, bar.day)
        return Quote(
            ticker=ticker,
            price=price,
            prev_close=prev_close,
            session=bar.day,
            at=at,
            day_high=high,
            day_low=low,
            day_open=bar.open,
            final=final,
        )

    def tickers(self) -> list[str]:
        return sorted(self._files)

    # -- loading -------------------------------------------------------------------------

    async def _load_all(self, tickers: Sequence[str]) -> dict[str, MarketDataError]:
        """Read the files of `tickers` not read yet, side by side (a batch waits one timeout at most); the failures by ticker."""
        unread = [t for t in tickers if t.upper() not in self._series]
        outcomes = await asyncio.gather(*(self._load(t) for t in unread), return_exceptions=True)
        failures: dict[str, MarketDataError] = {}
        for ticker, outcome in zip(unread, outcomes, strict=True):
            if isinstance(outcome, MarketDataError):
                failures[ticker] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
        return failures

    async def _load(self, ticker: str) -> _Series | None:
        """The ticker's series (None without a file); MarketDataError when its file cannot be read in time."""
        key = ticker.upper()
        if key in self._series:
            return self._series[key]
        path = self._files.get(key)
        series = None if path is None else await self._read_off_loop(key, path)
        self._series[key] = series
        return series

    async def _read_off_loop(self, key: str, path: Path) -> _Series:
        """Read a price file in a worker thread, waiting until its read's deadline at most."""
        read = self._reading.get(key)
        if read is None:
            future = self._workers().submit(self._read_series, key, path)
            read = self._reading[key] = _Read(future, time.monotonic() + self.timeout)
        try:
            return await _result_within(read.future, read.deadline - time.monotonic())
        except TimeoutError:
            reason = f"the price file {path.name} did not answer within {wait_words(self.timeout)}"
        except (OSError, csv.Error, UnicodeDecodeError) as problem:
            reason = f"the price file {path.name} cannot be read: {_why(problem)}"
        finally:
            if read.future.done() and self._reading.get(key) is read:
                del self._reading[key]  # a failed read is tried again on the next call
        log.warning("csv market: %s", reason)
        raise MarketDataError(reason)

    def _workers(self) -> DaemonThreads:
        if self._threads is None:
            self._threads = DaemonThreads(self.max_workers, "tickerbell-csv")
        return self._threads

    def _read_series(self, ticker: str, path: Path) -> _Series:
        bars: list[Bar] = []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
            missing = [c for c in ("date", "open", "high", "low", "close") if c not in columns]
            if missing:
                log.warning("csv market: %s lacks columns %s", path.name, ", ".join(missing))
                return _Series([], [], [])
            skipped = 0
            for row in reader:
                bar = _parse_bar(row, columns)
                if bar is None:
                    skipped += 1
                    continue
                bars.append(bar)
            if skipped:
                log.warning("csv market: %s: skipped %d unreadable rows", path.name, skipped)
        bars.sort(key=lambda b: b.day)
        deduped: list[Bar] = []
        for bar in bars:
            if deduped and deduped[-1].day == bar.day:
                deduped[-1] = bar
            else:
                deduped.append(bar)
        days = [b.day for b in deduped]
        splits = [s for s in self._all_splits.get(ticker, []) if days and days[0] < s.day <= days[-1]]
        as_traded = _unadjust(deduped, splits)
        return _Series(days, as_traded, splits)

    def _read_splits(self) -> dict[str, list[Split]]:
        found: dict[str, list[Split]] = {}
        for row in _read_table(self.folder / "splits.csv"):
            ticker = (row.get("ticker") or "").strip().upper()
            ratio = clean_price(row.get("ratio") or row.get("split_ratio"))
            day = _parse_day(row.get("date"))
            if ticker and ratio and day and ratio != 1.0:
                found.setdefault(ticker, []).append(Split(ticker, day, ratio))
        for splits in found.values():
            splits.sort(key=lambda s: s.day)
        return found

    def _read_earnings(self) -> dict[str, list[EarningsEvent]]:
        found: dict[str, list[EarningsEvent]] = {}
        times = {"amc": EarningsTime.AFTER_CLOSE, "bmo": EarningsTime.BEFORE_OPEN}
        for row in _read_table(self.folder / "earnings.csv"):
            ticker = (row.get("ticker") or "").strip().upper()
            day = _parse_day(row.get("date") or row.get("earnings_date"))
            if ticker and day:
                when = times.get((row.get("time") or "").strip().lower(), EarningsTime.UNKNOWN)
                found.setdefault(ticker, []).append(EarningsEvent(ticker, day, when))
        for events in found.values():
            events.sort(key=lambda e: e.day)
        return found

    def _read_fundamentals(self) -> dict[str, Fundamentals]:
        """Optional `fundamentals.csv`: Ticker,Name,MarketCap,TrailingPE,ForwardPE,TrailingEPS,ForwardEPS,GrossMargin."""
        found: dict[str, Fundamentals] = {}
        for row in _read_table(self.folder / "fundamentals.csv"):
            ticker = (row.get("ticker") or "").strip().upper()
            if not ticker:
                continue
            found[ticker] = Fundamentals(
                ticker=ticker,
                name=(row.get("name") or "").strip() or None,
                market_cap=clean_price(row.get("marketcap")),
                trailing_pe=clean_price(row.get("trailingpe")),
                forward_pe=clean_price(row.get("forwardpe")),
                trailing_eps=clean_price(row.get("trailingeps")),
                forward_eps=clean_price(row.get("forwardeps")),
                gross_margin=clean_price(row.get("grossmargin")),
                currency="USD",
            )
        return found


_ONE_DAY = date(2000, 1, 2) - date(2000, 1, 1)


async def _result_within(future: Future[T], seconds: float) -> T:
    """A worker thread's result, waiting `seconds` at most (TimeoutError). The thread is never
    interrupted: a stuck read keeps its thread, and its result is there for a later call."""
    if not future.done():
        if seconds <= 0:
            raise TimeoutError
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def wake(_: Future[T]) -> None:  # in the worker thread
            try:
                loop.call_soon_threadsafe(_settle, woken)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        future.add_done_callback(wake)
        await asyncio.wait_for(woken, seconds)
    return future.result()


def _settle(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def _read_table(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, csv.Error, UnicodeDecodeError) as problem:
        log.warning("csv market: cannot read %s: %s", path.name, problem)
        return []


def _why(problem: Exception) -> str:
    """Why a file could not be read, in a few plain words."""
    if isinstance(problem, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror.lower()
    return str(problem) or type(problem).__name__


def _parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _parse_bar(row: dict[str, str], columns: dict[str, str]) -> Bar | None:
    day = _parse_day(row.get(columns["date"]))
    values = [clean_price(row.get(columns[name])) for name in ("open", "high", "low", "close")]
    if day is None or any(v is None for v in values):
        return None
    open_, high, low, close = (float(v) for v in values)  # type: ignore[arg-type]
    volume_raw = row.get(columns["volume"]) if "volume" in columns else None
    try:
        volume = float(volume_raw) if volume_raw else 0.0
    except ValueError:
        volume = 0.0
    return Bar(day, open_, high, low, close, volume if math.isfinite(volume) else 0.0)


def split_is_adjusted(bars: Sequence[Bar], split: Split) -> bool:
    """Whether the bars around a split already have it applied (no jump by the ratio)."""
    days = [b.day for b in bars]
    index = bisect_right(days, split.day) - 1  # the split day, or the last bar before it
    if index < 1 or days[index] < split.day:
        return True  # nothing on or after the split day to compare: treat as adjusted
    before, after = bars[index - 1].close, bars[index].open or bars[index].close
    jump = math.log(before / after)
    return abs(jump) < abs(jump - math.log(split.ratio))


def _unadjust(bars: list[Bar], splits: list[Split]) -> list[Bar]:
    """As-traded bars: undo every split the file had already applied."""
    adjusted = [s for s in splits if split_is_adjusted(bars, s)]
    if not adjusted:
        return bars
    result = []
    for bar in bars:
        factor = 1.0
        for split in adjusted:
            if bar.day < split.day:
                factor *= split.ratio
        result.append(_scaled(bar, 1.0 / factor) if factor != 1.0 else bar)
    return result


def _scaled(bar: Bar, ratio: float) -> Bar:
    """Divide prices by `ratio` (and multiply volume), as a split of that ratio does."""
    if ratio == 1.0:
        return bar
    return Bar(bar.day, bar.open / ratio, bar.high / ratio, bar.low / ratio, bar.close / ratio, bar.volume * ratio)
