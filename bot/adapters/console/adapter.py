"""A chat in the terminal: commands in, replies and alerts out as they happen.

Meta-commands (not sent to the bot): `:as NAME` speaks as another user, `:whoami`,
`:quit`. Admins are configured like everyone else, as `console:NAME` in [bot] admins.
When standard input is not a terminal, each line is a command and the adapter stops
at the end of input.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bot.adapters.console.render import Line, render_alert, render_reply, save_image
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert, Reply
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.core.router import CommandRouter

log = logging.getLogger(__name__)

CONSOLE_CHAT = ChatRef("console", "console", ChatKind.PRIVATE)


class ConsoleAdapter:
    platform = "console"

    def __init__(
        self,
        router: CommandRouter,
        *,
        describer: AlertDescriber,
        user: str = "you",
        stdin: TextIO | None = None,
        output: Console | None = None,
        on_end_of_input: Callable[[], None] | None = None,
        prompt: bool | None = None,
        charts_dir: Path = Path("charts"),
    ) -> None:
        self.router = router
        self.describer = describer
        self.user = UserRef("console", user, user)
        self.chat = CONSOLE_CHAT
        self.stdin = stdin or sys.stdin
        self.console = output or Console(highlight=False, soft_wrap=True)
        self.on_end_of_input = on_end_of_input
        self.prompt = self.stdin.isatty() if prompt is None else prompt
        self.charts_dir = charts_dir  # where chart images (primer cards) are saved for you to open
        self._task: asyncio.Task[None] | None = None

    # -- Adapter protocol ----------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._read_loop(), name="console-input")
            if self.prompt:
                self.console.print("tickerbell console. Type /help, or :as NAME to speak as someone else, :quit to leave.", style="dim", markup=False)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        self.show(render_alert(alert, self.describer, chat))

    # -- input ---------------------------------------------------------------------------

    async def run_line(self, line: str) -> list[Reply]:
        """Handle one typed line and print the replies; returns them for callers and tests."""
        text = line.strip()
        if not text:
            return []
        if text.startswith(":"):
            self._meta(text)
            return []
        if not text.startswith("/"):
            self.show([("Commands start with /. Try /help.", "dim")])
            return []
        replies = await self.router.handle_text(text, chat=self.chat, user=self.user, is_chat_manager=True)
        for reply in replies:
            saved = save_image(reply.image, self.charts_dir) if reply.image is not None else None
            self.show(render_reply(reply, image_path=saved))
        return replies

    async def _read_loop(self) -> None:
        while True:
            if self.prompt:
                self.console.print(f"{self.user.user_id}> ", end="", markup=False)
            line = await asyncio.to_thread(self.stdin.readline)
            if line == "":
                if self.on_end_of_input:
                    self.on_end_of_input()
                return
            try:
                await self.run_line(line)
            except Exception:
                log.exception("console: handling a line failed")

    def _meta(self, text: str) -> None:
        word, _, rest = text[1:].partition(" ")
        if word == "as" and rest.strip():
            name = rest.strip().split()[0][:32]
            self.user = UserRef("console", name, name)
            admin = " (an admin)" if self.router.is_admin(self.user) else ""
            self.show([(f"Now speaking as {name}{admin}.", "dim")])
        elif word == "whoami":
            self.show([(f"You are {self.user.key}.", "dim")])
        elif word in ("quit", "exit", "q"):
            if self.on_end_of_input:
                self.on_end_of_input()
        else:
            self.show([(":as NAME speaks as someone else; :whoami; :quit.", "dim")])

    def show(self, lines: list[Line]) -> None:
        for text, style in lines:
            self.console.print(text, style=style or None, markup=False, highlight=False)
