"""Mini-primers: `/primer TICKER`, the seed levels, and the daily refresh of valuation levels.

On start the primer files in `seeds/primers/` are loaded and validated (a broken file stops
start-up with a ConfigError naming the file and the field). Each seed level becomes the
analyst's level unless storage already holds a level of that name: a level set (or cleared)
in chat wins and survives restarts. A seed is applied once; it is applied again only when the
analyst changes that level in the file, and then only if the stored level still holds the old
seed (so a level changed in chat is never overwritten).

Valuation levels (`pe`/`fpe` multiples) follow the provider's EPS: their price is refreshed
every morning at 08:00 New York, and is 0 (inactive: it can never fire) while EPS is missing.
"""

from __future__ import annotations

import logging
import math
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import bot
from bot.app import App, register_feature
from bot.config import ConfigError
from bot.core.commands import Command
from bot.core.describe import NEW_YORK, big_number, day_name, money, pct
from bot.core.handlers import (
    TICKER_ARG,
    fetch_fundamentals,
    fetch_quote,
    initial_state,
    is_valuation_level,
    level_direction,
    level_is_active,
    level_value_text,
    quote_line,
    set_analyst_level,
    valuation_price,
)
from bot.core.messages import Action, Field, Image, Reply, Tone
from bot.core.models import LevelName, Rule
from bot.core.router import Context, Invocation
from bot.market.base import Bar, Fundamentals, MarketDataError, Quote
from bot.primers.seeds import Primer, PrimerError, PrimerLevel, load_primers
from jobs.earnings import TIMING_WORDS

log = logging.getLogger(__name__)

PRIMER_FOLDER = Path(bot.__file__).resolve().parent.parent / "seeds" / "primers"
REFRESH_AT = time(8, 0)  # valuation levels follow EPS: refreshed before the open
CHART_DAYS = 183  # about six months of daily closes
RANGE_DAYS = 365


@register_feature
async def primer_feature(app: App) -> None:
    await install(app)


async def install(app: App, *, folder: Path = PRIMER_FOLDER) -> dict[str, Primer]:
    """Load the primers (or stop start-up with a clear error), seed the analyst's levels,
    add /primer and the daily refresh of valuation levels."""
    try:
        primers = load_primers(folder)
    except PrimerError as problem:
        raise ConfigError(str(problem)) from None
    context = app.context
    context.extras["primers"] = primers
    await seed_levels(context, primers)
    context.commands.add(
        Command("primer", "A company's mini-primer: live figures, the analyst's levels and thesis, and a chart", primer_command,
                args=(TICKER_ARG,), examples=("/primer NVDA", "/primer ^SOX"),
                details="Price and day change, the 52-week range, market cap, P/E and gross margin from the data provider, "
                        "the analyst's levels with the distance to each, the thesis, the next earnings date, and a six-month chart.")
    )

    async def refresh(day: date) -> None:
        await refresh_valuation_levels(context)

    app.daily_jobs.append((REFRESH_AT, refresh))
    return primers


# -- seed levels -------------------------------------------------------------------------


def seed_spec(level: PrimerLevel) -> str:
    """A seed level as text, to notice when the analyst changes it in the file."""
    if level.price is not None:
        return f"price:{level.price!r}"
    return f"multiple:{level.multiple!r}:{level.basis}"


def _holds_spec(rule: Rule, spec: str) -> bool:
    kind, _, rest = spec.partition(":")
    if kind == "price":
        return rule.multiple is None and math.isclose(rule.threshold, float(rest), rel_tol=1e-9)
    multiple, _, basis = rest.partition(":")
    return rule.multiple is not None and math.isclose(rule.multiple, float(multiple), rel_tol=1e-9) and rule.basis == basis


