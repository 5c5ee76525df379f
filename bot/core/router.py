"""The command router: one entry point for every platform.

An adapter turns a platform event into an `Invocation`; the router finds the command,
checks rights (in the core, never in an adapter), parses the arguments, runs the
handler, and turns a `UserError` into a reply. Any other exception is logged with its
traceback and the user gets a short apology, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.calendar import Calendar
from bot.core.chats import ChatDirectory
from bot.core.chatter import ChatterListener
from bot.core.clock import Clock
from bot.core.commands import MAX_LINE_CHARS, Access, CommandTable, did_you_mean, split_command_line
from bot.core.errors import AccessDenied, UserError
from bot.core.market import MarketData
from bot.core.messages import Document, Reply, error_reply
from bot.core.models import ChatRef, UserRef, direct_chat
from bot.core.ports import Records
from bot.core.quotes import QuoteBook
from bot.core.routing import Routing
from bot.core.rules import RuleBook
from bot.core.settings import Settings
from bot.core.vitals import Vitals

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. The error was logged; please try again in a moment."


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as the core sees it, whatever the platform."""

    chat: ChatRef
    user: UserRef
    command: str
    args: tuple[str, ...] = ()
    is_chat_manager: bool = False  # the platform says this user may manage the chat's alerts
    attachment: Document | None = None  # a file sent with the command (/import's CSV)

    @property
    def platform(self) -> str:
        return self.chat.platform

    @classmethod
    def from_text(
        cls, text: str, *, chat: ChatRef, user: UserRef, is_chat_manager: bool = False, attachment: Document | None = None
    ) -> Invocation | None:
        name, words = split_command_line(text)
        if not name:
            return None
        return cls(chat=chat, user=user, command=name, args=tuple(words), is_chat_manager=is_chat_manager, attachment=attachment)


def _nothing() -> None:
    return None


@dataclass
class Context:
    """The services a handler (or a feature) may use. Built once by the wiring."""

    settings: Settings
    store: Records
    rules: RuleBook
    chats: ChatDirectory
    routing: Routing
    market: MarketData
    calendar: Calendar
    clock: Clock
    commands: CommandTable
    wake_dispatcher: Callable[[], None] = _nothing  # new deliveries were queued
    vitals: Vitals = field(default_factory=Vitals)  # what the running bot observes about itself (/status)
    quotes: QuoteBook = field(default_factory=QuoteBook)  # the last good quote of each ticker

    def is_admin(self, user: UserRef) -> bool:
        return self.settings.is_admin(user.key)


class CommandRouter:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.chatter: list[ChatterListener] = []  # features that answer ordinary messages (cashtags)

    @property
    def commands(self) -> CommandTable:
        return self.context.commands

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @property
    def chats(self) -> ChatDirectory:
        """What adapters tell when a platform says a chat is gone or back."""
        return self.context.chats

    def is_admin(self, user: UserRef) -> bool:
        return self.context.is_admin(user)

    async def known_tickers(self) -> set[str]:
        """Tickers the bot knows (for autocomplete): those with rules or watches, and the provider's list."""
        known = set(self.context.rules.tickers())
        known.update(await self.context.store.watches.tickers())
        listing = getattr(self.context.market, "tickers", None)
        if callable(listing):
            known.update(listing())
        return known

    async def handle_text(
        self, text: str, *, chat: ChatRef, user: UserRef, is_chat_manager: bool = False, attachment: Document | None = None
    ) -> list[Reply]:
        """Run a typed command line (with the file sent with it, if any); text that is not a command gets no reply."""
        if len(text) > MAX_LINE_CHARS * 20:
            return [error_reply(f"That message is too long for a command ({len(text):,} characters).")]
        invocation = Invocation.from_text(text, chat=chat, user=user, is_chat_manager=is_chat_manager, attachment=attachment)
        if invocation is None:
            return []
        return await self.handle(invocation)

    def hears(self, chat: ChatRef, text: str) -> bool:
        """Whether an ordinary (non-command) message may get an answer here: cheap, no I/O."""
        if not self.chatter or len(text) > MAX_LINE_CHARS * 20:
            return False
        return any(listener.wants(chat, text) for listener in self.chatter)

    async def handle_chatter(self, text: str, *, chat: ChatRef, user: UserRef) -> list[Reply]:
        """The answers to an ordinary message; never an error (a failure is logged, nothing said)."""
        replies: list[Reply] = []
        for listener in self.chatter:
            if not listener.wants(chat, text):
                continue
            try:
                replies.extend(await listener.hear(chat, user, text))
            except Exception:
                log.exception("answering an ordinary message in %s failed", chat.key)
        return replies

    async def handle(self, invocation: Invocation) -> list[Reply]:
        try:
            await self.context.chats.seen(invocation.chat)  # a chat that had blocked the bot is back once it talks to it
            await self.context.chats.seen(direct_chat(invocation.user))
            return await self._handle(invocation)
        except UserError as problem:
            return [error_reply(problem.message)]
        except Exception:
            log.exception("command /%s from %s failed", invocation.command[:32], invocation.user.key)
            return [error_reply(APOLOGY)]

    async def _handle(self, invocation: Invocation) -> list[Reply]:
        command = self.commands.get(invocation.command)
        if command is None:
            shown = "".join(ch for ch in invocation.command[:32] if ch.isprintable())
            guess = did_you_mean(shown, self.commands.names(), prefix="/")
            raise UserError(f"Unknown command /{shown}.{guess} Try /help for the list.")
        line_length = sum(len(word) + 1 for word in invocation.args)
        if line_length > MAX_LINE_CHARS:
            raise UserError(f"That is too much input for /{command.name} ({line_length:,} characters). Usage: {command.usage}.")
        self.check_access(command.access, invocation)
        values = command.parse(invocation.args)
        result = await command.handler(self.context, invocation, values)
        return result if isinstance(result, list) else [result]

    def check_access(self, access: Access, invocation: Invocation) -> None:
        if access is Access.ANYONE:
            return
        admin = self.context.is_admin(invocation.user)
        if access is Access.ADMIN and not admin:
            raise AccessDenied(f"/{invocation.command} is for the bot's admins. Ask an admin to add you to [bot] admins.")
        if access is Access.CHAT_MANAGER and not (admin or invocation.is_chat_manager):
            raise AccessDenied(f"/{invocation.command} changes what this chat follows: only a chat admin can do that here.")
