"""Catalysts beyond earnings: `/setcatalyst`, `/catalysts`, `/clearcatalyst`; reminders, a note on
the day and a recap for the chats subscribed to the ticker (as for earnings); shown in /primer.

    desk.py      the catalysts and the daily run that queues their alerts
    describe.py  what its alerts say
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any

from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.describe import day_name
from bot.core.errors import UserError
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.handlers import TICKER_ARG
from bot.core.messages import AlertKind, Reply
from bot.core.models import parse_ticker
from bot.core.router import Context, Invocation
from bot.features.catalysts.describe import CATALYST_KINDS
from bot.features.catalysts.desk import EVENING, MORNING, Catalyst, CatalystDesk, CatalystStore

MAX_NAME = 80
LIST_DAYS = 90  # /catalysts lists this far ahead


def _line(desk: CatalystDesk, catalyst: Catalyst, today: date) -> str:
    days = desk.trading_days_until(catalyst.day, today)
    when = "today" if catalyst.day == today else ("passed" if catalyst.day < today else f"in {days} trading day{'s' if days != 1 else ''}")
    return f"{day_name(catalyst.day)} · {catalyst.ticker} · {catalyst.name} ({when})"


async def setcatalyst_command(desk: CatalystDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker, day, name = values["ticker"], values["date"], values["name"]
    today = desk.today()
    if day < today:
        raise UserError(f"{day.isoformat()} has passed: a catalyst is set for today or a later day.")
    if day > today + timedelta(days=730):
        raise UserError("A catalyst can be set at most two years ahead.")
    new = await desk.store.set(ticker, day, name, by=invocation.user.key, now=context.clock.now())
    subscribers = await context.store.earnings.subscribers(ticker)
    who = (f"The {len(subscribers)} chat{'s' if len(subscribers) != 1 else ''} subscribed to {ticker} get a reminder, a note on the day and a recap."
           if subscribers else f"Chats that /subscribe {ticker} get a reminder, a note on the day and a recap.")
    title = f"{'Set' if new else 'Changed'} {ticker}'s catalyst on {day_name(day)}: {name}"
    return Reply(title=title, lines=(who, f"Remove it with /clearcatalyst {ticker} {day.isoformat()}."))


async def catalysts_command(desk: CatalystDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    word = (values.get("which") or "").strip()
    today = desk.today()
    if word.lower() == "week":
        found = await desk.between(today, today + timedelta(days=7))
        about = " in the coming week"
    elif word:
        ticker = parse_ticker(word)
        found = await desk.between(today - timedelta(days=30), today + timedelta(days=730), ticker)
        about = f" for {ticker}"
    else:
        found = await desk.between(today, today + timedelta(days=LIST_DAYS))
        about = f" in the next {LIST_DAYS} days"
    if not found:
        return Reply(title=f"No catalysts{about}.", lines=("Admins add them with /setcatalyst NVDA 2025-03-18 GTC keynote.",))
    return Reply(title=f"Catalysts{about}", lines=tuple(_line(desk, c, today) for c in found[:50]),
                 footer="Chats that /subscribe a ticker get a reminder, a note on the day and a recap of each.")


async def clearcatalyst_command(desk: CatalystDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    ticker, day = values["ticker"], values.get("date")
    removed = await desk.store.clear(ticker, day)
    if not removed:
        raise UserError(f"{ticker} has no catalyst{' on ' + day.isoformat() if day else ''}. /catalysts {ticker} lists them.")
    return Reply(title=f"Removed {removed} catalyst{'s' if removed != 1 else ''} of {ticker}{' on ' + day.isoformat() if day else ''}.")


class CatalystsFeature:
    name = "catalysts"

    def __init__(self, context: Context, *, store: CatalystStore, outbox: Any) -> None:
        self.desk = CatalystDesk(store=store, subscriptions=context.store.earnings, outbox=outbox, routing=context.routing,
                                 market=context.market, calendar=context.calendar, clock=context.clock, on_queued=context.wake_dispatcher)

    def commands(self) -> Sequence[Command]:
        desk = self.desk
        return [
            Command("catalysts", "Coming catalysts beyond earnings: all, one ticker's, or the coming week's", partial(catalysts_command, desk),
                    args=(Arg("which", ArgKind.TEXT, "A ticker, or week; nothing for the next 90 days", required=False, max_chars=16),),
                    examples=("/catalysts", "/catalysts NVDA", "/catalysts week")),
            Command("setcatalyst", "Name an event on a ticker's day, such as a keynote or an FDA decision", partial(setcatalyst_command, desk),
                    access=Access.ADMIN,
                    args=(TICKER_ARG, Arg("date", ArgKind.DATE, "The day, like 2025-03-18"),
                          Arg("name", ArgKind.TEXT, "What happens (GTC keynote)", rest=True, max_chars=MAX_NAME)),
                    examples=("/setcatalyst NVDA 2025-03-18 GTC keynote",),
                    details="Chats subscribed to the ticker (/subscribe) get a reminder, a note on the morning of the day, and a "
                            "recap of the move after the close of the first session on the news, as for earnings."),
            Command("clearcatalyst", "Remove a ticker's catalyst on a day, or all of its catalysts", partial(clearcatalyst_command, desk),
                    access=Access.ADMIN,
                    args=(TICKER_ARG, Arg("date", ArgKind.DATE, "The day (all if omitted)", required=False)),
                    examples=("/clearcatalyst NVDA 2025-03-18", "/clearcatalyst NVDA")),
        ]

    def daily_jobs(self) -> Sequence[DailyJob]:
        return (DailyJob(MORNING, self.desk.run, "catalyst reminders"), DailyJob(EVENING, self.desk.run, "catalyst recaps"))

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return CATALYST_KINDS

    async def start(self) -> None:
        return None


__all__ = ["Catalyst", "CatalystDesk", "CatalystsFeature"]
