"""The core commands: help, prices, members' alerts, chat watches and the analyst's levels."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any, TypeVar

from bot.core.backtest import LOOKBACK_DAYS, PEAK_WARMUP_DAYS, backtest
from bot.core.commands import Access, Arg, ArgKind, Command, CommandTable, parse_number
from bot.core.describe import market_time, money, pct, plain_pct
from bot.core.engine import condition_holds, is_rising
from bot.core.errors import UserError
from bot.core.indicators import HISTORY_DAYS, MAX_PERIOD, MIN_PERIOD, RSI_PERIOD, condition_name, is_indicator_rule
from bot.core.lifecycle import lifecycle_line, lifecycle_text, parse_alert_options
from bot.core.market import Fundamentals, MarketDataError, Quote, RateLimited
from bot.core.messages import Action, Field, Reply, Tone
from bot.core.models import Direction, LevelName, Rule, RuleKind, RuleSource, parse_ticker
from bot.core.router import Context, Invocation
from bot.core.valuation import EPS_BASES, valuation_price

log = logging.getLogger(__name__)

MAX_PCT_MOVE = 1000.0
MAX_PLAUSIBLE_MOVE = 50.0  # a daily move alert above this is refused as impossible-looking
MAX_PLAUSIBLE_DRAWDOWN = 95.0  # and a drawdown alert above this
TICKER_ARG = Arg("ticker", ArgKind.TICKER, "A ticker such as NVDA, TSM or ^SOX")


# -- shared helpers --------------------------------------------------------------------


def unknown_ticker(ticker: str) -> UserError:
    return UserError(f"Unknown ticker {ticker}: the market data has no price for it. Check the symbol (indexes start with ^, like ^SOX).")


def unavailable_text(problem: MarketDataError) -> str:
    """'Market data is unavailable: cannot reach Yahoo Finance: DNS lookup failed. Try again in a minute.'"""
    again = "Try again after that." if isinstance(problem, RateLimited) else "Try again in a minute."
    return f"Market data is unavailable: {problem.reason}. {again}"


async def fetch_quote(context: Context, ticker: str) -> Quote:
    """The latest quote, or a UserError that says why there is none."""
    quotes = await fetch_quotes(context, [ticker])
    quote = quotes.get(ticker)
    if quote is None:
        raise unknown_ticker(ticker)
    return quote


T = TypeVar("T")


def answer_deadline(context: Context) -> float:
    """When an interactive command must have its data: `answer_within_seconds` from now (loop time)."""
    return asyncio.get_running_loop().time() + context.settings.answer_within_seconds


async def within(context: Context, work: Awaitable[T], deadline: float | None = None) -> T:
    """A data-provider call bounded by the command's deadline; past it, a MarketDataError that says so."""
    deadline = answer_deadline(context) if deadline is None else deadline
    try:
        return await asyncio.wait_for(work, max(0.0, deadline - asyncio.get_running_loop().time()))
    except TimeoutError:
        limit = context.settings.answer_within_seconds
        raise MarketDataError(f"the market data provider did not answer within {limit:g} s") from None


async def ask_quotes(context: Context, tickers: list[str], deadline: float | None = None) -> dict[str, Quote]:
    """The latest quotes within the command's deadline, remembered as the last known; or a MarketDataError."""
    quotes = await within(context, context.market.quotes(tickers), deadline)
    context.quotes.remember(quotes)
    return quotes


async def quote_or_last(context: Context, ticker: str, deadline: float | None = None) -> tuple[Quote, str | None]:
    """The quote now; or, when the provider cannot answer in time, the last one seen with a
    sentence saying how old it is and why; else the UserError that says why there is none."""
    try:
        quote = (await ask_quotes(context, [ticker], deadline)).get(ticker)
    except MarketDataError as problem:
        last = context.quotes.last(ticker)
        if last is None:
            raise UserError(unavailable_text(problem)) from None
        age = max(0, int((context.clock.now() - last.at).total_seconds()))
        return last, f"That is the last known price, {age // 60} min {age % 60} s old: {problem.reason}."
    if quote is None:
        raise unknown_ticker(ticker)
    return quote, None


