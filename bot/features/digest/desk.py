"""What a digest says and when it goes.

The brief goes at the chat's time (`/digest on 07:30`; 08:00 by default), rounded up to the
quarter hour, from 06:00 to 09:15 exchange time; the wrap at 16:30, after the close check. Both
only on trading days, and once a day each (their dedupe keys name the chat and the day).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, time, timedelta
from functools import partial
from typing import Any

from bot.core.chat_settings import ChatSettings, parse_clock
from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.describe import money, pct, timing_words
from bot.core.errors import UserError
from bot.core.handlers import level_is_active
from bot.core.market import MarketDataError, Quote
from bot.core.messages import Alert, AlertKind, Reply, Tone
from bot.core.models import ChatRef
from bot.core.ports import OutboxStore
from bot.core.router import Context, Invocation
from bot.core.routing import subject

log = logging.getLogger(__name__)

BRIEF_DEFAULT = time(8, 0)
BRIEF_SLOTS = tuple(time(h, m) for h in range(6, 10) for m in (0, 15, 30, 45) if time(h, m) <= time(9, 15))
WRAP_AT = time(16, 30)
NEAR_LEVEL_PCT = 5.0  # the brief lists the analyst's levels this close to the price


def brief_slot(at: time | None) -> time:
    """The quarter hour a chat's brief goes at: its time rounded up (08:00 by default)."""
    wanted = at or BRIEF_DEFAULT
    return next(slot for slot in BRIEF_SLOTS if slot >= wanted)


class DigestDesk:
    def __init__(self, context: Context, *, outbox: OutboxStore) -> None:
        self.context = context
        self.outbox = outbox

    async def _chats(self) -> list[tuple[ChatRef, ChatSettings]]:
        return [(chat, settings) for chat, settings in await self.context.store.chat_settings.all() if settings.digest]

    async def _followed(self, chat: ChatRef) -> list[str]:
        tickers = set(await self.context.store.watches.of_chat(chat))
        baskets = await self.context.store.baskets.all()
        for name in await self.context.store.baskets.watched(chat):
            tickers.update(baskets.get(name, []))
        tickers.update(s.ticker for s in await self.context.store.earnings.subscriptions(chat))
        return sorted(tickers)

    async def _quotes(self, tickers: list[str]) -> dict[str, Quote]:
        try:
            return await self.context.market.quotes(tickers) if tickers else {}
        except MarketDataError as problem:
            log.warning("digest: no quotes (%s); the digest says so", problem.reason)
            return {}

    async def _reports_on(self, tickers: list[str], day: date | None) -> list[str]:
        if day is None:
            return []
        found: list[str] = []
        for ticker in tickers:
            reports = await self.context.store.earnings.dates(ticker)
            found.extend(f"{ticker} ({timing_words(report.time)})" for report in reports if report.day == day)
        return found

    async def brief(self, day: date, slot: time) -> int:
        """The pre-open brief for each chat whose time falls in this slot."""
        if self.context.calendar.session(day) is None:
            return 0
        queued = 0
        for chat, settings in await self._chats():
            if brief_slot(settings.digest_at) != slot:
                continue
            tickers = await self._followed(chat)
            quotes = await self._quotes(tickers)
            lines = ["Yesterday: " + (" · ".join(_move(quotes[t]) for t in tickers if t in quotes) or "no prices (the data provider did not answer)")]
            near = await self._near_levels(tickers, quotes)
            lines.append("Levels within 5%: " + (" · ".join(near) or "none"))
            reports = await self._reports_on(tickers, day)
            lines.append("Reporting today: " + (", ".join(reports) or "none of yours"))
            queued += await self._send(chat, "brief", day, f"Before the open, {day:%a} {day.isoformat()}", lines)
        return queued

    async def wrap(self, day: date) -> int:
        """The after-close wrap for each chat with digests on."""
        session = self.context.calendar.session(day)
        if session is None:
            return 0
        queued = 0
        for chat, _ in await self._chats():
            tickers = await self._followed(chat)
            quotes = await self._quotes(tickers)
            lines = ["Today: " + (" · ".join(_move(quotes[t]) for t in tickers if t in quotes and quotes[t].session == day) or "no prices")]
            told = await self.outbox.delivered_to(chat, since=session.open - timedelta(hours=2))
            alerts = [a for message in told for a in message.alerts if a.kind is not AlertKind.DIGEST]
            lines.append(f"Alerts today ({len(alerts)}): " + (", ".join(_alert_word(a) for a in alerts[:12]) if alerts else "none") + ("…" if len(alerts) > 12 else ""))
            following = self.context.calendar.sessions(day + timedelta(days=1), day + timedelta(days=7))
            nxt = following[0].day if following else None
            reports = await self._reports_on(tickers, nxt)
            lines.append(f"Reporting next session ({nxt:%a} {nxt.isoformat()}): " + (", ".join(reports) or "none of yours") if nxt else "No session in the next week.")
            queued += await self._send(chat, "wrap", day, f"After the close, {day:%a} {day.isoformat()}", lines)
        return queued

    async def _near_levels(self, tickers: list[str], quotes: dict[str, Quote]) -> list[str]:
        near = []
        for ticker in tickers:
            quote = quotes.get(ticker)
            if quote is None:
                continue
            for rule in await self.context.rules.analyst_levels(ticker):
                gap = (rule.threshold / quote.price - 1) * 100 if level_is_active(rule) else None
                if gap is not None and abs(gap) <= NEAR_LEVEL_PCT:
                    near.append(f"{ticker} {rule.level_name} {money(rule.threshold)} ({pct(gap, digits=1)})")
        return near

    async def _send(self, chat: ChatRef, part: str, day: date, title: str, lines: list[str]) -> int:
        now = self.context.clock.now()
        alert = Alert(kind=AlertKind.DIGEST, ticker="digest", at=now, extra={"title": title, "lines": lines, "part": part})
        envelopes = await self.context.routing.to_chats(alert, [chat], subject(AlertKind.DIGEST, part, day.isoformat()))
        queued = await self.outbox.enqueue(envelopes, now=now) if envelopes else 0
        if queued:
            self.context.wake_dispatcher()
        return queued


