"""Logging for the `tickerbell` command: one line per event on stderr, as text or JSON.

- A warning (or worse) repeated is shown once, then at most once per interval (60 s of wall
  time) with a count: "... (and 41 more like it in the last 60 s)". Repeats are keyed by the
  logger and the message template (`record.msg`), not by the formatted arguments. Counts still
  pending are shown at the next log line after their interval, and at the end (`finish()`).
- Lines go to whatever `sys.stderr` is at the moment of writing, so that the console's prompt
  (prompt_toolkit's `patch_stdout`) shows them above itself; while a rich progress bar runs,
  `through(console)` prints them through that bar's console, above the bar.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console

FORMATS = ("text", "json")
REPEAT_INTERVAL = 60.0  # seconds of wall time between two lines of the same repeated warning
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REPEATS = "tickerbell_repeats"  # the record attribute that carries (more, seconds)


def repeat_note(record: logging.LogRecord) -> str:
    """The suffix of a line that stands for others like it, or ""."""
    repeats: tuple[int, float] | None = getattr(record, _REPEATS, None)
    if not repeats or repeats[0] <= 0:
        return ""
    more, seconds = repeats
    return f" (and {more:,} more like it in the last {_span(seconds)})"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{max(1, round(seconds))} s"
    if seconds < 2 * 3600:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def with_note(record: logging.LogRecord) -> logging.LogRecord:
    """The record as shown: a copy whose message ends with its repeat note, or the record itself."""
    note = repeat_note(record)
    if not note:
        return record
    shown = copy.copy(record)
    shown.msg, shown.args = record.getMessage() + note, None
    return shown


@dataclass
class _Window:
    since: float  # when the last line of this kind was shown
    held: int = 0  # lines of this kind not shown since then
    last: logging.LogRecord | None = None  # the latest of them


class RepeatFilter(logging.Filter):
    """Lets the first of a kind of warning through, then at most one per `interval` with a count.

    `clock` is a monotonic clock in seconds (injected by tests). Thread-safe: providers log
    from worker threads, and a handler runs its filters outside its own lock.
    """

    MAX_KINDS = 1000

    def __init__(self, *, interval: float = REPEAT_INTERVAL, clock: Callable[[], float] = time.monotonic, level: int = logging.WARNING) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.level = level
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level or getattr(record, _REPEATS, None) is not None:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                self._forget_quiet(now)
                self._windows[key] = _Window(since=now)
                return True
            if now - window.since < self.interval:
                window.held += 1
                window.last = record
                return False
            self._windows[key] = _Window(since=now)
        setattr(record, _REPEATS, (window.held, now - window.since))
        return True

    def _forget_quiet(self, now: float) -> None:
        """Keep the table small: past MAX_KINDS kinds, forget those with nothing held and a passed interval."""
        if len(self._windows) >= self.MAX_KINDS:
            for key in [k for k, w in self._windows.items() if w.last is None and now - w.since >= self.interval]:
                del self._windows[key]

    def due(self, *, everything: bool = False) -> list[logging.LogRecord]:
        """The held lines to show now, one per kind, each standing for the others held with it:
        those whose interval has passed, or all of them (`everything`, at the end)."""
        now = self.clock()
        shown: list[logging.LogRecord] = []
        with self._lock:
            for key, window in self._windows.items():
                if window.last is None or not (everything or now - window.since >= self.interval):
                    continue
                record = copy.copy(window.last)
                setattr(record, _REPEATS, (window.held - 1, now - window.since))
                shown.append(record)
                self._windows[key] = _Window(since=now)
        return sorted(shown, key=lambda record: record.created)


class TextFormatter(logging.Formatter):
    """`2025-01-27 16:05:00,123 WARNING bot.app: message`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, and exc_info if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else "")
        if exc:
            entry["exc_info"] = exc
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.Handler):
    """Writes each line to the current `sys.stderr`, or through `console` while one is set."""

    def __init__(self, *, repeats: RepeatFilter | None = None) -> None:
        super().__init__()
        self.repeats = repeats
        if repeats is not None:
            self.addFilter(repeats)
        self.console: Console | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        shown = super().handle(record)
        if self.repeats is not None:
            for held in self.repeats.due():
                super().handle(held)
        return shown

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(with_note(record))
            console = self.console
            if console is not None:
                console.out(line, highlight=False)
            else:
                stream = sys.stderr or sys.__stderr__
                if stream is not None:
                    stream.write(line + "\n")
                    stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def show_held(self) -> None:
        """Show every repeat count still held (at the end of a run)."""
        if self.repeats is not None:
            for held in self.repeats.due(everything=True):
                super().handle(held)

    def close(self) -> None:
        self.show_held()
        super().close()


def setup(level: str = "WARNING", log_format: str = "text", *, interval: float = REPEAT_INTERVAL) -> StderrHandler:
    """Send every log line to stderr as `log_format`, at `level` and above, repeats limited."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
        old.close()
    handler = StderrHandler(repeats=RepeatFilter(interval=interval))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def _ours() -> list[StderrHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]


@contextmanager
def through(console: Console | None) -> Iterator[None]:
    """While inside, log lines print through `console` (a progress bar's, above the bar). None: no change."""
    handlers = _ours() if console is not None else []
    for handler in handlers:
        handler.console = console
    try:
        yield
    finally:
        for handler in handlers:
            handler.console = None


def finish() -> None:
    """Show the repeat counts still held and flush: call once at the end of the command."""
    for handler in _ours():
        handler.show_held()
        handler.flush()
