"""Ordinary messages (not commands) that a feature may answer, such as cashtags (`$NVDA`).

Adapters pass the text of a chat's ordinary messages to `CommandRouter.hears` (a cheap test,
no I/O) and, when it says yes, to `CommandRouter.handle_chatter`. A listener answers nothing
unless the chat asked for it; it never answers with an error (ordinary talk is not a command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.core.models import ChatRef, UserRef

if TYPE_CHECKING:
    from bot.core.messages import Reply


class ChatterListener(Protocol):
    def wants(self, chat: ChatRef, text: str) -> bool:
        """Whether this text in this chat may get an answer (in memory, no I/O)."""
        ...

    async def hear(self, chat: ChatRef, user: UserRef, text: str) -> list[Reply]:
        """The answer to an ordinary message (often none)."""
        ...


class HearsChatter(Protocol):
    """A feature that answers ordinary messages declares its listeners here."""

    def chatter_listeners(self) -> list[ChatterListener]: ...
