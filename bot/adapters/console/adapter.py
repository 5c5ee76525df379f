"""A chat in the terminal: commands in, replies and alerts out as they happen.

Meta-commands (not sent to the bot): `:as NAME` speaks as another user, `:whoami`,
`:quit`. Admins are configured like everyone else, as `console:NAME` in [bot] admins.

Input never blocks the event loop, so a stop never waits on it:
- a terminal gets a prompt_toolkit prompt (line editing, history with the arrow keys), and
  log lines and alerts print above it (`patch_stdout`); Ctrl-C there is `on_interrupt`,
  Ctrl-D the end of input;
- a pipe or socket is read through the event loop (`connect_read_pipe`);
- a regular file, /dev/null (which epoll refuses) or a stream without a file descriptor
  (tests) is read line by line: reading them never waits.
Except in a terminal, each line is a command and the adapter stops at the end of input.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import selectors
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from bot.adapters.console.render import Line, render_alert, render_reply, save_image
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert, Document, Reply
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.core.router import CommandRouter

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

log = logging.getLogger(__name__)

CONSOLE_CHAT = ChatRef("console", "console", ChatKind.PRIVATE)
MAX_LINE = 64 * 1024  # bytes; a longer piped line is skipped
MAX_ATTACHMENT = 256 * 1024  # bytes of a file sent with a command (/import @levels.csv)
NextLine = Callable[[], Awaitable[str | None]]  # the next line typed or piped; None at the end of input


def pollable_fd(stream: TextIO) -> int | None:
    """The stream's file descriptor if the event loop can wait on it (a pipe, socket or terminal).
    Not for regular files or /dev/null, which epoll refuses (reading them never waits anyway)."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        return None
    with selectors.DefaultSelector() as probe:
        try:
            probe.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            return None
    return fd


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
        on_interrupt: Callable[[], None] | None = None,
        prompt: bool | None = None,
        session: PromptSession[str] | None = None,
        charts_dir: Path = Path("charts"),
    ) -> None:
        """`prompt`: a prompt_toolkit prompt (default: when stdin is a terminal); `session` replaces its
        PromptSession (tests). `on_interrupt`: Ctrl-C at the prompt (default: `on_end_of_input`)."""
        self.router = router
        self.describer = describer
        self.user = UserRef("console", user, user)
        self.chat = CONSOLE_CHAT
        self.stdin: TextIO = stdin or sys.stdin or io.StringIO()
        self.console = output or Console(highlight=False, soft_wrap=True)
        self.on_end_of_input = on_end_of_input
        self.on_interrupt = on_interrupt
        self.prompt = self.stdin.isatty() if prompt is None else prompt
        self.session = session
        self.charts_dir = charts_dir  # where chart images (primer cards) are saved for you to open
        self.exports_dir = Path(charts_dir).parent / "exports"  # where /export files are saved
        self._task: asyncio.Task[None] | None = None
        self._interrupted = False  # the input ended with Ctrl-C at the prompt
        self._left = False  # :quit

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
            await asyncio.wait({task})  # a stop of stop() itself still propagates
            if not task.cancelled() and task.exception() is not None:
                log.error("console: the input loop failed", exc_info=task.exception())

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
            if not self.router.hears(self.chat, text):  # cashtags ($NVDA) when this chat has them on
                self.show([("Commands start with /. Try /help.", "dim")])
                return []
            replies = await self.router.handle_chatter(text, chat=self.chat, user=self.user)
        else:
            text, attachment = self._attachment(text)
            replies = await self.router.handle_text(text, chat=self.chat, user=self.user, is_chat_manager=True, attachment=attachment)
        for reply in replies:
            saved = save_image(reply.image, self.charts_dir) if reply.image is not None else None
            self.show(render_reply(reply, image_path=saved))
            if reply.document is not None:  # an /export: saved beside the charts, for you to open
                path = save_image(reply.document, self.exports_dir)  # type: ignore[arg-type]  # the same filename/data shape
                self.show([(f"  [file: {reply.document.description or reply.document.filename}, saved to {path}]", "dim")])
        return replies

    def _attachment(self, text: str) -> tuple[str, Document | None]:
        """`/import @levels.csv`: a last word @PATH naming a readable file sends that file with the command."""
        head, _, last = text.rpartition(" ")
        if not head or not last.startswith("@") or len(last) < 2:
            return text, None
        path = Path(last[1:]).expanduser()
        try:
            if path.stat().st_size > MAX_ATTACHMENT:
                self.show([(f"{path} is larger than {MAX_ATTACHMENT:,} bytes; not sent.", "dim")])
                return head, None
            return head, Document(path.name, path.read_bytes())
        except OSError as problem:
            self.show([(f"Cannot read {path}: {problem.strerror or problem}.", "dim")])
            return head, None

    async def _read_loop(self) -> None:
        async with self._lines() as next_line:
            while (line := await next_line()) is not None:
                try:
                    await self.run_line(line)
                except Exception:
                    log.exception("console: handling a line failed")
                if self._left:
                    break
        ended = self.on_interrupt if self._interrupted and self.on_interrupt else self.on_end_of_input
        if ended:
            ended()

    def _lines(self) -> AbstractAsyncContextManager[NextLine]:
        if self.prompt:
            return self._prompted_lines()
        fd = pollable_fd(self.stdin)
        return self._piped_lines(fd) if fd is not None else self._plain_lines()

    @asynccontextmanager
    async def _prompted_lines(self) -> AsyncIterator[NextLine]:
        """Lines typed at a prompt_toolkit prompt; everything printed meanwhile goes above it."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
        from prompt_toolkit.input import create_input
        from prompt_toolkit.patch_stdout import patch_stdout

        session = self.session or PromptSession(history=InMemoryHistory(), input=create_input(self.stdin))

        async def next_line() -> str | None:
            try:
                return await session.prompt_async(f"{self.user.user_id}> ", handle_sigint=False)
            except EOFError:  # Ctrl-D
                return None
            except KeyboardInterrupt:  # Ctrl-C: the terminal is in raw mode, so no SIGINT comes
                self._interrupted = True
                return None

        with patch_stdout(raw=True):
            yield next_line

    @asynccontextmanager
    async def _piped_lines(self, fd: int) -> AsyncIterator[NextLine]:
        """Lines from a pipe, read by the event loop (no thread blocks on it, so a stop never waits)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE)
        was_blocking = os.get_blocking(fd)
        pipe = os.fdopen(os.dup(fd), "rb", buffering=0)  # the transport closes its own copy, not stdin
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)

        async def next_line() -> str | None:
            while True:
                try:
                    data = await reader.readline()
                except ValueError:
                    log.warning("console: skipped an input line longer than %d bytes", MAX_LINE)
                    continue
                return data.decode("utf-8", "replace") if data else None

        try:
            yield next_line
        finally:
            transport.close()
            try:
                os.set_blocking(fd, was_blocking)  # O_NONBLOCK is shared with stdin: put it back
            except OSError:  # stdin was closed meanwhile
                pass

    @asynccontextmanager
    async def _plain_lines(self) -> AsyncIterator[NextLine]:
        """Lines from a regular file or an in-memory stream: reading them never waits."""

        async def next_line() -> str | None:
            await asyncio.sleep(0)
            return self.stdin.readline() or None

        yield next_line

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
            self._left = True
        else:
            self.show([(":as NAME speaks as someone else; :whoami; :quit.", "dim")])

    def show(self, lines: list[Line]) -> None:
        for text, style in lines:
            self.console.print(text, style=style or None, markup=False, highlight=False)