def _move(quote: Quote) -> str:
    return f"{quote.ticker} {pct(quote.change_pct, digits=1)}" if quote.change_pct is not None else f"{quote.ticker} {money(quote.price)}"


def _alert_word(alert: Alert) -> str:
    return f"{alert.ticker} {alert.kind.value.replace('_', ' ')}"


def describe_digest(alert: Alert) -> tuple[str, list[str], Tone]:
    return str(alert.extra.get("title", "Digest")), [str(line) for line in alert.extra.get("lines", [])], Tone.NEUTRAL


async def digest_command(desk: DigestDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    store = context.store.chat_settings
    current = await store.get(invocation.chat)
    choice: str | None = values.get("choice")
    if choice is None:
        state = f"on: the brief at {brief_slot(current.digest_at):%H:%M}, the wrap at {WRAP_AT:%H:%M}" if current.digest else "off"
        return Reply(title=f"Digests for this chat are {state}.", lines=("Turn them on with /digest on 07:30 (or /digest off).",))
    if choice == "off":
        await store.put(invocation.chat, replace(current, digest=False), now=context.clock.now())
        return Reply(title="Digests off for this chat.")
    at = parse_clock(values["time"], "The brief's time") if values.get("time") else current.digest_at
    if at is not None and not BRIEF_SLOTS[0] <= at <= BRIEF_SLOTS[-1]:
        raise UserError(f"The brief goes before the open: pick a time from {BRIEF_SLOTS[0]:%H:%M} to {BRIEF_SLOTS[-1]:%H:%M}, like /digest on 08:00.")
    await store.put(invocation.chat, replace(current, digest=True, digest_at=at), now=context.clock.now())
    zone = context.calendar.tz
    return Reply(
        title=f"Digests on: a brief at {brief_slot(at):%H:%M} and a wrap at {WRAP_AT:%H:%M} ({zone}), each trading day.",
        lines=("The brief: yesterday's moves of what this chat follows, the analyst's levels within 5%, today's earnings reports.",
               "The wrap: the day's moves, the alerts this chat got, the next session's reports."),
    )


def digest_command_spec(desk: DigestDesk) -> Command:
    return Command(
        "digest", "A brief before the open and a wrap after the close, each trading day", partial(digest_command, desk),
        args=(Arg("choice", ArgKind.CHOICE, "on or off; nothing to see the setting", required=False, choices=("on", "off")),
              Arg("time", ArgKind.TEXT, "The brief's time, like 07:30 (exchange time; 08:00 by default)", required=False, max_chars=5)),
        access=Access.CHAT_MANAGER, examples=("/digest on", "/digest on 07:30", "/digest off"),
        details="The brief goes at the time given, rounded up to the quarter hour, from 06:00 to 09:15; the wrap at 16:30. "
                "/settings digest silent makes them arrive without a sound.",
    )


__all__ = ["BRIEF_SLOTS", "WRAP_AT", "DigestDesk", "brief_slot", "describe_digest", "digest_command_spec"]
