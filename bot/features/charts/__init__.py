"""Charts: `/chart TICKER [1d|5d|1m|6m|1y|5y]`, candles and volume with the 50- and 200-day moving
averages and the analyst's levels, drawn off the event loop and sent as an image.

    render.py  the image (matplotlib's object API, in a worker thread)

1d and 5d need intraday bars: a market-data provider that has them offers
`intraday(ticker, days)` (the yfinance provider does); the CSV provider holds daily bars only,
and /chart says so. 5y draws weekly candles (the averages stay those of daily closes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, Protocol

from bot.core.commands import Arg, ArgKind, Command
from bot.core.describe import money
from bot.core.errors import UserError
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.handlers import TICKER_ARG, answer_deadline, level_is_active, quote_line, quote_or_last, unavailable_text, unknown_ticker, within
from bot.core.market import Bar, MarketDataError, Quote
from bot.core.messages import AlertKind, Image, Reply
from bot.core.router import Context, Invocation
from bot.features.charts.render import Candle

log = logging.getLogger(__name__)

PERIODS = {"1d": 1, "5d": 5, "1m": 31, "6m": 183, "1y": 366, "5y": 1827}  # calendar days shown (sessions for 1d/5d)
LABELS = {"1d": "1 day", "5d": "5 days", "1m": "1 month", "6m": "6 months", "1y": "1 year", "5y": "5 years"}
AVERAGES = (50, 200)
WARM_UP_DAYS = 300  # calendar days before the window, so the 200-day average starts with it


class IntradaySource(Protocol):
    """What a provider with intraday bars offers: (start, open, high, low, close, volume), oldest first."""

    async def intraday(self, ticker: str, days: int) -> list[tuple[datetime, float, float, float, float, float]]: ...


def moving_average(closes: Sequence[float], days: int) -> list[float | None]:
    """The simple moving average of each close over `days` closes (None before there are enough)."""
    out: list[float | None] = []
    total = 0.0
    for index, close in enumerate(closes):
        total += close
        if index >= days:
            total -= closes[index - days]
        out.append(total / days if index >= days - 1 else None)
    return out


def weekly(candles: Sequence[Candle]) -> list[Candle]:
    """Daily candles merged into weeks (ISO weeks), each at its last day."""
    weeks: list[list[Candle]] = []
    for candle in candles:
        if weeks and weeks[-1][-1].at.isocalendar()[:2] == candle.at.isocalendar()[:2]:
            weeks[-1].append(candle)
        else:
            weeks.append([candle])
    return [Candle(w[-1].at, w[0].open, max(c.high for c in w), min(c.low for c in w), w[-1].close, sum(c.volume for c in w)) for w in weeks]


def _candle(bar: Bar) -> Candle:
    return Candle(datetime.combine(bar.day, time()), bar.open, bar.high, bar.low, bar.close, bar.volume)


async def daily_bars(context: Context, ticker: str, quote: Quote, period: str, deadline: float) -> list[Bar]:
    """The window's daily bars after a warm-up for the averages; today's session as the quote."""
    start = quote.session - timedelta(days=PERIODS[period] + WARM_UP_DAYS)
    bars = await within(context, context.market.history(ticker, start, quote.session), deadline)
    bars = [bar for bar in bars if bar.day < quote.session and bar.close > 0]
    bars.append(Bar(quote.session, quote.day_open or quote.price, max(quote.day_high or quote.price, quote.price),
                    min(quote.day_low or quote.price, quote.price), quote.price,
                    next((b.volume for b in reversed(bars) if b.day == quote.session), 0.0)))
    return bars


async def chart_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker: str = values["ticker"]
    period: str = values.get("period") or "6m"
    deadline = answer_deadline(context)
    quote, stale = await quote_or_last(context, ticker, deadline)
    levels = [(str(r.level_name), r.threshold) for r in await context.rules.analyst_levels(ticker) if level_is_active(r)]
    lines = [f"Now {quote_line(quote, context)}."]
    if stale:
        lines.append(stale)
    averages: dict[int, list[float | None]] = {}
    if period in ("1d", "5d"):
        candles = await _intraday(context, ticker, PERIODS[period], deadline)
    else:
        try:
            bars = await daily_bars(context, ticker, quote, period, deadline)
        except MarketDataError as problem:
            raise UserError(unavailable_text(problem)) from None
        closes = [bar.close for bar in bars]
        first = quote.session - timedelta(days=PERIODS[period])
        keep = [i for i, bar in enumerate(bars) if bar.day >= first]
        if not keep:
            raise unknown_ticker(ticker)
        all_averages = {days: moving_average(closes, days) for days in AVERAGES}
        candles = [_candle(bars[i]) for i in keep]
        if (bars[keep[0]].day - first).days > 10:
            lines.append(f"The data provider's bars start on {bars[keep[0]].day.isoformat()}.")
        averages = {days: [values_[i] for i in keep] for days, values_ in all_averages.items()}
        lines.append(" · ".join(f"SMA{days} {money(vals[-1]) if vals[-1] is not None else 'n/a (too little history)'}"
                                for days, vals in averages.items()))
        if period == "5y":
            weeks = weekly(candles)
            ends = {c.at for c in weeks}
            averages = {days: [v for c, v in zip(candles, vals, strict=True) if c.at in ends] for days, vals in averages.items()}
            candles = weeks
    if levels:
        lines.append("Analyst's levels: " + ", ".join(f"{name} {money(price)}" for name, price in levels) + ".")
    title = f"{ticker} · {LABELS[period]}" + (" (weekly candles)" if period == "5y" else "")
    png = await _render(ticker, candles, averages, levels, title=title, intraday=period in ("1d", "5d"))
    if png is None:
        raise UserError(f"There are no bars to chart for {ticker} over {LABELS[period]}.")
    day = candles[-1].at.date() if candles else quote.session
    image = Image(filename=f"{ticker.replace('^', '')}-{period}-{day.isoformat()}.png", data=png,
                  description=f"{ticker}: {LABELS[period]} of candles and volume" + (", SMA50 and SMA200" if averages else "")
                              + (f", the analyst's levels ({', '.join(n for n, _ in levels)})" if levels else ""))
    return Reply(title=title, lines=tuple(lines), image=image)


async def _intraday(context: Context, ticker: str, days: int, deadline: float) -> list[Candle]:
    source = getattr(context.market, "intraday", None)
    if not callable(source):
        raise UserError("Intraday bars are not available from this market data provider (it holds daily bars), "
                        f"so there is no 1d or 5d chart. Try /chart {ticker} 1m.")
    try:
        rows = await within(context, source(ticker, days), deadline)
    except MarketDataError as problem:
        raise UserError(unavailable_text(problem)) from None
    if not rows:
        raise UserError(f"No intraday bars for {ticker} right now. Try /chart {ticker} 1m.")
    return [Candle(at.astimezone(context.calendar.tz).replace(tzinfo=None), o, h, lo, c, v) for at, o, h, lo, c, v in rows]


async def _render(ticker: str, candles: list[Candle], averages: Mapping[int, Sequence[float | None]],
                  levels: list[tuple[str, float]], *, title: str, intraday: bool) -> bytes | None:
    from bot.features.charts.render import render_chart  # matplotlib loads on the first chart, not at start

    try:
        return await asyncio.to_thread(render_chart, ticker, candles, dict(averages), levels, title=title, intraday=intraday)
    except ValueError:
        log.warning("charts: nothing to draw for %s", ticker)
        return None


class ChartsFeature:
    name = "charts"

    def __init__(self, context: Context) -> None:
        self.context = context

    def commands(self) -> Sequence[Command]:
        return [
            Command("chart", "A candle chart with volume, the 50- and 200-day averages and the analyst's levels",
                    partial(chart_command), args=(TICKER_ARG, Arg("period", ArgKind.CHOICE, "How far back (6m by default)",
                                                                   required=False, choices=tuple(PERIODS))),
                    examples=("/chart NVDA", "/chart AVGO 1y", "/chart ^SOX 5y"),
                    details="1m, 6m and 1y draw daily candles, 5y weekly ones; 1d and 5d draw intraday bars where the data "
                            "provider has them. The analyst's levels are labelled in the margin, never over the price."),
        ]

    def daily_jobs(self) -> Sequence[DailyJob]:
        return ()

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    async def start(self) -> None:
        return None


__all__ = ["ChartsFeature", "IntradaySource", "moving_average", "weekly"]
