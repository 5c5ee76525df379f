"""`/primer TICKER`: a company's card with live figures, the analyst's levels and thesis, and a chart."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from bot.core.describe import big_number, day_name, money, pct, timing_words
from bot.core.handlers import (
    STALE_NOTE_DAYS,
    answer_deadline,
    fetch_fundamentals,
    level_is_active,
    level_value_text,
    level_written,
    market_today,
    quote_line,
    quote_or_last,
    within,
)
from bot.core.market import Bar, MarketDataError, Quote
from bot.core.messages import Action, Field, Image, Reply, Tone
from bot.core.models import Rule
from bot.core.router import Context, Invocation
from bot.features.primer.seeds import Primer

log = logging.getLogger(__name__)

CHART_DAYS = 183  # about six months of daily closes
RANGE_DAYS = 365


class UpcomingReport(Protocol):
    @property
    def day(self) -> date: ...

    @property
    def timing(self) -> str: ...


class EarningsCalendar(Protocol):
    """What a primer asks the earnings feature (admin dates included), when it is installed."""

    async def next_report(self, ticker: str) -> UpcomingReport | None: ...

    def trading_days_until(self, day: date) -> int: ...


class NextCatalyst(Protocol):
    @property
    def day(self) -> date: ...

    @property
    def name(self) -> str: ...


class CatalystCalendar(Protocol):
    """What a primer asks the catalysts feature, when it is installed."""

    async def next_of(self, ticker: str) -> NextCatalyst | None: ...

    def trading_days_until(self, day: date, today: date | None = None) -> int: ...


@dataclass
class PrimerShelf:
    """The loaded primers, and the earnings (and catalysts) calendars when those features are installed."""

    primers: dict[str, Primer]
    earnings: EarningsCalendar | None = None
    catalysts: CatalystCalendar | None = None


async def primer_command(shelf: PrimerShelf, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    deadline = answer_deadline(context)  # the whole card, data included, within answer_within_seconds
    quote, stale = await quote_or_last(context, ticker, deadline)  # an unknown ticker gets the core's clear reply
    return await primer_card(shelf, context, ticker, quote, stale=stale, deadline=deadline)


def _number(value: float | None, digits: int = 1) -> str:
    return "unavailable" if value is None else f"{value:,.{digits}f}"


async def primer_history(context: Context, ticker: str, quote: Quote, deadline: float | None = None) -> list[Bar]:
    """A year of daily bars as of now: the finished sessions before the quote's, then the
    quote itself as the last bar (so a chart in mid-session ends at the current price)."""
    start = quote.session - timedelta(days=RANGE_DAYS)
    try:
        bars = await within(context, context.market.history(ticker, start, quote.session), deadline)
    except MarketDataError:
        bars = []
    bars = [bar for bar in bars if bar.day < quote.session and bar.close > 0]
    open_ = quote.day_open or quote.price
    high = max(quote.day_high or quote.price, quote.price)
    low = min(quote.day_low or quote.price, quote.price)
    bars.append(Bar(quote.session, open_, high, low, quote.price))
    return bars


async def _earnings_line_by(shelf: PrimerShelf, context: Context, ticker: str, deadline: float | None) -> str:
    try:
        return await within(context, _next_earnings_line(shelf, context, ticker), deadline)
    except MarketDataError:
        return "Next earnings: unavailable right now."


async def _next_earnings_line(shelf: PrimerShelf, context: Context, ticker: str) -> str:
    """The next report, from the earnings feature (admin dates included) or, without it,
    straight from the provider."""
    desk = shelf.earnings
    if desk is not None:
        report = await desk.next_report(ticker)
        if report is not None:
            when = desk.trading_days_until(report.day)
            days = "today" if when == 0 else f"in {when} trading day{'s' if when != 1 else ''}"
            return f"Next earnings: {day_name(report.day)}, {report.timing} ({days})."
        return "Next earnings: no date known."
    try:
        events = await context.market.earnings(ticker)
    except MarketDataError:
        events = []
    today = context.calendar.local_date(context.clock.now())
    upcoming = next((e for e in events if e.day >= today), None)
    if upcoming is not None:
        return f"Next earnings: {day_name(upcoming.day)}, {timing_words(upcoming.time.value)}."
    return "Next earnings: no date known."


async def primer_card(
    shelf: PrimerShelf, context: Context, ticker: str, quote: Quote, *, stale: str | None = None, deadline: float | None = None
) -> Reply:
    """The primer as a card: numbers from the provider, words from the seed file, a chart. The
    provider's figures are asked together, each by `deadline`; what does not come in time reads
    "unavailable"."""
    primer = shelf.primers.get(ticker)
    fundamentals, bars, earnings_line = await asyncio.gather(
        fetch_fundamentals(context, ticker, deadline),
        primer_history(context, ticker, quote, deadline),
        _earnings_line_by(shelf, context, ticker, deadline),
    )
    price = quote.price

    name = primer.name if primer else (fundamentals.name if fundamentals and fundamentals.name else None)
    title = f"{ticker} · {name}" if name else ticker
    lines: list[str] = []
    if primer:
        lines.append(primer.summary)
    else:
        lines.append(f"No analyst notes for {ticker} yet: the live figures only.")
    lines.append(f"Now {quote_line(quote, context)}.")
    if stale:
        lines.append(stale)

    closes = [bar.close for bar in bars]
    low, high = min(closes), max(closes)
    first = bars[0].day
    span = "52-week range" if first <= quote.session - timedelta(days=RANGE_DAYS - 7) else f"Range since {first.isoformat()}"
    where = (price - low) / (high - low) * 100 if high > low else 100.0
    below = (1 - price / high) * 100
    peak = "at the high" if below < 0.005 else f"{below:.1f}% below the high"
    lines.append(f"{span} {money(low)} – {money(high)} (closes): at {where:.0f}% of it, {peak}.")

    levels = await context.rules.analyst_levels(ticker)
    if levels:
        parts = []
        for rule in levels:
            text = f"{rule.level_name} {level_value_text(rule)}"
            if level_is_active(rule):
                text += f" ({pct((rule.threshold / price - 1) * 100, digits=1)})"
            written = level_written(rule, context.calendar.tz)
            if written is not None and (market_today(context) - written).days > STALE_NOTE_DAYS:
                text += f" [stale: written {written.isoformat()}]"
            parts.append(text)
        lines.append("Levels: " + " · ".join(parts))
    elif primer:
        lines.append("Levels: none set.")
    if primer:
        lines.extend(f"• {bullet}" for bullet in primer.thesis)
    lines.append(earnings_line)
    if shelf.catalysts is not None and (catalyst := await shelf.catalysts.next_of(ticker)) is not None:
        when = shelf.catalysts.trading_days_until(catalyst.day)
        until = "today" if when == 0 else f"in {when} trading day{'s' if when != 1 else ''}"
        lines.append(f"Next catalyst: {catalyst.name}, {day_name(catalyst.day)} ({until}).")

    f = fundamentals
    fields = (
        Field("Market cap", big_number(f.market_cap) if f and f.market_cap else "unavailable"),
        Field("P/E trailing · forward", f"{_number(f.trailing_pe if f else None)} · {_number(f.forward_pe if f else None)}"),
        Field("Gross margin", f"{f.gross_margin * 100:.1f}%" if f and f.gross_margin is not None else "unavailable"),
    )
    footer = "Figures from the data provider · not investment advice"
    if primer and primer.updated:
        days = (market_today(context) - primer.updated).days
        age = "written today" if days == 0 else ("dated after today" if days < 0 else f"{days} day{'s' if days != 1 else ''} old")
        if days > STALE_NOTE_DAYS:
            age += f", stale: older than {STALE_NOTE_DAYS} days"
        footer = f"Notes as of {primer.updated.isoformat()} ({age}) · figures from the data provider · not investment advice"
    image = await _chart(ticker, bars, levels, quote.session)
    change = quote.change_pct
    return Reply(
        title=title,
        lines=tuple(lines),
        fields=fields,
        tone=Tone.NEUTRAL if not change else (Tone.UP if change > 0 else Tone.DOWN),
        footer=footer,
        image=image,
        actions=(Action("Earnings", "earnings", (ticker,)), Action("Levels", "levels", (ticker,))),
    )


def chart_window(bars: list[Bar], session: date) -> list[Bar]:
    """The chart's bars: about six months up to the session."""
    return [bar for bar in bars if bar.day >= session - timedelta(days=CHART_DAYS)]


def chart_levels(levels: list[Rule]) -> list[tuple[str, float]]:
    """The levels a chart draws: the active ones (an inactive valuation level has no price)."""
    return [(str(rule.level_name), rule.threshold) for rule in levels if level_is_active(rule)]


async def _chart(ticker: str, bars: list[Bar], levels: list[Rule], session: date) -> Image | None:
    from bot.features.primer.chart import render_chart_async  # matplotlib loads on the first chart, not at start

    window = chart_window(bars, session)
    drawn = chart_levels(levels)
    try:
        png = await render_chart_async(ticker, window, drawn)
    except ValueError:
        log.warning("primer: no chart for %s (%d bars)", ticker, len(window))
        return None
    names = ", ".join(name for name, _ in drawn)
    description = f"{ticker}: six months of daily closes" + (f" with the analyst's levels ({names})" if names else "")
    return Image(filename=f"{ticker.replace('^', '')}-{session.isoformat()}.png", data=png, description=description)
