"""Earnings catalysts in chat: /earnings, /subscribe, /unsubscribe, /subscriptions, /setearnings.

The dates, reminders and recaps live in `EarningsDesk` (desk.py); each command here is bound
to the feature's desk.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.describe import day_name, pct
from bot.core.errors import UserError
from bot.core.handlers import TICKER_ARG, fetch_quote, look_up
from bot.core.market import EarningsTime
from bot.core.messages import Reply
from bot.core.router import Context, Invocation
from bot.features.earnings.desk import MAX_DAYS_BEFORE, EarningsDesk, Report

WEEK_WORDS = ("WEEK",)
MAX_DAYS_AHEAD = 400
_TIME_ORDER = {EarningsTime.BEFORE_OPEN: 0, EarningsTime.UNKNOWN: 1, EarningsTime.AFTER_CLOSE: 2}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _when(desk: EarningsDesk, report: Report) -> str:
    """'today' or 'in 2 trading days (2 calendar days)'."""
    today = desk.today()
    if report.day == today:
        return "today"
    trading = desk.trading_days_until(report.day, today)
    calendar_days = (report.day - today).days
    return f"in {_plural(trading, 'trading day')} ({_plural(calendar_days, 'calendar day')})"


def _reaction_text(desk: EarningsDesk, report: Report) -> str:
    reaction = day_name(desk.reaction_session(report))
    if report.time is EarningsTime.UNKNOWN:
        return f"the time is not announced, so the recap covers the next session, {reaction}"
    return f"the first session on the news is {reaction}"


# -- /earnings -------------------------------------------------------------------------


async def earnings_command(desk: EarningsDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values.get("ticker")
    if ticker is None or ticker in WEEK_WORDS:
        return await _week(desk, context, invocation)
    return await _one_ticker(desk, context, invocation, ticker)


async def _one_ticker(desk: EarningsDesk, context: Context, invocation: Invocation, ticker: str) -> Reply:
    await fetch_quote(context, ticker)  # an unknown ticker gets the core's clear reply
    report = await desk.next_report(ticker)
    lines: list[str] = []
    if report is not None:
        title = f"{ticker} reports earnings {day_name(report.day)}, {report.timing}"
        lines.append(f"That is {_when(desk, report)}; {_reaction_text(desk, report)}.")
        if report.source == "admin":
            lines.append("The date was set by the analyst; it stands until the data provider publishes another.")
    else:
        title = f"{ticker}: no upcoming earnings date is known"
        lines.append(f"Admins can set one with /setearnings {ticker} 2025-04-30 amc.")
    last = await desk.last_report(ticker)
    if last is not None:
        reaction = await desk.reaction(last)
        if reaction is not None:
            lines.append(
                f"Last report {day_name(last.day)}, {last.timing}: on {day_name(reaction.session)} "
                f"it opened {pct(reaction.gap_pct)} from the previous close and closed {pct(reaction.change_pct)}."
            )
        else:
            lines.append(f"Last report {day_name(last.day)}, {last.timing}: no prices for the session after it.")
    subscriptions = {s.ticker: s.days_before for s in await context.store.earnings.subscriptions(invocation.chat)}
    if ticker in subscriptions:
        days = subscriptions[ticker]
        before = f"a reminder {_plural(days, 'trading day')} before, " if days else ""
        lines.append(f"This chat is subscribed: {before}one on the day and a recap after.")
    else:
        lines.append(f"/subscribe {ticker} for a reminder, a note on the day and a recap after.")
    return Reply(title=title, lines=tuple(lines))


async def _week(desk: EarningsDesk, context: Context, invocation: Invocation) -> Reply:
    subscriptions = {s.ticker: s.days_before for s in await context.store.earnings.subscriptions(invocation.chat)}
    tickers = sorted(set(await context.store.watches.of_chat(invocation.chat)) | set(subscriptions))
    if not tickers:
        return Reply(
            title="This chat follows no tickers yet.",
            lines=("Follow one with /watch NVDA, or get earnings reminders with /subscribe MSFT; then /earnings week lists their reports.",),
        )
    today = desk.today()
    end = today + timedelta(days=7)
    reports: list[Report] = []
    later: list[Report] = []
    for ticker in tickers:
        report = await desk.next_report(ticker)
        if report is None:
            continue
        (reports if report.day <= end else later).append(report)
    reports.sort(key=lambda r: (r.day, _TIME_ORDER[r.time], r.ticker))
    title = f"Earnings from {day_name(today)} to {day_name(end)}"
    if not reports:
        lines = [f"None of the {_plural(len(tickers), 'ticker')} this chat follows reports by then."]
        if later:
            first = min(later, key=lambda r: (r.day, r.ticker))
            lines.append(f"The next one: {first.ticker} on {day_name(first.day)}, {first.timing}.")
        return Reply(title=title, lines=tuple(lines), footer="From this chat's /watchlist and /subscriptions.")
    lines = []
    for report in reports:
        mark = " · subscribed" if report.ticker in subscriptions else ""
        lines.append(f"{day_name(report.day)} · {report.ticker} {report.timing}{mark}")
    return Reply(title=title, lines=tuple(lines), footer="From this chat's /watchlist and /subscriptions. /earnings TICKER for details.")


# -- subscriptions ---------------------------------------------------------------------


async def subscribe_command(desk: EarningsDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    days = values.get("days")
    days = 1 if days is None else days
    if not 0 <= days <= MAX_DAYS_BEFORE:
        raise UserError(f"Remind 0 to {MAX_DAYS_BEFORE} trading days before, like /subscribe {ticker} 2.")
    lookup = await look_up(context, [ticker])  # while data is down the subscription is saved unverified
    new = await context.store.earnings.subscribe(invocation.chat, ticker, days, now=context.clock.now())
    title = f"This chat now gets {ticker}'s earnings reminders." if new else f"This chat's {ticker} earnings reminders are updated."
    report = await desk.next_report(ticker)
    lines: list[str] = []
    if lookup.outage is not None:
        lines.append(lookup.saved_unverified(ticker))
        lines.append("When data returns: its earnings dates are read from the data provider, and the reminders follow them.")
    if report is None:
        lines.append("No upcoming date is known yet: reminders start once the data provider (or an admin, with /setearnings) gives one.")
    else:
        plan = []
        if days and report.day > desk.today():
            remind = max(desk.reminder_day(report, days), desk.today())
            plan.append(f"a reminder on {day_name(remind)} ({_plural(days, 'trading day')} before)")
        plan.append("one on the day")
        plan.append(f"a recap after the close of {day_name(desk.reaction_session(report))}")
        lines.append(f"Next report: {day_name(report.day)}, {report.timing}.")
        lines.append("You'll get " + ", ".join(plan[:-1]) + " and " + plan[-1] + ".")
    lines.append(f"Stop with /unsubscribe {ticker}.")
    return Reply(title=title, lines=tuple(lines))


async def unsubscribe_command(desk: EarningsDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker = values["ticker"]
    if not await context.store.earnings.unsubscribe(invocation.chat, ticker):
        raise UserError(f"This chat is not subscribed to {ticker}'s earnings. /subscriptions lists them.")
    return Reply(title=f"This chat no longer gets {ticker}'s earnings reminders.")


async def subscriptions_command(desk: EarningsDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    subscriptions = [(s.ticker, s.days_before) for s in await context.store.earnings.subscriptions(invocation.chat)]
    if not subscriptions:
        return Reply(title="This chat has no earnings subscriptions.", lines=("Add one with /subscribe MSFT (or /subscribe MSFT 3 for a reminder 3 trading days before).",))
    lines = []
    for ticker, days in subscriptions:
        report = await desk.next_report(ticker)
        when = f"{day_name(report.day)}, {report.timing}" if report else "no date known yet"
        before = f"reminder {_plural(days, 'trading day')} before" if days else "no advance reminder"
        lines.append(f"{ticker}: {when} · {before}")
    return Reply(title=f"This chat's earnings subscriptions ({len(subscriptions)})", lines=tuple(lines), footer="Remove one with /unsubscribe TICKER.")


# -- /setearnings ----------------------------------------------------------------------


async def setearnings_command(desk: EarningsDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker: str = values["ticker"]
    day: date = values["date"]
    timing = EarningsTime(values["time"]) if values.get("time") else None
    today = desk.today()
    example = context.calendar.session_on_or_before(today + timedelta(days=30))
    if day < today:
        raise UserError(f"{day.isoformat()} has passed: set the upcoming report, like /setearnings {ticker} {example.isoformat()} amc.")
    if not context.calendar.is_session(day):
        raise UserError(
            f"The market is closed on {day.strftime('%a %Y-%m-%d')}: a report is set on a trading day, "
            f"with bmo or amc, like /setearnings {ticker} {context.calendar.previous_session(day).isoformat()} amc."
        )
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise UserError(f"{day.isoformat()} is more than {MAX_DAYS_AHEAD} days away: set the next report only.")
    await fetch_quote(context, ticker)
    new, old = await desk.set_by_admin(ticker, day, timing)
    lines = []
    if old is not None and (old.day, old.time) != (new.day, new.time):
        was = "the data provider" if old.source == "provider" else "an admin"
        lines.append(f"Was {day_name(old.day)}, {old.timing} (from {was}); subscribed chats are told of the change.")
    if not context.calendar.is_session(day):
        lines.append(f"Note: {day_name(day)} is not a trading day; the recap covers the next session.")
    lines.append("This date stands until the data provider publishes another for this quarter.")
    return Reply(title=f"{ticker} earnings set to {day_name(new.day)}, {new.timing}", lines=tuple(lines))


def earnings_commands(desk: EarningsDesk) -> list[Command]:
    return [
        Command("earnings", "The next earnings date of a ticker, or this chat's reports in the coming week", partial(earnings_command, desk),
                args=(Arg("ticker", ArgKind.TICKER, "A ticker, or week (the default) for this chat's tickers", required=False),),
                examples=("/earnings MSFT", "/earnings week"),
                details="For a ticker: the date, its timing (before the open / after the close), the days left, and how the stock "
                        "moved after its last report (the gap at the open and the change at the close)."),
        Command("subscribe", "Earnings reminders and a recap for a ticker in this chat", partial(subscribe_command, desk), access=Access.CHAT_MANAGER,
                args=(TICKER_ARG, Arg("days", ArgKind.INTEGER, f"Remind this many trading days before (1 by default, 0 to {MAX_DAYS_BEFORE})", required=False)),
                examples=("/subscribe MSFT", "/subscribe META 3"),
                details="A reminder DAYS trading days before, one on the day (at 08:00 New York), and a recap after the close of the "
                        "first session trading on the news (the same day for bmo, the next session for amc or an unknown time)."),
        Command("unsubscribe", "Stop a ticker's earnings reminders in this chat", partial(unsubscribe_command, desk), access=Access.CHAT_MANAGER,
                args=(TICKER_ARG,), examples=("/unsubscribe MSFT",)),
        Command("subscriptions", "This chat's earnings subscriptions and their next dates", partial(subscriptions_command, desk), examples=("/subscriptions",)),
        Command("setearnings", "Set or correct a ticker's next earnings date", partial(setearnings_command, desk), access=Access.ADMIN,
                args=(TICKER_ARG, Arg("date", ArgKind.DATE, "The report day, like 2025-01-29"),
                      Arg("time", ArgKind.CHOICE, "bmo (before the open) or amc (after the close); if omitted, the provider's for that day, else unknown", required=False, choices=("bmo", "amc"))),
                examples=("/setearnings MSFT 2025-01-29 amc", "/setearnings GOOG 2025-02-04"),
                details="The admin's date wins until the data provider publishes another date for that quarter."),
    ]
