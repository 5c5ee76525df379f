"""Logging as an operator reads it: a repeated warning once, then a count; JSON lines; the line above a bar."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rich.console import Console

from bot import logs
from bot.logs import JsonFormatter, RepeatFilter, StderrHandler, TextFormatter
from tests.conftest import ROOT, real_data
from tests.test_cli import tickerbell

TEMPLATE = "valuation levels: the provider returned no fundamentals for %s; its levels keep yesterday's price"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(msg: str = TEMPLATE, *args: object, name: str = "bot.features.primer.levels", level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def text_of(rec: logging.LogRecord) -> str:
    return logs.with_note(rec).getMessage()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_repeated_warning_shows_once_then_once_a_minute_with_a_count(clock: FakeClock) -> None:
    repeats = RepeatFilter(interval=60, clock=clock)
    first = record(TEMPLATE, "MSFT")
    assert repeats.filter(first) and text_of(first).endswith("for MSFT; its levels keep yesterday's price")
    for second in range(41):  # other tickers, same template: the same kind of line
        clock.now += 1
        assert not repeats.filter(record(TEMPLATE, "GOOG" if second % 2 else "MSFT"))
    clock.now = 1000.0 + 60
    shown = record(TEMPLATE, "MSFT")
    assert repeats.filter(shown)
    assert text_of(shown) == f"{TEMPLATE % 'MSFT'} (and 41 more like it in the last 60 s)"
    clock.now += 30
    assert not repeats.filter(record(TEMPLATE, "MSFT"))  # a new interval began with the line shown


def test_repeats_are_keyed_by_logger_and_template_and_only_for_warnings(clock: FakeClock) -> None:
    repeats = RepeatFilter(interval=60, clock=clock)
    assert repeats.filter(record(TEMPLATE, "MSFT"))
    assert repeats.filter(record(TEMPLATE, "MSFT", name="bot.other"))  # another logger
    assert repeats.filter(record("another warning %s", "MSFT"))  # another template
    assert repeats.filter(record(TEMPLATE, "MSFT", level=logging.ERROR))  # another level
    assert all(repeats.filter(record("price check: stale quotes for %s", "NVDA", level=logging.INFO)) for _ in range(5))  # info is never held
    assert not repeats.filter(record(TEMPLATE, "MSFT"))


def test_held_counts_are_shown_at_the_end_and_after_their_interval(clock: FakeClock) -> None:
    repeats = RepeatFilter(interval=60, clock=clock)
    repeats.filter(record(TEMPLATE, "MSFT"))
    for ticker in ("GOOG", "MSFT", "GOOG"):
        clock.now += 5
        repeats.filter(record(TEMPLATE, ticker))
    assert repeats.due() == []  # the interval has not passed
    clock.now += 2
    [last] = repeats.due(everything=True)
    assert text_of(last) == f"{TEMPLATE % 'GOOG'} (and 2 more like it in the last 17 s)"  # the last one held stands for the other two
    assert repeats.due(everything=True) == []  # shown once

    repeats.filter(record(TEMPLATE, "NVDA"))  # held: within 60 s of the line just shown
    clock.now += 61
    [late] = repeats.due()
    assert text_of(late) == TEMPLATE % "NVDA"  # alone: no count to add


def test_the_handler_shows_a_held_count_once_its_interval_has_passed(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)  # the handler writes to sys.stderr as it is now (so patch_stdout moves it above the prompt)
    handler = StderrHandler(repeats=RepeatFilter(interval=60, clock=clock))
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    for _ in range(5):
        handler.handle(record(TEMPLATE, "MSFT"))
    clock.now += 61
    handler.handle(record("price check: %d quotes", 9, name="jobs.price_check", level=logging.INFO))
    handler.close()
    assert err.getvalue().splitlines() == [
        f"WARNING {TEMPLATE % 'MSFT'}",
        "INFO price check: 9 quotes",
        f"WARNING {TEMPLATE % 'MSFT'} (and 3 more like it in the last 61 s)",
    ]


def test_a_line_standing_for_others_says_how_many_without_changing_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    handler = StderrHandler()
    handler.setFormatter(TextFormatter())
    rec = record(TEMPLATE, "MSFT")
    rec.tickerbell_repeats = (1499, 18.4)
    handler.handle(rec)
    assert err.getvalue().endswith(f"WARNING bot.features.primer.levels: {TEMPLATE % 'MSFT'} (and 1,499 more like it in the last 18 s)\n")
    assert rec.msg == TEMPLATE and rec.args == ("MSFT",)  # other handlers see the record as it was


def test_json_lines_carry_time_level_logger_message_and_the_traceback() -> None:
    try:
        raise ValueError("provider exploded")
    except ValueError:
        rec = logging.LogRecord("bot.core.router", logging.ERROR, __file__, 1, "handling %s failed", ("/price NVDA",), sys.exc_info())
    rec.created = datetime(2025, 1, 27, 21, 5, 0, 123000, tzinfo=UTC).timestamp()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["time"] == "2025-01-27T21:05:00.123Z"
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "bot.core.router", "handling /price NVDA failed")
    assert entry["exc_info"].startswith("Traceback (most recent call last):") and entry["exc_info"].endswith("ValueError: provider exploded")
    plain = json.loads(JsonFormatter().format(record("café %s", "▼")))
    assert plain["message"] == "café ▼" and "exc_info" not in plain


def test_json_lines_keep_a_redacted_traceback_redacted() -> None:
    rec = record("telegram: polling failed")
    try:
        raise RuntimeError("GET https://api.telegram.org/bot123:SECRET-TOKEN/getUpdates")
    except RuntimeError:
        rec.exc_info = sys.exc_info()
    rec.exc_text = "RuntimeError: GET https://api.telegram.org/bot[telegram-token]/getUpdates"  # as the Telegram adapter's redactor leaves it
    assert "SECRET" not in JsonFormatter().format(rec) and "SECRET" not in TextFormatter().format(rec)


@pytest.fixture
def root_handler() -> Iterator[StderrHandler]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    handler = logs.setup("INFO", "text")
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.handlers[:], root.level = saved  # type: ignore[misc]
        root.setLevel(saved[1])


def test_while_a_progress_bar_runs_log_lines_go_through_its_console(root_handler: StderrHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    err, bar = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with logs.through(Console(file=bar, width=200)):
        logging.getLogger("bot.test").warning("above the bar")
    logging.getLogger("bot.test").warning("after the bar")
    assert "above the bar" in bar.getvalue() and "above the bar" not in err.getvalue()
    assert "after the bar" in err.getvalue()


def test_setup_replaces_its_own_handler_and_finish_shows_held_counts(root_handler: StderrHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    logs.setup("WARNING", "json")
    assert len([h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]) == 1
    for ticker in ("MSFT", "GOOG", "MSFT"):
        logging.getLogger("bot.features.primer.levels").warning(TEMPLATE, ticker)
    logs.finish()
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [TEMPLATE % "MSFT", f"{TEMPLATE % 'MSFT'} (and 1 more like it in the last 1 s)"]


def test_the_log_format_option_goes_before_or_after_the_command(tmp_path) -> None:
    from tests.test_cli import csv_config

    for argv in (["--log-format", "json", "replay"], ["replay", "--log-format", "json"]):
        proc = tickerbell(*argv, "--log-level", "INFO", "--config", str(csv_config(tmp_path)), "--data", str(ROOT / "seeds" / "demo" / "prices"),
                          "--from", "2025-01-27", "--to", "2025-01-28", "--jsonl", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        entries = [json.loads(line) for line in err.splitlines()]
        assert entries and all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)


def test_a_three_year_replay_writes_a_handful_of_log_lines() -> None:
    data = real_data()
    started = time.monotonic()
    proc = tickerbell("replay", "--data", str(data), "--from", "2023-06-12", "--to", "2026-06-08", "--script", str(ROOT / "tests" / "golden" / "replay_3y_script.txt"),
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=110)
    assert proc.returncode == 0, err[-2000:]
    lines = err.splitlines()
    assert len(lines) < 30, f"{len(lines)} lines in {time.monotonic() - started:.0f} s:\n" + "\n".join(lines[:40])
    assert any("more like it in the last" in line for line in lines)  # the count at the end
