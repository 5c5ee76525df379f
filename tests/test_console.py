"""The console adapter as a person uses it: lines in, replies and alerts out."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import select
import signal
import time
from datetime import date
from pathlib import Path
from typing import TextIO

import pytest
from rich.console import Console

from bot.adapters.console import ConsoleAdapter
from bot.adapters.console.render import as_text, render_alert
from bot.core.messages import Alert, AlertKind
from tests.conftest import DEMO_DATA, DESCRIBER, ny
from tests.test_cli import csv_config, tickerbell


async def test_piped_commands_run_in_order_and_end_of_input_stops(make_harness, tmp_path) -> None:
    harness = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17))
    screen = io.StringIO()
    ended = asyncio.Event()
    lines = "/price NVDA\n/alert NVDA below 120\n:as analyst\n/setlevel NVDA entry 125\n:as bob\n/setlevel NVDA exit 170\nhello\n"
    adapter = ConsoleAdapter(
        harness.app.router, describer=harness.app.describer(), user="alice", stdin=io.StringIO(lines),
        output=Console(file=screen, width=200), on_end_of_input=ended.set, prompt=False, charts_dir=tmp_path,
    )
    await adapter.start()
    await asyncio.wait_for(ended.wait(), timeout=10)
    await adapter.stop()
    text = screen.getvalue()
    assert "NVDA $142.60" in text
    assert "Alert #1 set: NVDA below $120.00" in text
    assert "Now speaking as analyst (an admin)." in text
    assert "NVDA entry level set at $125.00" in text
    assert "/setlevel is for the bot's admins" in text  # bob is not
    assert "Commands start with /. Try /help." in text


async def test_alerts_print_with_their_actions() -> None:
    alert = Alert(kind=AlertKind.SELLOFF, ticker="CRDO", at=ny(date(2025, 1, 27), 16, 5), price=55.6, change_pct=-30.91, threshold_pct=5.0, extra={"prev_close": 80.47})
    text = as_text(render_alert(alert, DESCRIBER))
    assert text == (
        "🔔 ▼ Sell-off: CRDO down 30.91% today\n"
        "  Now $55.60, −30.91% today (previous close $80.47).\n"
        "  This chat watches CRDO for daily falls of 5% or more.\n"
        "  [Primer: /primer CRDO]\n"
        "  2025-01-27 16:05 ET"
    )


async def _console(make_harness, tmp_path, stdin, **kw):
    harness = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17))
    screen = io.StringIO()
    adapter = ConsoleAdapter(harness.app.router, describer=harness.app.describer(), user="alice", stdin=stdin,
                             output=Console(file=screen, width=200), charts_dir=tmp_path, **kw)
    return adapter, screen


def _reading(fd: int) -> TextIO:
    """A pipe's read end as the text stream stdin would be."""
    return open(fd, encoding="utf-8")


