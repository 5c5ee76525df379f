"""The analyst's levels from the primer seeds, and the daily refresh of valuation levels.

A seed level takes effect from its notes' date (`updated`): before it (a replay of earlier
years) the level does not exist; the morning job seeds it on that date. It records that date as
when it was written, for the note's age in /levels and /primer.

Each seed level becomes the analyst's level unless storage already holds a level of that name:
a level set (or cleared) in chat wins and survives restarts. A seed is applied once; it is
applied again only when the analyst changes that level in the file, and then only if the stored
level still holds the old seed (so a level changed in chat is never overwritten).

Valuation levels (`pe`/`fpe` multiples) follow the provider's EPS: their price is refreshed
every morning, and is 0 (inactive: it can never fire) while EPS is missing.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, time

from bot.core.handlers import fetch_fundamentals, is_valuation_level
from bot.core.market import Fundamentals, MarketDataError, Quote
from bot.core.models import LevelName, Rule
from bot.core.router import Context
from bot.core.valuation import valuation_price
from bot.features.primer.seeds import Primer, PrimerLevel

log = logging.getLogger(__name__)



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
    seeds = context.store.seeds
    now = context.clock.now()
    today = now.astimezone(context.calendar.tz).date()
    todo: list[tuple[Primer, PrimerLevel, str]] = []
    for primer in primers.values():
        if primer.updated is not None and primer.updated > today:
            continue  # its notes were not written yet: the morning job seeds them on their date
        stored = {r.level_name.value: r for r in await context.rules.analyst_levels(primer.ticker) if r.level_name}
        for level in primer.levels:
            spec = seed_spec(level)
            applied = await seeds.applied(primer.ticker, level.name)
            if applied == spec:
                continue  # seeded before: what chat did since (a new level, a clear) stands
            existing = stored.get(level.name)
            if existing is not None and (applied is None or not _holds_spec(existing, applied)):
                await seeds.record(primer.ticker, level.name, spec, now=now)  # set in chat: it wins
                continue
            todo.append((primer, level, spec))
    if not todo:
        return []
    tickers = sorted({primer.ticker for primer, _, _ in todo})
    quotes: dict[str, Quote] = {}
    try:
        quotes = await context.market.quotes(tickers)
    except MarketDataError as problem:
        log.warning("primer seeds: no quotes at start (%s); levels take their direction from their names", problem.reason)
    fundamentals: dict[str, Fundamentals | None] = {}
    created = []
    for primer, level, spec in todo:
        price = level.price
        if level.multiple is not None and level.basis is not None:
            if primer.ticker not in fundamentals:
                fundamentals[primer.ticker] = await fetch_fundamentals(context, primer.ticker)
            price = valuation_price(fundamentals[primer.ticker], level.multiple, level.basis)
        rule = await context.rules.set_analyst_level(
            primer.ticker, LevelName(level.name), price, level.note, quotes.get(primer.ticker),
            multiple=level.multiple, basis=level.basis, written_at=_notes_moment(primer, context),
        )
        await seeds.record(primer.ticker, level.name, spec, now=now)
        created.append(rule)
    log.info("primer seeds: %d analyst levels created from %s", len(created), ", ".join(tickers))
    return created


def _notes_moment(primer: Primer, context: Context) -> datetime | None:
    """When a seed level was written: the start of its notes' date in the exchange's zone."""
    if primer.updated is None:
        return None
    return datetime.combine(primer.updated, time(0, 0), tzinfo=context.calendar.tz)


# -- valuation levels --------------------------------------------------------------------


async def refresh_valuation_levels(context: Context) -> list[Rule]:
    """Move every valuation level to multiple x today's EPS (0, inactive, when EPS is unusable).
    A provider error leaves a ticker's levels as they were. Returns the levels that moved."""
    levels = [rule for rule in await context.rules.analyst_levels() if is_valuation_level(rule)]
    if not levels:
        return []
    tickers = sorted({rule.ticker for rule in levels})
    quotes: dict[str, Quote] = {}
    try:
        quotes = await context.market.quotes(tickers)
    except MarketDataError as problem:
        log.warning("valuation levels: no quotes (%s); directions follow the level names", problem.reason)
    moved: list[Rule] = []
    for ticker in tickers:
        try:
            fundamentals = await context.market.fundamentals(ticker)
        except MarketDataError as problem:
            log.warning("valuation levels: no fundamentals for %s now (%s); its levels keep yesterday's price", ticker, problem.reason)
            continue
        if fundamentals is None:  # nothing at all came back: an outage, not a missing EPS
            log.warning("valuation levels: the provider returned no fundamentals for %s; its levels keep yesterday's price", ticker)
            continue
        moves = []
        for rule in (r for r in levels if r.ticker == ticker):
            assert rule.multiple is not None and rule.basis is not None and rule.level_name is not None
            price = valuation_price(fundamentals, rule.multiple, rule.basis) or 0.0
            if not math.isclose(price, rule.threshold, rel_tol=1e-9, abs_tol=1e-9):
                moves.append((rule, price))
        moved += await context.rules.move_valuation_levels(ticker, moves, quotes.get(ticker))
    if moved:
        log.info("valuation levels: %d moved with EPS", len(moved))
    return moved