async def fetch_quotes(context: Context, tickers: list[str]) -> dict[str, Quote]:
    """The latest quotes, or a UserError that says why the market data is unavailable."""
    try:
        return await ask_quotes(context, tickers)
    except MarketDataError as problem:
        log.warning("market data unavailable for %s: %s", ",".join(tickers[:5]), problem.reason)
        raise UserError(unavailable_text(problem)) from None


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a command that saves something learned of its tickers: their quotes, or, when the
    market data cannot be asked now, why (`outage`), and the command is saved unverified."""

    quotes: dict[str, Quote]
    outage: MarketDataError | None = None

    def quote(self, ticker: str) -> Quote | None:
        return self.quotes.get(ticker)

    def saved_unverified(self, tickers: str) -> str:
        """The first line of a reply saved during an outage."""
        reason = self.outage.reason if self.outage else "no answer"
        return f"Saved anyway: the market data provider cannot be reached now ({reason}), so {tickers} could not be verified."


async def look_up(context: Context, tickers: list[str]) -> Lookup:
    """The quotes of tickers a command is about to save. When the provider cannot answer now,
    a Lookup with the reason (the command is saved, and checked at the first price); when it
    answers without a ticker, a UserError (an unknown ticker is refused, as always)."""
    try:
        quotes = await ask_quotes(context, tickers)
    except MarketDataError as problem:
        log.warning("market data unavailable for %s: %s; saved unverified", ",".join(tickers[:5]), problem.reason)
        return Lookup({}, problem)
    unknown = [t for t in tickers if t not in quotes]
    if len(unknown) == 1:
        raise unknown_ticker(unknown[0])
    if unknown:
        raise UserError(f"Unknown tickers {', '.join(unknown)}: the market data has no price for them.")
    return Lookup(quotes)


def quote_line(quote: Quote, context: Context) -> str:
    """'$118.42, −16.97% today' or, for an earlier session, '... (close of 2025-01-24)'."""
    change = f", {pct(quote.change_pct)}" if quote.change_pct is not None else ""
    today = context.calendar.last_closed_or_open_session(context.clock.now())
    if quote.session < today or quote.final:
        return f"{money(quote.price)}{change} (close of {quote.session.isoformat()})"
    return f"{money(quote.price)}{change} today"


def rule_label(rule: Rule) -> str:
    if rule.kind is RuleKind.ABOVE:
        return f"{rule.ticker} above {money(rule.threshold)}"
    if rule.kind is RuleKind.BELOW:
        return f"{rule.ticker} below {money(rule.threshold)}"
    if rule.kind is RuleKind.MOVE:
        way = {"up": "up ", "down": "down ", "either": ""}[rule.direction.value]
        return f"{rule.ticker} moves {way}{plain_pct(rule.threshold)} in a day"
    if rule.kind is RuleKind.DRAWDOWN:
        return f"{rule.ticker} {plain_pct(rule.threshold)} below its peak"
    if rule.kind is RuleKind.MA:
        return f"{rule.ticker} {'above' if rule.direction is Direction.UP else 'below'} its {condition_name(rule).upper()}"
    if rule.kind is RuleKind.RSI:
        return f"{rule.ticker} RSI({rule.period}) {'above' if rule.direction is Direction.UP else 'below'} {rule.threshold:g}"
    if rule.kind is RuleKind.CHANGE:
        way = {"up": "up ", "down": "down ", "either": ""}[rule.direction.value]
        return f"{rule.ticker} moves {way}{plain_pct(rule.threshold)} over {rule.period} sessions"
    name = rule.level_name.value if rule.level_name else "level"
    return f"{rule.ticker} {name} {money(rule.threshold)}"


def rule_status(rule: Rule, now: datetime, zone: tzinfo) -> str:
    if rule.snoozed_until and rule.snoozed_until > now:
        return f"snoozed until {market_time(rule.snoozed_until, zone)}"
    if rule.armed is None:
        return "waiting for the first price"
    if rule.armed:
        return "armed"
    if rule.kind is RuleKind.MOVE:
        return "fired this session; re-arms next session"
    if rule.kind is RuleKind.DRAWDOWN:
        return "fired; re-arms after a new peak"
    if rule.kind in (RuleKind.RSI, RuleKind.CHANGE):
        return "fired; re-arms when it moves back past the band"
    return "fired; re-arms when the price moves back"


def when_data_returns(rule: Rule) -> str:
    """What a rule saved without a price checks at its first price (the same test as with one)."""
    if is_indicator_rule(rule):
        return f"When data returns: the daily closes are read, and if {rule_label(rule)} already holds, it waits for the next crossing."
    if rule.kind is RuleKind.MOVE:
        return f"When data returns: if the session's move has already reached {plain_pct(rule.threshold)}, the alert starts with the next session."
    if rule.kind is RuleKind.DRAWDOWN:
        return (f"When data returns: its peak (the 52-week high close) is read, and if {rule.ticker} is already "
                f"{plain_pct(rule.threshold)} or more below it, the alert waits for a new peak.")
    side = "above" if is_rising(rule) else "below"
    return f"When data returns: if {rule.ticker} is already {side} {money(rule.threshold)}, it waits for the next crossing."


def indicator_line(rule: Rule, figure: float) -> str:
    """'Its SMA200 is $141.20 now.' (with the price now counted as today's close)."""
    if rule.kind is RuleKind.MA:
        return f"Its {condition_name(rule).upper()} is {money(figure)} now."
    if rule.kind is RuleKind.RSI:
        return f"Its RSI({rule.period}) is {figure:.1f} now."
    return f"Its change over {rule.period} sessions is {pct(figure)} now."


def already_text(rule: Rule, quote: Quote | None, met: float | None) -> str | None:
    """A sentence for a new rule whose condition already holds (`RuleBook.add` found `met`)."""
    if quote is None or met is None:
        return None
    if rule.kind is RuleKind.MOVE:
        return f"{rule.ticker} has already moved {pct(met)} in the session of {quote.session.isoformat()}, so this alert starts with the next session."
    if rule.kind is RuleKind.DRAWDOWN:
        return f"{rule.ticker} has already been {met:.1f}% below its peak, so this alert waits for a new peak."
    if rule.kind is RuleKind.MA:
        side = "above" if rule.direction is Direction.UP else "below"
        return f"{rule.ticker} is already {side} its {condition_name(rule).upper()} ({money(met)}), so this alert waits for the next crossing."
    if rule.kind is RuleKind.RSI:
        return f"{rule.ticker}'s RSI({rule.period}) is already {met:.1f}, so this alert waits for the next crossing."
    if rule.kind is RuleKind.CHANGE:
        return f"{rule.ticker} has already moved {pct(met)} over {rule.period} sessions, so this alert waits until it is back and crosses again."
    side = "above" if is_rising(rule) else "below"
    return f"{rule.ticker} is already {side} {money(rule.threshold)} ({money(quote.price)}), so this alert waits for the next crossing."


# -- /help and /price ------------------------------------------------------------------


async def help_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    name = values.get("command")
    commands = context.commands
    if name:
        command = commands.get(name.lstrip("/"))
        if command is None:
            raise UserError(f"There is no /{name.lstrip('/')} command. Try /help for the list.")
        lines = [command.summary]
        if command.details:
            lines.append(command.details)
        lines.extend(f"  {arg.placeholder}: {arg.help}" for arg in command.args)
        if command.examples:
            lines.append("Examples: " + "   ".join(command.examples))
        if command.access is Access.ADMIN:
            lines.append("Only the bot's admins can run it.")
        elif command.access is Access.CHAT_MANAGER:
            lines.append("In a group, only chat admins can run it.")
        return Reply(title=command.usage, lines=tuple(lines))
    admin = context.is_admin(invocation.user)
    lines = []
    for command in commands:
        if command.access is Access.ADMIN and not admin:
            continue
        lines.append(f"{command.usage} · {command.summary}")
    footer = "Send /help COMMAND for details and examples."
    return Reply(title="tickerbell commands", lines=tuple(lines), footer=footer)


MAX_PRICE_TICKERS = 10


def price_tickers(values: dict[str, Any]) -> list[str]:
    """The tickers of /price: the first, then up to nine more (repeats dropped, order kept)."""
    tickers = [values["ticker"]]
    for word in (values.get("more") or "").replace(",", " ").split():
        ticker = parse_ticker(word)
        if ticker not in tickers:
            tickers.append(ticker)
    if len(tickers) > MAX_PRICE_TICKERS:
        raise UserError(f"/price takes at most {MAX_PRICE_TICKERS} tickers at once; that was {len(tickers)}.")
    return tickers


async def price_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    tickers = price_tickers(values)
    if len(tickers) > 1:
        return await prices_reply(context, tickers)
    quote, stale = await quote_or_last(context, tickers[0])
    fields = []
    if quote.prev_close:
        fields.append(Field("Previous close", money(quote.prev_close)))
    if quote.day_low and quote.day_high:
        fields.append(Field("Day range", f"{money(quote.day_low)} – {money(quote.day_high)}"))
    tone = Tone.NEUTRAL if not quote.change_pct else (Tone.UP if quote.change_pct > 0 else Tone.DOWN)
    return Reply(
        title=f"{quote.ticker} {quote_line(quote, context)}",
        lines=(stale,) if stale else (),
        fields=tuple(fields),
        tone=tone,
        footer=f"Price as of {market_time(quote.at, context.calendar.tz)}",
    )


async def prices_reply(context: Context, tickers: list[str]) -> Reply:
    """/price NVDA AVGO TSM: one line each, asked together under one deadline. When the provider
    cannot answer in time, the last known prices with their age; a ticker it does not know says so."""
    try:
        quotes, down = await ask_quotes(context, tickers), None
    except MarketDataError as problem:
        quotes, down = {}, problem
    lines = []
    for ticker in tickers:
        quote = quotes.get(ticker)
        if quote is not None:
            lines.append(f"{ticker} {quote_line(quote, context)}")
        elif down is not None and (last := context.quotes.last(ticker)) is not None:
            age = max(0, int((context.clock.now() - last.at).total_seconds()))
            lines.append(f"{ticker} {quote_line(last, context)} (last known, {age // 60} min {age % 60} s old)")
        elif down is not None:
            lines.append(f"{ticker}: no price right now")
        else:
            lines.append(f"{ticker}: unknown ticker (the market data has no price for it)")
    if down is None and not quotes:
        raise UserError(f"Unknown tickers {', '.join(tickers)}: the market data has no price for them.")
    if down is not None and not any("last known" in line for line in lines):
        raise UserError(unavailable_text(down))
    footer = unavailable_text(down) if down is not None else f"Prices as of {market_time(context.clock.now(), context.calendar.tz)}"
    return Reply(title=f"Prices of {len(tickers)} tickers", lines=tuple(lines), footer=footer)


# -- members' alerts -------------------------------------------------------------------


_MA_WORD = re.compile(r"^(sma|ema)(\d{1,4})$")


def _alert_value(command: Command | None, raw: str) -> float:
    try:
        return parse_number(raw, name="value")
    except UserError as problem:
        raise (command.usage_error(problem.message) if command else problem) from None


async def alert_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker: str = values["ticker"]
    condition: str = values["condition"]
    raw_value: str = values["value"]
    command = context.commands.get("alert")
    option_words = values.get("options")
    indicator: str | None = None
    period: int | None = None
    value = 0.0
    if condition == "rsi":  # /alert NVDA rsi below 30: the side is the value, the level the first option
        side = raw_value.strip().lower()
        words = (option_words or "").split()
        if side not in ("above", "below") or not words:
            raise UserError(f"Say rsi above or rsi below and a level from 1 to 99, like /alert {ticker} rsi below 30.")
        value = _alert_value(command, words[0])
        option_words = " ".join(words[1:])
        if not 0 < value < 100:
            raise UserError(f"An RSI level is between 0 and 100, like /alert {ticker} rsi below 30 or rsi above 70.")
    elif condition in ("above", "below") and (ma := _MA_WORD.match(raw_value.strip().lower())):
        indicator, period = ma.group(1), int(ma.group(2))
        if not MIN_PERIOD <= period <= MAX_PERIOD:
            raise UserError(f"A moving average is {MIN_PERIOD} to {MAX_PERIOD} sessions long, like /alert {ticker} {condition} {indicator}200.")
    else:
        value = _alert_value(command, raw_value)
    try:
        options = parse_alert_options(option_words, today=context.calendar.local_date(context.clock.now()))
    except UserError as problem:
        raise (command.usage_error(problem.message) if command else problem) from None
    direction_word: str | None = options.direction
    if direction_word and condition != "move":
        raise UserError(f"up/down/either only goes with move, as in /alert {ticker} move 10 down.")
    if options.sessions is not None and condition != "move":
        raise UserError(f"over Nd only goes with move, as in /alert {ticker} move -10 over 5d.")
    if condition == "rsi":
        kind, direction, indicator, period = RuleKind.RSI, Direction.UP if raw_value.strip().lower() == "above" else Direction.DOWN, "rsi", RSI_PERIOD
    elif indicator is not None:
        kind, direction = RuleKind.MA, Direction.UP if condition == "above" else Direction.DOWN
    elif condition in ("above", "below"):
        if not 0 < value <= 10_000_000:
            raise UserError(f"The price must be above 0, like /alert {ticker} {condition} 120.")
        kind = RuleKind(condition)
        direction = Direction.EITHER
    elif condition == "move":
        if value < 0 and not direction_word:
            direction_word = "down"
        value = abs(value)
        if not 0 < value <= MAX_PCT_MOVE:
            raise UserError(f"The move must be a percent above 0, like /alert {ticker} move 10.")
        if options.sessions is not None:
            kind, period = RuleKind.CHANGE, options.sessions
        elif value > MAX_PLAUSIBLE_MOVE:
            raise UserError(f"A daily move of {plain_pct(value)} looks impossible for a listed stock (more than {plain_pct(MAX_PLAUSIBLE_MOVE)} in a day), "
                            f"so the alert would never fire. Did you mean {plain_pct(value / 10)}? For example /alert {ticker} move 10.")
        else:
            kind = RuleKind.MOVE
        direction = Direction(direction_word or "either")
    else:
        value = abs(value)
        if not 0 < value < 100:
            raise UserError(f"The drawdown must be a percent between 0 and 100, like /alert {ticker} drawdown 20.")
        if value > MAX_PLAUSIBLE_DRAWDOWN:
            raise UserError(f"A drawdown of {plain_pct(value)} from the peak looks impossible (more than {plain_pct(MAX_PLAUSIBLE_DRAWDOWN)}: "
                            f"the company would be nearly worthless), so the alert would never fire in practice. For example /alert {ticker} drawdown 20.")
        kind = RuleKind.DRAWDOWN
        direction = Direction.DOWN

    owner = invocation.user
    if options.preview:
        return await preview_reply(context, Rule(id=0, ticker=ticker, kind=kind, threshold=value, source=RuleSource.MEMBER,
                                                 direction=direction, owner=owner, chat=invocation.chat, indicator=indicator, period=period))
    rule = Rule(id=0, ticker=ticker, kind=kind, threshold=value, source=RuleSource.MEMBER, direction=direction, owner=owner, chat=invocation.chat,
                once=options.once, expires_on=options.expires_on, indicator=indicator, period=period)
    if (existing := await context.rules.same_member_rule(rule)) is not None:
        raise UserError(f"You already have that alert: #{existing.id} {rule_label(existing)}. /alerts lists yours; /unalert {existing.id} removes it.")
    most = context.settings.max_alerts_per_user
    if await context.rules.count_member_rules(owner) >= most:
        raise UserError(f"You have {most} alerts, the most allowed. Remove one with /unalert ID first.")
    lookup = await look_up(context, [ticker])
    quote = lookup.quote(ticker)
    if kind is RuleKind.DRAWDOWN:
        await context.rules.seed_peak(ticker)  # while data is down it fails quietly: the check seeds it
    stored, met = await context.rules.add(rule, quote)
    if quote is None:
        lines = [lookup.saved_unverified(ticker), when_data_returns(stored)]
    else:
        lines = [f"Now {quote_line(quote, context)}."]
        if is_indicator_rule(stored) and (figure := context.rules.indicator_value(stored, quote)) is not None:
            lines.append(indicator_line(stored, figure))
        already = already_text(stored, quote, met)
        if already:
            lines.append(already)
        elif is_indicator_rule(stored) and stored.armed is None:
            lines.append(f"There are not enough daily closes for {rule_label(stored)} yet (or the history did not come): it starts once there are.")
    if (kept := lifecycle_line(stored)) is not None:
        lines.append(kept)
    if context.settings.look_back:
        lines.append(await look_back_line(context, stored, quote))
    where = "here" if invocation.chat.kind.value == "private" else "in this chat, mentioning you"
    lines.append(f"I'll tell you {where}. See yours with /alerts; remove it with /unalert {stored.id}.")
    return Reply(title=f"Alert #{stored.id} set: {rule_label(stored)}", lines=tuple(lines), tone=Tone.NEUTRAL)


async def look_back_line(context: Context, rule: Rule, quote: Quote | None) -> str:
    """How often the rule would have fired over the last three years of daily bars (`bot.core.backtest`)."""
    if quote is None:  # the provider did not answer just now: do not make the member wait for it twice
        return "How often it would have fired is told once the market data provider answers again (try /alert ... preview later)."
    session = quote.session
    start = session - timedelta(days=LOOKBACK_DAYS)
    warmup = HISTORY_DAYS if is_indicator_rule(rule) else PEAK_WARMUP_DAYS  # the closes the first day's figures come from
    try:
        bars = await within(context, context.market.history(rule.ticker, start - timedelta(days=warmup), session))
    except MarketDataError as problem:
        return f"How often it would have fired cannot be told now: {problem.reason}."
    finished = [bar for bar in bars if bar.day < session]  # not today's session, which is still being written
    result = backtest(rule, finished, start=start, zone=context.calendar.tz, rearm_band_pct=context.settings.rearm_band_pct)
    return result.sentence(since=start)


async def preview_reply(context: Context, rule: Rule) -> Reply:
    """/alert ... preview: where the ticker stands and how often the rule would have fired; nothing saved."""
    lookup = await look_up(context, [rule.ticker])
    quote = lookup.quote(rule.ticker)
    first = f"Now {quote_line(quote, context)}." if quote is not None else f"No price now: {lookup.outage.reason if lookup.outage else 'no answer'}."
    lines = (first, await look_back_line(context, rule, quote))
    return Reply(title=f"Preview, not saved: {rule_label(rule)}", lines=lines, footer="Send the same /alert without preview to save it.")


async def alerts_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    rules = await context.rules.member_rules(invocation.user)
    if not rules:
        return Reply(title="You have no alerts.", lines=("Set one with /alert NVDA below 120, /alert NVDA move 10 or /alert NVDA drawdown 20.",), private=True)
    now, zone = context.clock.now(), context.calendar.tz
    lines = tuple(f"#{r.id} {rule_label(r)} · {rule_status(r, now, zone)}{lifecycle_text(r)}" for r in rules)
    return Reply(title=f"Your alerts ({len(rules)})", lines=lines, footer="Remove one with /unalert ID.", private=True)


async def _own_rule(context: Context, invocation: Invocation, rule_id: int) -> Rule:
    rule = await context.rules.get(rule_id)
    if rule is None or rule.source is not RuleSource.MEMBER or rule.owner is None or rule.owner.key != invocation.user.key:
        raise UserError(f"You have no alert #{rule_id}. /alerts lists yours.")
    return rule


async def unalert_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    rule = await _own_rule(context, invocation, values["id"])
    await context.rules.remove([rule])
    return Reply(title=f"Removed alert #{rule.id}: {rule_label(rule)}.")


async def snooze_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    rule = await _own_rule(context, invocation, values["id"])
    days = 1 if values.get("days") is None else values["days"]
    if not 1 <= days <= 30:
        raise UserError("Snooze for 1 to 30 days, like /snooze 12 1.")
    until = context.clock.now() + timedelta(days=days)
    await context.rules.snooze(rule, until)
    quiet = f"{rule_label(rule)} is quiet until {market_time(until, context.calendar.tz)}."
    return Reply(title=f"Alert #{rule.id} snoozed for {days} day{'s' if days > 1 else ''}.", lines=(quiet,))


async def dm_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    prefs, user = context.store.prefs, invocation.user
    choice = values.get("choice")
    if choice is None:
        on = await prefs.wants_direct(user)
        where = "by direct message" if on else "in the chat where you set each one"
        return Reply(title=f"Your alerts come {where}.", lines=("Change it with /dm on or /dm off.",), private=True)
    on = choice == "on"
    await prefs.set_direct(user, on, now=context.clock.now())
    if on:
        lines = ("If you have never messaged the bot directly, open a direct chat with it first: platforms only let a bot write to people who did.",)
        return Reply(title="Your alerts now come by direct message.", lines=lines, private=True)
    return Reply(title="Your alerts now come in the chat where you set each one.", private=True)


# -- chat watches ----------------------------------------------------------------------


async def watch_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    lookup = await look_up(context, [ticker])
    quote = lookup.quote(ticker)
    added = await context.store.watches.add(invocation.chat, ticker, now=context.clock.now())
    await sync_watch_rules(context, ticker)
    own = await context.store.chat_settings.get(invocation.chat)
    selloff_pct = own.watch_pct("move", context.settings.selloff_pct)
    drawdown_pct = own.watch_pct("drawdown", context.settings.drawdown_pct)
    levels = await context.rules.analyst_levels(ticker)
    level_text = ", ".join(f"{r.level_name} {level_value_text(r)}" for r in levels if r.level_name) or "none set yet"
    title = f"This chat now follows {ticker}." if added else f"This chat already follows {ticker}."
    if quote is None:
        lines = [lookup.saved_unverified(ticker), "When data returns: its price and its peak (the 52-week high close) are read, and the watch starts from them."]
    else:
        lines = [f"Now {quote_line(quote, context)}."]
    lines.append(
        f"You'll hear when it crosses the analyst's levels ({level_text}), falls {plain_pct(selloff_pct)} in a day, "
        f"or falls {plain_pct(drawdown_pct)} from its peak."
    )
    return Reply(title=title, lines=tuple(lines))


async def unwatch_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    if not await context.store.watches.remove(invocation.chat, ticker):
        raise UserError(f"This chat does not follow {ticker}. /watchlist shows what it follows.")
    await sync_watch_rules(context, ticker)  # a percentage only this chat used goes
    return Reply(title=f"This chat no longer follows {ticker}.")


async def sync_watch_rules(context: Context, ticker: str) -> None:
    """A ticker's watch rules: the global percentages, and those its watching chats set."""
    selloffs: set[float] = set()
    drawdowns: set[float] = set()
    for chat in await context.store.watches.watchers(ticker):
        own = await context.store.chat_settings.get(chat)
        if own.selloff_pct is not None:
            selloffs.add(own.selloff_pct)
        if own.drawdown_pct is not None:
            drawdowns.add(own.drawdown_pct)
    await context.rules.ensure_watch_rules(ticker, selloff_pct=context.settings.selloff_pct, drawdown_pct=context.settings.drawdown_pct,
                                           extra_selloff=selloffs, extra_drawdown=drawdowns)


async def watchlist_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    tickers = await context.store.watches.of_chat(invocation.chat)
    if not tickers:
        return Reply(title="This chat follows no tickers.", lines=("Follow one with /watch NVDA.",))
    quotes, down = await quotes_or_reason(context, tickers)
    lines = tuple(f"{t}: {quote_line(quotes[t], context)}" if t in quotes else f"{t}: no price right now" for t in tickers)
    return Reply(title=f"This chat follows {len(tickers)} ticker{'s' if len(tickers) > 1 else ''}", lines=lines, footer=down)


async def quotes_or_reason(context: Context, tickers: list[str]) -> tuple[dict[str, Quote], str | None]:
    """Quotes for a list that reads well without them; when the provider cannot answer,
    none and a note that says why ('Market data is unavailable: ...')."""
    try:
        return await context.market.quotes(tickers), None
    except MarketDataError as problem:
        log.warning("market data unavailable for %s: %s", ",".join(tickers[:5]), problem.reason)
        return {}, unavailable_text(problem)


# -- the analyst's levels --------------------------------------------------------------


MAX_MULTIPLE = 1000.0


async def fetch_fundamentals(context: Context, ticker: str, deadline: float | None = None) -> Fundamentals | None:
    """The provider's fundamentals, or None when it has none or cannot answer in time."""
    try:
        return await within(context, context.market.fundamentals(ticker), deadline)
    except MarketDataError as problem:
        log.warning("fundamentals unavailable for %s: %s", ticker, problem.reason)
        return None


def is_valuation_level(rule: Rule) -> bool:
    return rule.multiple is not None and rule.basis in EPS_BASES


def level_is_active(rule: Rule) -> bool:
    """False for a valuation level without usable EPS (stored at price 0: it never fires)."""
    return rule.threshold > 0


def level_value_text(rule: Rule) -> str:
    """'$125.00', '45× trailing EPS = $129.38' or '45× trailing EPS (inactive: no trailing EPS)'."""
    if not is_valuation_level(rule):
        return money(rule.threshold)
    assert rule.multiple is not None and rule.basis is not None
    words = f"{rule.multiple:g}× {EPS_BASES[rule.basis]} EPS"
    if not level_is_active(rule):
        return f"{words} (inactive: no {EPS_BASES[rule.basis]} EPS from the data provider)"
    return f"{words} = {money(rule.threshold)}"


def parse_level_value(raw: str, note: str | None) -> tuple[float | None, float | None, str | None, str | None]:
    """The value of /setlevel: a price (120), or pe|fpe and a multiple (pe 45, fpe 40x).

    Typed as text the words come one by one (the multiple then starts the note); from a
    Discord option they come as one string ("pe 45"). Returns (price, multiple, basis, note).
    """
    words = raw.split()
    if not words:
        raise UserError("The price is missing: a price like 120, or pe 45 / fpe 40 for a multiple of trailing / forward EPS.")
    head = words[0].lower()
    rest = words[1:]
    note_words = (note or "").split()
    if head in EPS_BASES:
        if not rest:
            if not note_words:
                raise UserError(f"The multiple is missing after {head}: for example /setlevel NVDA exit {head} 45.")
            rest = [note_words.pop(0)]
        multiple = parse_number(rest[0].rstrip("xX×"), name="multiple")
        if not 0 < multiple <= MAX_MULTIPLE:
            raise UserError(f"The multiple must be above 0 and at most {MAX_MULTIPLE:g}, like {head} 45.")
        extra = rest[1:] + note_words
        return None, multiple, head, " ".join(extra) or None
    try:
        price = parse_number(words[0], name="price")
    except UserError:
        raise UserError(
            f"The price must be a number like 120, or pe 45 / fpe 40 for a multiple of trailing / forward EPS, not '{words[0][:24]}'."
        ) from None
    extra = rest + note_words
    return price, None, None, " ".join(extra) or None


STALE_NOTE_DAYS = 90  # an analyst's note older than this is called stale


def market_today(context: Context) -> date:
    """Today in the exchange's time zone."""
    return context.clock.now().astimezone(context.calendar.tz).date()


def note_age(written: date | datetime | None, today: date) -> str:
    """'written 2025-01-28, 3 days ago', and ' (stale)' past 90 days; '' when unknown."""
    if written is None:
        return ""
    day = written.date() if isinstance(written, datetime) else written
    days = (today - day).days
    ago = "today" if days <= 0 else ("1 day ago" if days == 1 else f"{days} days ago")
    stale = f" (stale: older than {STALE_NOTE_DAYS} days)" if days > STALE_NOTE_DAYS else ""
    return f"written {day.isoformat()}, {ago}{stale}"


def level_written(rule: Rule, zone: tzinfo) -> date | None:
    """The day an analyst's level was written, in the exchange's time zone."""
    written = rule.written_at or rule.created_at
    if written is None:
        return None
    return written.astimezone(zone).date() if written.tzinfo else written.date()


def far_side_line(rule: Rule, quote: Quote) -> str | None:
    """Set on the far side of its direction: the condition holds already, and it waits."""
    if not level_is_active(rule) or not condition_holds(rule, quote.price):
        return None
    if rule.direction is Direction.UP:
        return (f"The price ({money(quote.price)}) is already above it, so the condition holds now: "
                f"it alerts at the next rise to {money(rule.threshold)}, after the price has been back below it.")
    return (f"The price ({money(quote.price)}) is already below it, so the condition holds now: "
            f"it alerts at the next fall to {money(rule.threshold)}, after the price has been back above it.")


async def levels_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values.get("ticker")
    levels = await context.rules.analyst_levels(ticker)
    if not levels:
        where = f" for {ticker}" if ticker else ""
        return Reply(title=f"No analyst levels{where} yet.", lines=("Admins set them with /setlevel NVDA entry 120 (or /setlevel NVDA exit pe 45).",))
    tickers = sorted({r.ticker for r in levels})
    quotes, down = await quotes_or_reason(context, tickers)
    lines = []
    for rule in levels:
        quote = quotes.get(rule.ticker)
        active = level_is_active(rule)
        distance = f" ({pct((rule.threshold / quote.price - 1) * 100)} from {money(quote.price)})" if quote and active else ""
        note = f" · {rule.note}" if rule.note else ""
        age = note_age(level_written(rule, context.calendar.tz), market_today(context))
        lines.append(f"{rule.ticker} {rule.level_name}: {level_value_text(rule)}{distance}{note}" + (f" · {age}" if age else ""))
    footer = down
    if any(is_valuation_level(r) for r in levels):
        footer = " ".join(filter(None, ("Multiples follow the provider's EPS; their prices are refreshed every morning.", down)))
    return Reply(title="The analyst's levels" + (f" for {ticker}" if ticker else ""), lines=tuple(lines), footer=footer)


async def setlevel_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker, name = values["ticker"], LevelName(values["level"])
    price, multiple, basis, note = parse_level_value(values["price"], values.get("note"))
    if note and len(note) > 200:
        raise UserError(f"The note is too long ({len(note)} characters; at most 200).")
    if price is not None and not 0 < price <= 10_000_000:
        raise UserError(f"The price must be above 0, like /setlevel {ticker} {name} 120.")
    lookup = await look_up(context, [ticker])
    quote = lookup.quote(ticker)
    fundamentals = None
    if multiple is not None and basis is not None:
        if quote is not None:  # while data is down, the morning refresh prices it once data returns
            fundamentals = await fetch_fundamentals(context, ticker)
        price = valuation_price(fundamentals, multiple, basis)
    rule = await context.rules.set_analyst_level(ticker, name, price, note, quote, multiple=multiple, basis=basis)
    if quote is None:
        lines = [lookup.saved_unverified(ticker), *_level_lines_unverified(rule)]
    else:
        lines = _level_lines(context, rule, quote, fundamentals)
        far = far_side_line(rule, quote)
        if far:
            lines.append(far)
    if price is not None:
        lines.append(f"Chats that /watch {ticker} hear when the price {'rises' if rule.direction is Direction.UP else 'falls'} to it "
                     f"({'an exit fires on a rise' if rule.direction is Direction.UP else 'an entry or a stop fires on a fall'}).")
    if note:
        lines.append(f"Note: {note}")
    what = f"{multiple:g}× {EPS_BASES[basis]} EPS" if multiple is not None and basis is not None else money(price)
    warnings = level_warnings(rule, await context.rules.analyst_levels(ticker), quote)
    if not warnings:
        return Reply(title=f"{ticker} {name} level set at {what}", lines=tuple(lines))
    fixes = tuple(Action(f"Use {money(p)}", "setlevel", (ticker, name.value, f"{p:g}", *(note.split() if note else ()))) for p in likely_meant(rule, quote))
    return Reply(title=f"{ticker} {name} level set at {what}, as typed, but check it", lines=(*(f"⚠ {w}" for w in warnings), *lines),
                 tone=Tone.WARNING, actions=fixes)


LEVEL_ORDER = (LevelName.STOP, LevelName.ENTRY, LevelName.EXIT)  # stop < entry < exit
FAR_FROM_PRICE = 0.5  # a level more than 50 % from the price gets a warning


def likely_meant(rule: Rule, quote: Quote | None) -> list[float]:
    """For a level far from the price, the same digits a power of ten away that are near it
    ($14 at a $142.60 price: $140), nearest first."""
    if quote is None or not level_is_active(rule) or is_valuation_level(rule) or abs(rule.threshold / quote.price - 1) <= FAR_FROM_PRICE:
        return []
    guesses = [rule.threshold * 10.0**k for k in (-3, -2, -1, 1, 2, 3)]
    near = [g for g in guesses if abs(g / quote.price - 1) <= FAR_FROM_PRICE]
    return sorted(near, key=lambda g: abs(g / quote.price - 1))[:2]


def level_warnings(rule: Rule, levels: list[Rule], quote: Quote | None) -> list[str]:
    """What looks wrong about a level just set: far from the price, or out of order with the
    ticker's other levels (stop < entry < exit)."""
    warnings = []
    if quote is not None and level_is_active(rule) and abs(rule.threshold / quote.price - 1) > FAR_FROM_PRICE:
        meant = likely_meant(rule, quote)
        guess = f" Did you mean {' or '.join(money(g) for g in meant)}?" if meant else ""
        warnings.append(f"{money(rule.threshold)} is {abs(rule.threshold / quote.price - 1) * 100:.0f}% from the price ({money(quote.price)}).{guess}")
    active = {r.level_name: r.threshold for r in levels if r.level_name is not None and level_is_active(r)}
    ordered = [(n, active[n]) for n in LEVEL_ORDER if n in active]
    for (low_name, low), (high_name, high) in pairwise(ordered):
        if low >= high:
            warnings.append(f"The levels are out of order: the {low_name} ({money(low)}) should be below the {high_name} ({money(high)}): stop < entry < exit.")
    return warnings


def _level_lines(context: Context, rule: Rule, quote: Quote, fundamentals: Fundamentals | None) -> list[str]:
    """A new level's price (a valuation level's with its EPS) and its distance from the quote."""
    now = f"Now {quote_line(quote, context)}"
    if not is_valuation_level(rule):
        return [f"{now}; the level is {pct((rule.threshold / quote.price - 1) * 100)} away."]
    assert rule.multiple is not None and rule.basis is not None
    eps_word = EPS_BASES[rule.basis]
    if not level_is_active(rule):
        return [
            f"The data provider has no usable {eps_word} EPS for {rule.ticker} now, so the level is inactive: "
            "/levels shows it, and it alerts nothing until EPS is available (checked every morning).",
            f"{now}.",
        ]
    eps = fundamentals.trailing_eps if rule.basis == "pe" else fundamentals.forward_eps  # type: ignore[union-attr]
    return [
        f"Today that is {money(rule.threshold)} ({rule.multiple:g} × {eps_word} EPS of {money(eps)}); it follows EPS, refreshed every morning.",
        f"{now}; the level is {pct((rule.threshold / quote.price - 1) * 100)} away.",
    ]


def _level_lines_unverified(rule: Rule) -> list[str]:
    """What a level saved while the market data is down waits for."""
    if is_valuation_level(rule):
        assert rule.basis is not None
        return [f"Its price ({rule.multiple:g} × {EPS_BASES[rule.basis]} EPS) is set by the morning refresh once data returns; until then it is inactive and alerts nothing."]
    return [when_data_returns(rule) + " /levels shows its distance then."]


async def clearlevel_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    name = LevelName(values["level"]) if values.get("level") else None
    removed = await context.rules.clear_levels(ticker, name)
    if not removed:
        raise UserError(f"{ticker} has no {name.value + ' ' if name else ''}level. /levels {ticker} shows its levels.")
    return Reply(title=f"Cleared {', '.join(str(r.level_name) for r in removed)} for {ticker}.")


def core_commands() -> CommandTable:
    table = CommandTable()
    for command in (
        Command("help", "List the commands, or explain one", help_command,
                args=(Arg("command", ArgKind.TEXT, "A command name such as alert", required=False, max_chars=32),),
                examples=("/help", "/help alert")),
        Command("price", "The latest price and day change of a ticker, or of up to 10 tickers", price_command,
                args=(TICKER_ARG, Arg("more", ArgKind.TEXT, "More tickers, up to 10 in all (NVDA AVGO TSM)", required=False, rest=True, max_chars=140)),
                examples=("/price NVDA", "/price ^SOX", "/price NVDA AVGO TSM")),
        Command("alert", "Alert me when a ticker crosses a price or average, moves N%, falls N% from its peak, or hits an RSI", alert_command,
                args=(TICKER_ARG,
                      Arg("condition", ArgKind.CHOICE, "above or below a price or average; move or drawdown in percent; rsi",
                          choices=("above", "below", "move", "drawdown", "rsi")),
                      Arg("value", ArgKind.TEXT, "A price (120), a percent (10), sma200 / ema20, or above/below for rsi", max_chars=16),
                      Arg("options", ArgKind.TEXT, "up/down/either (move); once or every; until 2025-03-31 or for 5d; preview",
                          required=False, rest=True, max_chars=60)),
                examples=("/alert NVDA below 120", "/alert AVGO above 250", "/alert CRDO move 10", "/alert NVDA move 5 down", "/alert TSM drawdown 20",
                          "/alert NVDA below 120 once", "/alert NVDA above 150 until 2025-03-31", "/alert AVGO move 8 for 5d",
                          "/alert NVDA below sma200", "/alert NVDA above ema20", "/alert NVDA rsi below 30", "/alert NVDA move -10 over 5d"),
                details="A price alert fires when the price crosses the level and re-arms after it moves back past a small band. A move alert fires once a session; a drawdown alert once per peak. "
                        "once: removed after it fires (every, the default, re-arms). until DATE / for 5d: checked through that day, then removed quietly. "
                        "above/below sma200 or ema20 (2 to 250 sessions): the price crossing its moving average of daily closes; rsi below 30 / rsi above 70: "
                        "the 14-session RSI (Wilder's); move -10 over 5d: the change against the close 5 sessions earlier. These re-arm once back past the band."),
        Command("alerts", "List your alerts", alerts_command, examples=("/alerts",)),
        Command("unalert", "Remove one of your alerts", unalert_command, args=(Arg("id", ArgKind.INTEGER, "The alert's number from /alerts"),), examples=("/unalert 3",), done_verb="removed"),
        Command("snooze", "Silence one of your alerts for some days", snooze_command,
                args=(Arg("id", ArgKind.INTEGER, "The alert's number from /alerts"), Arg("days", ArgKind.INTEGER, "How many days (1 by default)", required=False)),
                examples=("/snooze 3", "/snooze 3 2"), done_verb="snoozed"),
        Command("dm", "Get your own alerts by direct message (on) or in the chat where you set them (off)", dm_command,
                args=(Arg("choice", ArgKind.CHOICE, "on or off; nothing to see the setting", required=False, choices=("on", "off")),),
                examples=("/dm on", "/dm off", "/dm")),
        Command("watch", "Follow a ticker in this chat: the analyst's levels and sell-offs", watch_command, args=(TICKER_ARG,), access=Access.CHAT_MANAGER, examples=("/watch NVDA", "/watch ^SOX")),
        Command("unwatch", "Stop following a ticker in this chat", unwatch_command, args=(TICKER_ARG,), access=Access.CHAT_MANAGER, examples=("/unwatch NVDA",)),
        Command("watchlist", "The tickers this chat follows", watchlist_command, examples=("/watchlist",)),
        Command("levels", "The analyst's entry, exit and stop levels", levels_command,
                args=(Arg("ticker", ArgKind.TICKER, "A ticker, or none for all", required=False),), examples=("/levels", "/levels AVGO")),
        Command("setlevel", "Set the analyst's entry, exit or stop level for a ticker", setlevel_command, access=Access.ADMIN,
                args=(TICKER_ARG, Arg("level", ArgKind.CHOICE, "Which level", choices=("entry", "exit", "stop")),
                      Arg("price", ArgKind.TEXT, "A price (120), or pe 45 / fpe 40: a multiple of trailing / forward EPS", max_chars=24),
                      Arg("note", ArgKind.TEXT, "Why (optional)", required=False, rest=True, max_chars=200)),
                examples=("/setlevel AVGO exit 140 take profits into strength", "/setlevel NVDA entry 120", "/setlevel NVDA exit pe 45", "/setlevel MSFT exit fpe 36"),
                details="A multiple (pe = trailing EPS, fpe = forward EPS) makes a valuation level: its price is multiple × EPS from the data provider, "
                        "refreshed every morning; without usable EPS it is shown as inactive and alerts nothing."),
        Command("clearlevel", "Remove one or all of the analyst's levels for a ticker", clearlevel_command, access=Access.ADMIN,
                args=(TICKER_ARG, Arg("level", ArgKind.CHOICE, "Which level (all if omitted)", required=False, choices=("entry", "exit", "stop"))),
                examples=("/clearlevel AVGO exit", "/clearlevel AVGO")),
    ):
        table.add(command)
    return table


__all__ = [
    "core_commands",
    "fetch_fundamentals",
    "fetch_quote",
    "fetch_quotes",
    "level_value_text",
    "quote_line",
    "rule_label",
]