async def seed_levels(context: Context, primers: dict[str, Primer]) -> list[Rule]:
    """Create the seed levels storage does not hold yet; returns the levels created or updated."""
    store = context.store
    now = context.clock.now()
    todo: list[tuple[Primer, PrimerLevel, str]] = []
    for primer in primers.values():
        stored = {r.level_name.value: r for r in await store.analyst_levels(primer.ticker) if r.level_name}
        for level in primer.levels:
            spec = seed_spec(level)
            applied = await store.primer_seed(primer.ticker, level.name)
            if applied == spec:
                continue  # seeded before: what chat did since (a new level, a clear) stands
            existing = stored.get(level.name)
            if existing is not None and (applied is None or not _holds_spec(existing, applied)):
                await store.record_primer_seed(primer.ticker, level.name, spec, now=now)  # set in chat: it wins
                continue
            todo.append((primer, level, spec))
    if not todo:
        return []
    tickers = sorted({primer.ticker for primer, _, _ in todo})
    quotes: dict[str, Quote] = {}
    try:
        quotes = await context.market.quotes(tickers)
    except MarketDataError:
        log.warning("primer seeds: no quotes at start; levels take their direction from their names")
    fundamentals: dict[str, Fundamentals | None] = {}
    created = []
    for primer, level, spec in todo:
        price = level.price
        if level.multiple is not None and level.basis is not None:
            if primer.ticker not in fundamentals:
                fundamentals[primer.ticker] = await fetch_fundamentals(context, primer.ticker)
            price = valuation_price(fundamentals[primer.ticker], level.multiple, level.basis)
        rule = await set_analyst_level(
            context, primer.ticker, LevelName(level.name), price, level.note, quotes.get(primer.ticker),
            multiple=level.multiple, basis=level.basis,
        )
        await context.store.record_primer_seed(primer.ticker, level.name, spec, now=now)
        created.append(rule)
    log.info("primer seeds: %d analyst levels created from %s", len(created), ", ".join(tickers))
    return created


# -- valuation levels --------------------------------------------------------------------


async def refresh_valuation_levels(context: Context) -> list[Rule]:
    """Move every valuation level to multiple x today's EPS (0, inactive, when EPS is unusable).
    A provider error leaves a ticker's levels as they were. Returns the levels that moved."""
    levels = [rule for rule in await context.store.analyst_levels() if is_valuation_level(rule)]
    if not levels:
        return []
    tickers = sorted({rule.ticker for rule in levels})
    quotes: dict[str, Quote] = {}
    try:
        quotes = await context.market.quotes(tickers)
    except MarketDataError:
        log.warning("valuation levels: no quotes; directions follow the level names")
    moved: list[Rule] = []
    engine = context.engine
    for ticker in tickers:
        try:
            fundamentals = await context.market.fundamentals(ticker)
        except MarketDataError:
            log.warning("valuation levels: no fundamentals for %s now; its levels keep yesterday's price", ticker)
            continue
        if fundamentals is None:  # nothing at all came back: an outage, not a missing EPS
            log.warning("valuation levels: the provider returned no fundamentals for %s; its levels keep yesterday's price", ticker)
            continue
        changed = False
        for rule in (r for r in levels if r.ticker == ticker):
            assert rule.multiple is not None and rule.basis is not None and rule.level_name is not None
            price = valuation_price(fundamentals, rule.multiple, rule.basis) or 0.0
            if math.isclose(price, rule.threshold, rel_tol=1e-9, abs_tol=1e-9):
                continue
            quote = quotes.get(ticker)
            rule.threshold = price
            rule.direction = level_direction(rule.level_name, price, quote)
            initial_state(context, rule, quote)
            await context.store.update_level_price(rule.id, threshold=price, direction=rule.direction, armed=rule.armed)
            moved.append(rule)
            changed = True
        if changed:
            engine.replace_ticker(ticker, await context.store.rules_for_ticker(ticker), engine.state(ticker))
    if moved:
        log.info("valuation levels: %d moved with EPS", len(moved))
    return moved


# -- /primer -----------------------------------------------------------------------------


async def primer_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    quote = await fetch_quote(context, ticker)  # an unknown ticker gets the core's clear reply
    return await primer_card(context, ticker, quote)


