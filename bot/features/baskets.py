"""Baskets: a named group of tickers followed as one equal-weight index.

An admin defines a basket (`/setbasket ai-semis NVDA AVGO TSM ANET CRDO`); a chat follows it
(`/watchbasket ai-semis`). The basket moves by the average of its members' day changes (an
equal-weight index rebalanced daily), and its level over the past year is built the same way
from the members' daily closes. A fall of `[alerts] selloff_pct` in a day, or of
`[alerts] drawdown_pct` from the basket's 52-week high, is said once, in one message that
lists each member's move: on a day like 2025-01-27 a chat hears one clear sell-off, not five.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any

from bot.app import App, register_feature
from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.describe import pct, plain_pct
from bot.core.errors import UserError
from bot.core.handlers import fetch_quotes
from bot.core.messages import Alert, AlertKind, Reply, Tone
from bot.core.models import ChatRef, parse_ticker
from bot.core.router import Context, Invocation
from bot.market.base import MarketDataError, Quote

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
MIN_MEMBERS, MAX_MEMBERS = 2, 20
WINDOW_DAYS = 365  # the 52-week high


@dataclass(frozen=True, slots=True)
class History:
    """A basket's level at the close of `day` (100 at the start of the window), its peak and when."""

    day: date
    level: float
    peak: float
    peak_day: date
    window_start: date  # the level is 100 here; a "peak" on this day is only the window's edge


@dataclass(frozen=True, slots=True)
class Reading:
    """A basket now: its day change, level, peak and each member's change."""

    change_pct: float
    level: float
    peak: float
    peak_day: date  # the session of the peak (today's, at a new high)
    members: tuple[tuple[str, float], ...]
    peak_is_window_edge: bool = False  # the peak is the first day of the 52-week window, not a high

    @property
    def drawdown_pct(self) -> float:
        return max(0.0, (1 - self.level / self.peak) * 100)


def parse_basket_name(raw: str) -> str:
    name = raw.strip().lower()
    if not NAME.match(name):
        shown = "".join(ch if ch.isprintable() else "?" for ch in raw[:24])
        raise UserError(f"'{shown}' is not a basket name: use up to 20 lower-case letters, digits and '-', like ai-semis.")
    return name


def equal_weight_history(closes: dict[str, dict[date, float]]) -> History | None:
    """The daily-rebalanced equal-weight level over the sessions every member traded."""
    common = sorted(set.intersection(*(set(days) for days in closes.values()))) if closes else []
    if len(common) < 2:
        return None
    level = peak = 100.0
    peak_day = common[0]
    for previous, day in zip(common, common[1:], strict=False):
        level *= 1 + fmean(closes[t][day] / closes[t][previous] - 1 for t in closes)
        if level > peak:
            peak, peak_day = level, day
    return History(common[-1], level, peak, peak_day, common[0])


