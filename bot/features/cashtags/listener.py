"""Cashtags: `$NVDA` in an ordinary message answers with a compact quote line per ticker.

Off by default in every chat (`/cashtags on`). At most five tickers per message, each answered
at most once per chat per 30 s, so a pasted wall of cashtags cannot make the bot flood a chat.
A cashtag the market data does not know is ignored silently (many are not tickers), and so is a
data outage: ordinary talk never gets an error.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.handlers import ask_quotes, quote_line
from bot.core.market import MarketDataError
from bot.core.messages import Reply, Tone
from bot.core.models import MAX_TICKER_LENGTH, ChatRef, UserRef
from bot.core.router import Context

log = logging.getLogger(__name__)

MAX_PER_MESSAGE = 5
QUIET_SECONDS = 30.0
_REMEMBERED = 10_000  # (chat, ticker) answers kept before old ones are dropped

# `$NVDA`, `$brk.b`, `$BRK-B`; not `$100`, `US$5`, `$$` or a `$` inside a word.
CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,9}(?:[.\-][A-Za-z0-9]{1,3})?)(?![\w$])")


def cashtags(text: str) -> list[str]:
    """The distinct tickers named as cashtags, in order, at most five."""
    found: list[str] = []
    for match in CASHTAG.finditer(text):
        ticker = match.group(1).upper()
        if len(ticker) <= MAX_TICKER_LENGTH and ticker not in found:
            found.append(ticker)
            if len(found) == MAX_PER_MESSAGE:
                break
    return found


class CashtagStore(Protocol):
    """Which chats have cashtags on (implemented by `storage.sqlite.cashtags`)."""

    async def set_enabled(self, chat: ChatRef, on: bool, *, now: datetime) -> None: ...

    async def enabled_chats(self) -> set[str]: ...


class CashtagListener:
    def __init__(self, context: Context, store: CashtagStore) -> None:
        self.context = context
        self.store = store
        self.enabled: set[str] = set()  # chat keys, loaded at start and kept with /cashtags
        self._answered: dict[tuple[str, str], datetime] = {}

    async def load(self) -> None:
        self.enabled = await self.store.enabled_chats()

    def is_on(self, chat: ChatRef) -> bool:
        return chat.key in self.enabled

    async def set_on(self, chat: ChatRef, on: bool) -> None:
        await self.store.set_enabled(chat, on, now=self.context.clock.now())
        if on:
            self.enabled.add(chat.key)
        else:
            self.enabled.discard(chat.key)

    def wants(self, chat: ChatRef, text: str) -> bool:
        return chat.key in self.enabled and "$" in text and CASHTAG.search(text) is not None

    async def hear(self, chat: ChatRef, user: UserRef, text: str) -> list[Reply]:
        tickers = self._due(chat, cashtags(text))
        if not tickers:
            return []
        try:
            quotes = await ask_quotes(self.context, tickers)
        except MarketDataError as problem:
            log.info("cashtags in %s left unanswered: %s", chat.key, problem.reason)
            return []
        lines = [f"{t} {quote_line(quotes[t], self.context)}" for t in tickers if t in quotes]
        if not lines:
            return []
        changes = [quotes[t].change_pct or 0.0 for t in tickers if t in quotes]
        tone = Tone.NEUTRAL if len(changes) > 1 or not changes[0] else (Tone.UP if changes[0] > 0 else Tone.DOWN)
        return [Reply(title=lines[0], lines=tuple(lines[1:]), tone=tone)]

    def _due(self, chat: ChatRef, tickers: list[str]) -> list[str]:
        """The tickers not answered in this chat in the last 30 s; marked answered now."""
        now = self.context.clock.now()
        quiet_since = now - timedelta(seconds=QUIET_SECONDS)
        if len(self._answered) > _REMEMBERED:
            self._answered = {k: v for k, v in self._answered.items() if v > quiet_since}
        due = []
        for ticker in tickers:
            key = (chat.key, ticker)
            last = self._answered.get(key)
            if last is not None and last > quiet_since:
                continue
            self._answered[key] = now
            due.append(ticker)
        return due
