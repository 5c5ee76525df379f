"""`/status`: how the running bot is doing, for its admins."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core.calendar import Calendar, Session
from bot.core.commands import Access, Command
from bot.core.describe import market_time
from bot.core.messages import Reply, Tone
from bot.core.router import Context, Invocation

GIVEN_UP_WINDOW = timedelta(hours=24)


def duration(span: timedelta) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h'."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def next_session(calendar: Calendar, now: datetime) -> Session | None:
    """The next session to open after `now` (today's, if it has not opened yet)."""
    today = calendar.session(calendar.local_date(now))
    if today is not None and now < today.open:
        return today
    try:
        return calendar.session(calendar.next_session(calendar.local_date(now)))
    except ValueError:
        return None


def market_line(calendar: Calendar, now: datetime) -> str:
    session = calendar.current_session(now)
    if session is not None:
        return f"Market: open, until {market_time(session.close, calendar.tz)[11:]}."
    upcoming = next_session(calendar, now)
    if upcoming is None:
        return "Market: closed."
    return f"Market: closed; next open {upcoming.open.astimezone(calendar.tz):%a} {market_time(upcoming.open, calendar.tz)}."


def prices_lines(context: Context, now: datetime) -> list[str]:
    vitals, tz = context.vitals, context.calendar.tz
    good = vitals.last_good_check_at
    lines = [f"Prices: last good check {market_time(good, tz)} ({duration(now - good)} ago), every {vitals.poll_seconds} s in sessions."
             if good else f"Prices: no good check yet (checked every {vitals.poll_seconds} s in sessions)."]
    if vitals.price_feed == "streaming":
        tick = f", last tick {duration(now - vitals.last_tick_at)} ago" if vitals.last_tick_at else ""
        lines.append(f"Quotes: streaming{tick} ({vitals.price_feed_note}); polls add the previous close and day range.")
    elif vitals.price_feed:
        lines.append(f"Quotes: polling every {vitals.poll_seconds} s: {vitals.price_feed_note}.")
    if vitals.last_provider_error and vitals.last_provider_error_at:
        when = vitals.last_provider_error_at
        lines.append(f"Last data error {market_time(when, tz)} ({duration(now - when)} ago): {vitals.last_provider_error}")
    return lines


async def status_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    now = context.clock.now()
    vitals = context.vitals
    stats = await context.store.stats.snapshot(since=now - GIVEN_UP_WINDOW)
    started = f" (since {market_time(vitals.started_at, context.calendar.tz)})" if vitals.started_at else ""
    platforms = ", ".join(f"{name} {'connected' if up else 'down'}" for name, up in sorted(vitals.adapters.items())) or "none"
    oldest = f", the oldest waiting {duration(now - stats.oldest_pending_at)}" if stats.oldest_pending_at else ""
    lines = [
        f"Up {duration(vitals.uptime(now))}{started}.",
        market_line(context.calendar, now),
        *prices_lines(context, now),
        f"Platforms: {platforms}.",
        f"Outbox: {stats.pending} waiting{oldest}; {stats.given_up} given up in the last 24 h.",
        f"Rules {context.rules.rule_count():,} (stored {stats.rules:,}) · watches {stats.watches:,} · chats {stats.chats:,}.",
    ]
    in_session = context.calendar.current_session(now) is not None
    tone = Tone.WARNING if vitals.stale(now, in_session=in_session) or stats.given_up else Tone.NEUTRAL
    return Reply(title=f"tickerbell {vitals.version}", lines=tuple(lines), tone=tone, private=True)


def status_commands() -> list[Command]:
    return [
        Command("status", "How the bot is doing: uptime, market, prices, platforms, outbox, counts", status_command,
                access=Access.ADMIN, examples=("/status",),
                details="Version and uptime, whether the market is open, the last good price check and the last data error, "
                        "the platforms connected, deliveries waiting and given up, and how many rules, watches and chats there are."),
    ]