async def _until(predicate, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_pipe_that_stays_open_is_read_as_lines_come_and_never_holds_the_stop(make_harness, tmp_path) -> None:
    read_end, write_end = os.pipe()
    stdin = _reading(read_end)
    try:
        ended = asyncio.Event()
        adapter, screen = await _console(make_harness, tmp_path, stdin, on_end_of_input=ended.set)
        await adapter.start()
        os.write(write_end, b"/price NVDA\n")
        await _until(lambda: "NVDA $" in screen.getvalue())
        os.write(write_end, b":whoami\n")
        await _until(lambda: "You are console:alice." in screen.getvalue())
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait_for(adapter.stop(), timeout=2)  # the writer still holds the pipe open
        assert loop.time() - began < 0.5
        assert not ended.is_set()  # stopped, not ended by input
        assert os.get_blocking(read_end)  # stdin is left as it was found
    finally:
        stdin.close()
        os.close(write_end)


async def test_the_end_of_a_pipe_ends_the_input(make_harness, tmp_path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"/price NVDA\n:as analyst\n/setlevel NVDA entry 125\n")
    os.close(write_end)
    with _reading(read_end) as stdin:
        ended = asyncio.Event()
        adapter, screen = await _console(make_harness, tmp_path, stdin, on_end_of_input=ended.set)
        await adapter.start()
        await asyncio.wait_for(ended.wait(), timeout=10)
        await adapter.stop()
    assert "NVDA entry level set at $125.00" in screen.getvalue()


async def test_dev_null_ends_the_input_at_once(make_harness, tmp_path) -> None:
    with open(os.devnull, encoding="utf-8") as stdin:  # noqa: ASYNC230 (opening /dev/null does not block)
        ended = asyncio.Event()
        adapter, _ = await _console(make_harness, tmp_path, stdin, on_end_of_input=ended.set)
        await adapter.start()
        await asyncio.wait_for(ended.wait(), timeout=5)  # epoll refuses /dev/null: it must not be waited on
        await adapter.stop()


async def test_quit_ends_the_input_once(make_harness, tmp_path) -> None:
    ends: list[str] = []
    adapter, screen = await _console(make_harness, tmp_path, io.StringIO(":whoami\n:quit\n/price NVDA\n"), on_end_of_input=lambda: ends.append("end"))
    await adapter.start()
    await _until(lambda: bool(ends))
    await adapter.stop()
    assert ends == ["end"]
    assert "You are console:alice." in screen.getvalue() and "NVDA $" not in screen.getvalue()


async def test_at_a_terminal_lines_are_edited_and_remembered_and_ctrl_c_interrupts(make_harness, tmp_path) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        session: PromptSession[str] = PromptSession(history=InMemoryHistory(), input=keys, output=DummyOutput())
        interrupted, ended = asyncio.Event(), asyncio.Event()
        adapter, screen = await _console(make_harness, tmp_path, io.StringIO(), prompt=True, session=session,
                                         on_interrupt=interrupted.set, on_end_of_input=ended.set)
        await adapter.start()
        keys.send_text("/price NVDX\x7fA\r")  # a typo mended with backspace
        await _until(lambda: "NVDA $" in screen.getvalue())
        keys.send_text(":as analyst\r:whoami\r")
        await _until(lambda: "You are console:analyst." in screen.getvalue())
        keys.send_text("\x03")  # Ctrl-C
        await asyncio.wait_for(interrupted.wait(), timeout=10)
        await adapter.stop()
    assert not ended.is_set()
    assert list(session.history.load_history_strings()) == [":whoami", ":as analyst", "/price NVDA"]
    assert screen.getvalue().startswith("tickerbell console.")


async def test_at_a_terminal_ctrl_d_ends_the_input(make_harness, tmp_path) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        ended = asyncio.Event()
        adapter, _ = await _console(make_harness, tmp_path, io.StringIO(), prompt=True, session=PromptSession(input=keys, output=DummyOutput()),
                                    on_end_of_input=ended.set)
        await adapter.start()
        keys.send_text("\x04")
        await asyncio.wait_for(ended.wait(), timeout=10)
        await adapter.stop()


class Terminal:
    """`tickerbell run` in a pseudo-terminal, as a person at a keyboard runs it."""

    def __init__(self, tmp_path: Path) -> None:
        self.master, slave = pty.openpty()
        environ = {"TERM": "xterm", "COLUMNS": "120", "LINES": "40", "PROMPT_TOOLKIT_NO_CPR": "1"}
        self.proc = tickerbell("--log-level", "INFO", "run", "--config", str(csv_config(tmp_path)), environ=environ,
                               stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def read_until(self, token: bytes, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while token not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the process has gone
                    break
        return token in self.seen

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path: Path):
    term = Terminal(tmp_path)
    yield term
    term.close()


def _log_lines_are_printed_above_the_prompt(seen: bytes) -> int:
    """How many log lines came once a prompt was on screen; before each, the prompt was erased
    (prompt_toolkit's \\x1b[J after it), never written beside."""
    after_prompt = 0
    for match in re.finditer(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", seen):
        prompt = seen.rfind(b"you>", 0, match.start())
        if prompt >= 0:
            after_prompt += 1
            assert b"\x1b[J" in seen[prompt : match.start()], f"a log line was written over the prompt: {seen[prompt : match.end() + 40]!r}"
    return after_prompt


@pytest.mark.parametrize(("how", "code"), [("SIGTERM", 0), ("Ctrl-C", 130)])
def test_at_a_real_terminal_the_prompt_edits_remembers_and_stops_at_once(terminal: Terminal, how: str, code: int) -> None:
    assert terminal.read_until(b"you>"), terminal.seen[-2000:]
    terminal.type(b"/price NVDA\r")
    assert terminal.read_until(b"NVDA $"), terminal.seen[-2000:]
    answers = terminal.seen.count(b"Previous close")
    terminal.type(b"\x1b[A\r")  # arrow up: the last line again
    assert terminal.read_until(b"Previous close", 10) and terminal.read_until(b"zz", 0.5) is False
    assert terminal.seen.count(b"Previous close") == answers + 1
    assert terminal.read_until(b"stale quotes")  # the first market check's log line
    began = time.monotonic()
    if how == "SIGTERM":
        terminal.proc.send_signal(signal.SIGTERM)
    else:
        terminal.type(b"\x03")
    assert terminal.proc.wait(timeout=10) == code
    elapsed = time.monotonic() - began
    terminal.read_until(b"stopped cleanly", 2)
    assert elapsed < 5, f"the stop took {elapsed:.1f} s"
    assert b"stopped cleanly" in terminal.seen and b"Traceback" not in terminal.seen
    assert _log_lines_are_printed_above_the_prompt(terminal.seen) >= 1
