"""History: `/history [TICKER]`, what fired for this member and in this chat (the last 50).

It reads the outbox, where every alert is recorded with the chat it was queued for. In a group
it lists what fired in that group (members' alerts there included); in a private chat, what
fired there, the member's direct messages, and the member's own alerts wherever they fired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from bot.core.commands import Arg, ArgKind, Command
from bot.core.describe import AlertDescriber, market_time, money, pct
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.messages import Alert, AlertKind, Reply
from bot.core.models import ChatKind, ChatRef, UserRef, direct_chat
from bot.core.router import Context, Invocation

MAX_SHOWN = 50
STATUS_WORDS = {"pending": " (waiting to be delivered)", "dead": " (could not be delivered)"}


class HistoryStore(Protocol):
    """The outbox read back (implemented by `storage.sqlite.history`)."""

    async def fired(
        self, chats: Sequence[ChatRef], *, mentioning: UserRef | None = None, ticker: str | None = None, limit: int = 50
    ) -> list[tuple[Alert, datetime, str, str]]: ...


def history_line(alert: Alert, status: str, describer: AlertDescriber) -> str:
    """'2025-01-27 09:35 ET · NVDA fell below $120.00 · $118.42, −16.97%'."""
    parts = [market_time(alert.at, describer.zone), describer.describe(alert).title]
    if alert.price is not None:
        parts.append(money(alert.price) + (f", {pct(alert.change_pct)}" if alert.change_pct is not None else ""))
    return " · ".join(parts) + STATUS_WORDS.get(status, "")


async def history_command(
    store: HistoryStore, kinds: Mapping[AlertKind, AlertKindSpec], context: Context, invocation: Invocation, values: dict[str, Any]
) -> Reply:
    ticker: str | None = values.get("ticker")
    chat, user = invocation.chat, invocation.user
    private = chat.kind is ChatKind.PRIVATE
    chats = [chat] if not private else [chat, direct_chat(user)]
    rows = await store.fired(chats, mentioning=user if private else None, ticker=ticker, limit=MAX_SHOWN * 4)
    describer = AlertDescriber(context.calendar.tz, kinds)
    lines: list[str] = []
    seen: set[str] = set()
    own = {c.key for c in chats}
    for message, _, status, where in rows:
        for alert in getattr(message, "alerts", None) or [message]:  # a grouped message carries several
            if ticker is not None and alert.ticker != ticker:
                continue
            if where not in own and (alert.mention is None or alert.mention.key != user.key):
                continue  # found by the member's mention elsewhere: only their own alerts
            key = alert.to_json()  # one alert queued for a chat and, as a fallback, for another
            if key in seen:
                continue
            seen.add(key)
            lines.append(history_line(alert, status, describer))
        if len(lines) >= MAX_SHOWN:
            lines = lines[:MAX_SHOWN]
            break
    about = f" for {ticker}" if ticker else ""
    where = "for you and this chat" if private else "in this chat"
    if not lines:
        return Reply(title=f"Nothing has fired{about} {where} yet.", lines=("Alerts you set with /alert and what this chat follows with /watch show up here once they fire.",))
    return Reply(title=f"What fired{about} {where} (newest first, last {len(lines)})", lines=tuple(lines))


class HistoryFeature:
    name = "history"

    def __init__(self, context: Context, *, store: HistoryStore, kinds: Mapping[AlertKind, AlertKindSpec]) -> None:
        self.store = store
        self.kinds = kinds  # every feature's alert kinds (filled as the wiring adds them)

    def commands(self) -> Sequence[Command]:
        return [
            Command("history", "What fired for you and in this chat: the last 50, with price, change and time",
                    partial(history_command, self.store, self.kinds),
                    args=(Arg("ticker", ArgKind.TICKER, "Only this ticker (optional)", required=False),),
                    examples=("/history", "/history NVDA"),
                    details="In a group: what fired in the group. In a private chat: what fired there, your direct messages, "
                            "and your own alerts wherever they fired. A line says so if it is still waiting to be delivered."),
        ]

    def daily_jobs(self) -> Sequence[DailyJob]:
        return ()

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    async def start(self) -> None:
        return None


__all__ = ["HistoryFeature", "HistoryStore", "history_line"]