def _number(value: float | None, digits: int = 1) -> str:
    return "unavailable" if value is None else f"{value:,.{digits}f}"


async def primer_history(context: Context, ticker: str, quote: Quote) -> list[Bar]:
    """A year of daily bars as of now: the finished sessions before the quote's, then the
    quote itself as the last bar (so a chart in mid-session ends at the current price)."""
    start = quote.session - timedelta(days=RANGE_DAYS)
    try:
        bars = await context.market.history(ticker, start, quote.session)
    except MarketDataError:
        bars = []
    bars = [bar for bar in bars if bar.day < quote.session and bar.close > 0]
    open_ = quote.day_open or quote.price
    high = max(quote.day_high or quote.price, quote.price)
    low = min(quote.day_low or quote.price, quote.price)
    bars.append(Bar(quote.session, open_, high, low, quote.price))
    return bars


async def _next_earnings_line(context: Context, ticker: str) -> str:
    """The next report, from the earnings desk (admin dates included) or, without the earnings
    feature, straight from the provider."""
    desk = context.extras.get("earnings")
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
    today = context.clock.now().astimezone(NEW_YORK).date()
    upcoming = next((e for e in events if e.day >= today), None)
    if upcoming is not None:
        return f"Next earnings: {day_name(upcoming.day)}, {TIMING_WORDS[upcoming.time]}."
    return "Next earnings: no date known."


async def primer_card(context: Context, ticker: str, quote: Quote) -> Reply:
    """The primer as a card: numbers from the provider, words from the seed file, a chart."""
    primers: dict[str, Primer] = context.extras.get("primers", {})
    primer = primers.get(ticker)
    fundamentals = await fetch_fundamentals(context, ticker)
    bars = await primer_history(context, ticker, quote)
    price = quote.price

    name = primer.name if primer else (fundamentals.name if fundamentals and fundamentals.name else None)
    title = f"{ticker} · {name}" if name else ticker
    lines: list[str] = []
    if primer:
        lines.append(primer.summary)
    else:
        lines.append(f"No analyst notes for {ticker} yet: the live figures only.")
    lines.append(f"Now {quote_line(quote, context)}.")

    closes = [bar.close for bar in bars]
    low, high = min(closes), max(closes)
    first = bars[0].day
    span = "52-week range" if first <= quote.session - timedelta(days=RANGE_DAYS - 7) else f"Range since {first.isoformat()}"
    where = (price - low) / (high - low) * 100 if high > low else 100.0
    below = (1 - price / high) * 100
    peak = "at the high" if below < 0.005 else f"{below:.1f}% below the high"
    lines.append(f"{span} {money(low)} – {money(high)} (closes): at {where:.0f}% of it, {peak}.")

    levels = await context.store.analyst_levels(ticker)
    if levels:
        parts = []
        for rule in levels:
            text = f"{rule.level_name} {level_value_text(rule)}"
            if level_is_active(rule):
                text += f" ({pct((rule.threshold / price - 1) * 100, digits=1)})"
            parts.append(text)
        lines.append("Levels: " + " · ".join(parts))
    elif primer:
        lines.append("Levels: none set.")
    if primer:
        lines.extend(f"• {bullet}" for bullet in primer.thesis)
    lines.append(await _next_earnings_line(context, ticker))

    f = fundamentals
    fields = (
        Field("Market cap", big_number(f.market_cap) if f and f.market_cap else "unavailable"),
        Field("P/E trailing · forward", f"{_number(f.trailing_pe if f else None)} · {_number(f.forward_pe if f else None)}"),
        Field("Gross margin", f"{f.gross_margin * 100:.1f}%" if f and f.gross_margin is not None else "unavailable"),
    )
    footer = "Figures from the data provider · not investment advice"
    if primer and primer.updated:
        footer = f"Notes as of {primer.updated.isoformat()} · figures from the data provider · not investment advice"
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
    from bot.primers.chart import render_chart_async  # matplotlib loads on the first chart, not at start

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
