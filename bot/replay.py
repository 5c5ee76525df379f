"""`tickerbell replay` and `tickerbell demo`: history through the live pipeline, as fast as it goes.

The app is built exactly as for a live run, with the CSV provider, a ReplayClock and a
fresh database; a script of chat commands runs first as an admin console user (at the first
session's open, before its first check); then the
clock steps through each session and every delivered alert is printed (or written as
one JSON object a line).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from bot import logs
from bot.adapters.console.render import Line, render_alert, render_reply, save_image
from bot.app import App
from bot.config import Config, ConfigError
from bot.core.calendar import Session
from bot.core.clock import ReplayClock
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.market.calendar import MarketCalendar
from jobs.replay import replay_sessions
from storage.sqlite import SqliteStorage
from storage.sqlite.database import Database

SCRIPT_USER = UserRef("console", "analyst", "analyst")
REPLAY_CHAT = ChatRef("console", "console", ChatKind.PRIVATE)


class ReplayOutput:
    """The console platform during a replay: prints each delivered alert, or writes JSON lines."""

    platform = "console"

    def __init__(self, *, jsonl: bool, out: TextIO, console: Console, clock: ReplayClock, describer: AlertDescriber) -> None:
        self.jsonl = jsonl
        self.describer = describer
        self.out = out
        self.console = console
        self.clock = clock
        self.delivered: list[tuple[ChatRef, Alert]] = []  # each alert, a group's one by one
        self.messages = 0  # chat messages sent: a group of alerts is one
        self._last_day: date | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        self.messages += 1
        self.delivered.extend((chat, item) for item in alert.alerts)
        if self.jsonl:  # one line per alert; `message` is shared by the alerts of one chat message
            for item in alert.alerts:
                record = {**alert_record(chat, item, self.describer), "message": self.messages}
                self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.out.flush()
            return
        day = self.clock.now().astimezone(self.describer.zone).date()
        if day != self._last_day:
            self._last_day = day
            self.show([("", ""), (f"── {day.strftime('%a %Y-%m-%d')} " + "─" * 40, "bold cyan")])
        self.show(render_alert(alert, self.describer, chat))

    def show(self, lines: list[Line]) -> None:
        for text, style in lines:
            self.console.print(text, style=style or None, markup=False, highlight=False)


def alert_record(chat: ChatRef, alert: Alert, describer: AlertDescriber) -> dict[str, object]:
    """One delivered alert as a JSON-friendly record (the `--jsonl` format)."""
    record: dict[str, object] = {
        "ticker": alert.ticker,
        "kind": alert.kind.value,
        "at": alert.at.astimezone(describer.zone).isoformat(),
        "price": _round(alert.price),
        "change_pct": _round(alert.change_pct),
        "level": _round(alert.level),
        "rule_id": alert.rule_id,
        "chat": chat.key,
        "text": describer.describe(alert).text,
    }
    for key in ("level_name", "threshold_pct", "direction", "peak", "drawdown_pct"):
        value = getattr(alert, key)
        if value is not None:
            record[key] = _round(value) if isinstance(value, float) else value
    if alert.mention:
        record["user"] = alert.mention.key
    for key, value in alert.extra.items():
        if key not in record and isinstance(value, (str, int, float, list)):
            record[key] = value
    return record


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


async def run_replay(
    config: Config,
    *,
    data_dir: Path,
    start: date,
    end: date,
    script: list[str] | None = None,
    jsonl: bool = False,
    db_path: Path | None = None,
    out: TextIO | None = None,
    console: Console | None = None,
    title: str | None = None,
    charts_dir: Path | None = Path("charts"),
) -> ReplayOutput:
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}")
    if not data_dir.is_dir():  # noqa: ASYNC240 (one stat at start-up)
        raise ConfigError(f"--data {data_dir}: no such folder")
    out = out or sys.stdout
    console = console or Console(file=out, highlight=False, soft_wrap=True)
    calendar = MarketCalendar(config.market.exchange)
    first = calendar.sessions(start, end)
    if not first:
        raise ConfigError(f"no trading sessions between {start} and {end}")
    # The script runs at the first session's open (the first check is a minute later), so
    # that a replay starting on the first day of the data has prices to answer with.
    clock = ReplayClock(first[0].open)
    config = replace(
        config,
        market=replace(config.market, provider="csv", data_dir=str(data_dir)),
        bot=replace(config.bot, admins=config.bot.admins | {SCRIPT_USER.key}),
    )
    with tempfile.TemporaryDirectory(prefix="tickerbell-replay-") as scratch:
        app = await App.create(config, clock=clock, calendar=calendar, storage_path=db_path or Path(scratch) / "replay.sqlite3")
        output = ReplayOutput(jsonl=jsonl, out=out, console=console, clock=clock, describer=app.describer())
        app.add_adapter(output)
        try:
            if title and not jsonl:
                output.show([(title, "bold")])
            await _run_script(app, script or [], output, jsonl=jsonl, charts_dir=charts_dir)
            progress = _progress_bar(len(first)) if (not jsonl and len(first) > 30 and sys.stderr.isatty()) else None
            task = progress.add_task("replaying", total=len(first)) if progress else None

            def advance(session: Session, done: int, total: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=done, description=session.day.isoformat())

            if progress:
                progress.start()
            try:
                with logs.through(progress.console if progress else None):  # log lines above the bar, not over it
                    await replay_app(app, clock, start, end, progress=advance, batched=True)
            finally:
                if progress:
                    progress.stop()
        finally:
            await app.close()
    return output


async def replay_app(
    app: App, clock: ReplayClock, start: date, end: date, *, progress: Callable[[Session, int, int], None] | None = None, batched: bool = False
) -> int:
    """Step an app through the sessions from start to end with its market timer: daily jobs, checks, deliveries.
    `batched`: each session's writes in one storage batch (nothing else may write meanwhile: `tickerbell replay`)."""
    return await replay_sessions(
        clock=clock,
        calendar=app.calendar,
        timer=app.timer(),
        sessions=app.calendar.sessions(start, end),
        deliver=app.dispatcher.drain_once,
        progress=progress,
        batch=replay_database(app).batch if batched else None,
    )


