"""The one place that knows whether a chat can be reached.

A platform says a chat is gone (the bot was blocked, kicked, or lost access) or back (the chat
spoke to the bot); flood control holds a chat for a while. Everything else asks here: the
routing step before it queues, the dispatcher before it sends, the router when a chat speaks.
Storage keeps the state across restarts; this component is its only reader and writer, so its
answers can be remembered between calls.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core.clock import Clock
from bot.core.models import ChatRef
from bot.core.ports import ChatStore

log = logging.getLogger(__name__)


class ChatDirectory:
    def __init__(self, store: ChatStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._active: dict[str, bool] = {}  # chat key -> reachable, as stored
        self._held: dict[str, datetime] = {}  # chat key -> flood control lifts at

    async def reachable(self, chat: ChatRef) -> bool:
        """False once a platform said the bot cannot post there, until the chat speaks again."""
        known = self._active.get(chat.key)
        if known is None:
            known = self._active[chat.key] = await self._store.is_active(chat)
        return known

    async def seen(self, chat: ChatRef) -> None:
        """The chat talked to the bot: it can receive again."""
        if await self.reachable(chat):
            return
        await self._store.set_active(chat, True, now=self._clock.now())
        self._active[chat.key] = True
        log.info("chat %s is active again", chat.key)

    async def gone(self, chat: ChatRef, reason: str) -> bool:
        """A platform said the bot cannot post in this chat any more. Its pending deliveries
        go to their fallback chats or die (atomically, in storage). True if that changed."""
        changed = await self._store.set_active(chat, False, now=self._clock.now(), reason=reason[:200])
        self._active[chat.key] = False
        self._held.pop(chat.key, None)
        return changed

    def forget(self) -> None:
        """Another process changed whether chats can be reached: ask storage again from now on."""
        self._active.clear()

    def hold(self, chat: ChatRef, until: datetime) -> None:
        """Flood control: nothing goes to this chat before `until`, which counts from the
        platform's answer (taken after the send returned, not when it began). A later hold
        only ever extends an earlier one."""
        current = self._held.get(chat.key)
        if current is None or until > current:
            self._held[chat.key] = until

    def held_until(self, chat: ChatRef) -> datetime | None:
        """When flood control on this chat lifts, or None when it is not held."""
        until = self._held.get(chat.key)
        if until is not None and until <= self._clock.now():
            del self._held[chat.key]
            return None
        return until