class BasketDesk:
    """The baskets, their watches, and the check of each price cycle's quotes."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.baskets: dict[str, list[str]] = {}
        self.watched: set[str] = set()
        self._history: dict[tuple[str, date], History | None] = {}

    async def load(self) -> None:
        self.baskets = await self.app.store.baskets()
        self.watched = set(await self.app.store.watched_baskets())

    # -- QuoteListener ---------------------------------------------------------------

    def tickers(self) -> list[str]:
        return sorted({t for name in self.watched for t in self.baskets.get(name, [])})

    async def on_quotes(self, quotes: dict[str, Quote], *, session: date, now: datetime) -> int:
        queued = 0
        for name in sorted(self.watched):
            reading = await self.read(name, quotes, session)
            if reading is not None:
                queued += await self._tell(name, reading, session, now)
        return queued

    # -- readings --------------------------------------------------------------------

    async def read(self, name: str, quotes: dict[str, Quote], session: date) -> Reading | None:
        """The basket now, or None when a member has no quote from this session (no data, no alert)."""
        members = self.baskets.get(name, [])
        fresh = [quotes.get(t) for t in members]
        if not members or any(q is None or q.session != session or q.change_pct is None for q in fresh):
            return None
        changes = tuple((q.ticker, q.change_pct) for q in fresh if q is not None and q.change_pct is not None)
        change = fmean(c for _, c in changes)
        history = await self.history(name, session)
        if history is None:
            level = 100 * (1 + change / 100)
            return Reading(change, level, max(100.0, level), session, changes)
        level = history.level * (1 + change / 100)
        if level > history.peak:
            return Reading(change, level, level, session, changes)
        return Reading(change, level, history.peak, history.peak_day, changes, history.peak_day == history.window_start)

    async def history(self, name: str, session: date) -> History | None:
        """The basket's level and 52-week peak up to the session before `session` (cached a day)."""
        key = (name, session)
        if key not in self._history:
            closes: dict[str, dict[date, float]] = {}
            try:
                for ticker in self.baskets.get(name, []):
                    bars = await self.app.market.history(ticker, session - timedelta(days=WINDOW_DAYS), session)
                    closes[ticker] = {bar.day: bar.close for bar in bars if bar.day < session}
            except MarketDataError:
                log.warning("basket %s: no history today; its drawdown is measured from today's prices", name)
                return None
            self._history = {k: v for k, v in self._history.items() if k[1] == session}  # keep one day
            self._history[key] = equal_weight_history(closes)
        return self._history[key]

    async def _tell(self, name: str, reading: Reading, session: date, now: datetime) -> int:
        """Queue what the basket's watchers have not heard yet: a sell-off (once a session) and
        a drawdown from the peak (once per peak), together when they come together."""
        alerts = self.app.config.alerts
        store = self.app.store
        told_session, told_peak_day = await store.basket_state(name)
        selloff = reading.change_pct <= -alerts.selloff_pct and told_session != session
        # once per peak: a drawdown is told again only from a later peak (a new high, or the
        # 52-week window moving past the old one)
        drawdown = reading.drawdown_pct >= alerts.drawdown_pct and (
            told_peak_day is None or (reading.peak_day != told_peak_day and not reading.peak_is_window_edge)
        )
        if not selloff and not drawdown:
            return 0
        alert = Alert(
            kind=AlertKind.BASKET_SELLOFF if selloff else AlertKind.BASKET_DRAWDOWN,
            ticker=name,
            at=now,
            change_pct=reading.change_pct,
            threshold_pct=alerts.selloff_pct if selloff else alerts.drawdown_pct,
            drawdown_pct=reading.drawdown_pct if drawdown else None,
            # index levels (100 a year ago), not prices: kept out of `price` and `peak`
            extra={"members": [[t, round(c, 4)] for t, c in reading.members], "level": round(reading.level, 4), "peak_level": round(reading.peak, 4)},
        )
        chats = await store.basket_watchers(name)
        key = f"{alert.kind.value}:{name}:{session.isoformat() if selloff else reading.peak_day.isoformat()}"
        queued = await store.record_basket_alerts(
            name,
            selloff_session=session if selloff else told_session,
            drawdown_peak_day=reading.peak_day if drawdown else told_peak_day,
            deliveries=[(chat, alert, f"{key}:{chat.key}") for chat in chats],
            now=now,
        )
        if queued and self.app.price_check.on_queued:
            self.app.price_check.on_queued()
        return queued


# -- commands --------------------------------------------------------------------------


def desk_of(context: Context) -> BasketDesk:
    return context.extras["baskets"]


def _members_line(members: list[str], quotes: dict[str, Quote]) -> str:
    return " · ".join(f"{t} {pct(quotes[t].change_pct)}" if t in quotes and quotes[t].change_pct is not None else t for t in members)


async def basket_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    desk = desk_of(context)
    if not values.get("name"):
        if not desk.baskets:
            return Reply(title="No baskets yet.", lines=("Admins make one with /setbasket ai-semis NVDA AVGO TSM ANET CRDO.",))
        here = set(await context.store.watched_baskets(invocation.chat))
        lines = tuple(f"{name}: {' '.join(members)}{' · followed here' if name in here else ''}" for name, members in desk.baskets.items())
        return Reply(title=f"Baskets ({len(desk.baskets)})", lines=lines, footer="/basket NAME shows one; /watchbasket NAME follows it here.")
    name = parse_basket_name(values["name"])
    members = desk.baskets.get(name)
    if members is None:
        raise UserError(f"There is no basket {name}. /basket lists them.")
    quotes = await fetch_quotes(context, members)
    session = context.calendar.last_closed_or_open_session(context.clock.now())
    reading = await desk.read(name, quotes, session)
    lines = [_members_line(members, quotes)]
    if reading is not None:
        lines.insert(0, f"Equal-weight move today: {pct(reading.change_pct)}; {reading.drawdown_pct:.1f}% below its 52-week high.")
    else:
        lines.insert(0, "Not every member has a price from today's session yet.")
    alerts = context.config.alerts
    lines.append(f"Chats that /watchbasket {name} hear when it falls {plain_pct(alerts.selloff_pct)} in a day or {plain_pct(alerts.drawdown_pct)} from its high.")
    tone = Tone.NEUTRAL if reading is None else (Tone.UP if reading.change_pct > 0 else Tone.DOWN)
    return Reply(title=f"Basket {name}: {len(members)} tickers", lines=tuple(lines), tone=tone)