def replay_database(app: App) -> Database:
    """The SQLite database a replay writes in batches. A replay always runs on a SQLite file of its own
    (`run_replay` opens a fresh one, whatever `[storage]` says), so its app's storage is SQLite's;
    batches (one transaction for a session's writes) exist only there."""
    storage = app.storage
    if not isinstance(storage, SqliteStorage):
        raise TypeError(f"a replay runs on a SQLite file of its own, not on {storage.path}")
    return storage.db


async def _run_script(app: App, lines: list[str], output: ReplayOutput, *, jsonl: bool, charts_dir: Path | None = None) -> None:
    errors = Console(stderr=True, highlight=False)
    async with replay_database(app).batch():  # the script's rules in one transaction: the same replies, one commit
        await _run_lines(app, lines, output, errors, jsonl=jsonl, charts_dir=charts_dir)
    await app.dispatcher.drain_once()


async def _run_lines(app: App, lines: list[str], output: ReplayOutput, errors: Console, *, jsonl: bool, charts_dir: Path | None) -> None:
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        replies = await app.router.handle_text(line, chat=REPLAY_CHAT, user=SCRIPT_USER, is_chat_manager=True)
        if jsonl:
            for reply in replies:
                if reply.tone.value == "error":
                    errors.print(f"{line}: {reply.title}", markup=False)
            continue
        output.show([(f"{SCRIPT_USER.user_id}> {line}", "dim")])
        for reply in replies:
            saved = save_image(reply.image, charts_dir) if reply.image is not None and charts_dir is not None else None
            output.show(render_reply(reply, image_path=saved))


def _progress_bar(total: int) -> Progress:
    """A bar on stderr, gone when done. Log lines print through its console (`logs.through`), above it."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} sessions"), console=Console(stderr=True), transient=True)


def read_script(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as problem:
        raise ConfigError(f"--script {path}: {problem.strerror or problem}") from None
