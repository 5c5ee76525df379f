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
"""

from __future__ import annotations

import csv
import logging
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.market import Bar, EarningsEvent, EarningsTime, Fundamentals, MarketDataError, Quote, Split, clean_price

log = logging.getLogger(__name__)

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


class CsvMarket:
    """The `MarketData` protocol over a folder of daily CSV files."""

    def __init__(self, folder: str | Path, *, clock: Clock, calendar: Calendar) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"market data folder not found: {self.folder}")
        self.clock = clock
        self.calendar = calendar
        self._files = {p.stem.upper(): p for p in self.folder.glob("*.csv") if p.stem.lower() not in ("splits", "earnings", "fundamentals")}
        self._all_splits = self._read_splits()
        self._earnings = self._read_earnings()
        self._fundamentals = self._read_fundamentals()
        self._series: dict[str, _Series | None] = {}
        self.requests = 0  # how many calls were made, for benchmarks

    # -- the protocol ------------------------------------------------------------------

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """The quotes a feed would show now. A ticker whose file cannot be read is absent, unless
        no ticker could be served: then the first such file's MarketDataError is raised."""
        self.requests += 1
        now = self.clock.now()
        result: dict[str, Quote] = {}
        failures: list[MarketDataError] = []
        for ticker in dict.fromkeys(tickers):
            try:
                quote = self.quote_at(ticker, now)
            except MarketDataError as problem:
                failures.append(problem)
                continue
            if quote is not None:
                result[ticker] = quote
        if failures and not result:
            raise failures[0]
        return result

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        series = self._load(ticker)
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
        self._series.clear()

    # -- quotes --------------------------------------------------------------------------

    def quote_at(self, ticker: str, now: datetime) -> Quote | None:
        """The price a live feed would have shown at `now`: the open during a session,
        the close after it, or the latest close before it."""
        series = self._load(ticker)
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

    def _load(self, ticker: str) -> _Series | None:
        """The ticker's series (None without a file); MarketDataError when its file cannot be read."""
        key = ticker.upper()
        if key in self._series:
            return self._series[key]
        path = self._files.get(key)
        series = None
        if path is not None:
            try:
                series = self._read_series(key, path)
            except (OSError, csv.Error, UnicodeDecodeError) as problem:
                reason = f"the price file {path.name} cannot be read: {_why(problem)}"
                log.warning("csv market: %s", reason)
                raise MarketDataError(reason) from None  # not remembered: asked again next time
        self._series[key] = series
        return series

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