async def setbasket_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    desk = desk_of(context)
    name = parse_basket_name(values["name"])
    tickers = list(dict.fromkeys(parse_ticker(word) for word in values["tickers"].split()))
    if not MIN_MEMBERS <= len(tickers) <= MAX_MEMBERS:
        raise UserError(f"A basket holds {MIN_MEMBERS} to {MAX_MEMBERS} different tickers, like /setbasket {name} NVDA AVGO TSM.")
    quotes = await fetch_quotes(context, tickers)
    unknown = [t for t in tickers if t not in quotes]
    if unknown:
        raise UserError(f"Unknown ticker{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: the market data has no price for {'them' if len(unknown) > 1 else 'it'}.")
    new = await context.store.set_basket(name, tickers, by=invocation.user.key, now=context.clock.now())
    desk.baskets[name] = tickers
    desk._history = {k: v for k, v in desk._history.items() if k[0] != name}
    verb = "made" if new else "changed"
    return Reply(title=f"Basket {name} {verb}: {' '.join(tickers)}", lines=(f"Chats follow it with /watchbasket {name}.",))


async def clearbasket_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    desk = desk_of(context)
    name = parse_basket_name(values["name"])
    if not await context.store.delete_basket(name):
        raise UserError(f"There is no basket {name}. /basket lists them.")
    desk.baskets.pop(name, None)
    desk.watched.discard(name)
    return Reply(title=f"Basket {name} removed, and every chat stopped following it.")


async def watchbasket_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    desk = desk_of(context)
    name = parse_basket_name(values["name"])
    if name not in desk.baskets:
        raise UserError(f"There is no basket {name}. /basket lists them.")
    added = await context.store.watch_basket(invocation.chat, name, now=context.clock.now())
    desk.watched.add(name)
    alerts = context.config.alerts
    return Reply(
        title=f"This chat {'now follows' if added else 'already follows'} the basket {name}.",
        lines=(f"{' '.join(desk.baskets[name])}: you'll hear, once, when the basket falls {plain_pct(alerts.selloff_pct)} in a day or {plain_pct(alerts.drawdown_pct)} from its 52-week high.",),
    )


async def unwatchbasket_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    desk = desk_of(context)
    name = parse_basket_name(values["name"])
    if not await context.store.unwatch_basket(invocation.chat, name):
        raise UserError(f"This chat does not follow the basket {name}.")
    desk.watched = set(await context.store.watched_baskets())
    return Reply(title=f"This chat no longer follows the basket {name}.")


NAME_ARG = Arg("name", ArgKind.TEXT, "A basket name such as ai-semis", max_chars=20)


@register_feature
async def baskets(app: App) -> None:
    desk = BasketDesk(app)
    await desk.load()
    app.context.extras["baskets"] = desk
    app.price_check.listeners.append(desk)
    for command in (
        Command("basket", "List the baskets, or show one with today's moves", basket_command,
                args=(Arg("name", ArgKind.TEXT, "A basket name (all if omitted)", required=False, max_chars=20),), examples=("/basket", "/basket ai-semis")),
        Command("setbasket", "Make or change a basket: a name and 2 to 20 tickers", setbasket_command, access=Access.ADMIN,
                args=(NAME_ARG, Arg("tickers", ArgKind.TEXT, "The tickers, separated by spaces", rest=True, max_chars=260)),
                examples=("/setbasket ai-semis NVDA AVGO TSM ANET CRDO",)),
        Command("clearbasket", "Remove a basket", clearbasket_command, access=Access.ADMIN, args=(NAME_ARG,), examples=("/clearbasket ai-semis",)),
        Command("watchbasket", "Follow a basket in this chat: its sell-offs and drawdowns", watchbasket_command, access=Access.CHAT_MANAGER,
                args=(NAME_ARG,), examples=("/watchbasket ai-semis",)),
        Command("unwatchbasket", "Stop following a basket in this chat", unwatchbasket_command, access=Access.CHAT_MANAGER,
                args=(NAME_ARG,), examples=("/unwatchbasket ai-semis",)),
    ):
        app.context.commands.add(command)


__all__ = ["BasketDesk", "ChatRef", "equal_weight_history", "parse_basket_name"]
