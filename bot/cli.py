"""The `tickerbell` command: run, replay, demo.

`tickerbell run` exits 0 after SIGTERM (or the console's end of input) and 130 after SIGINT,
within 5 s, and 2, with one line on stderr, for a config mistake or a database that cannot be
used. If something could not be stopped in time (a task, or a thread stuck in a provider call
that would keep the interpreter alive), it is named in one log line and the process exits at
once with `os._exit`, after the logs are flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from bot import logs
from bot.config import CONFIG_ENV, Config, ConfigError, load_config, with_role
from bot.core.ports import StorageError
from seeds import seeds_path

log = logging.getLogger(__name__)

DEMO_FROM, DEMO_TO = date(2025, 1, 21), date(2025, 1, 31)
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
EXIT_SIGINT = 128 + signal.SIGINT  # 130, as a shell reports a Ctrl-C
LEFTOVER_GRACE = 0.3  # seconds for tasks still pending after run_live to unwind once cancelled
THREAD_GRACE = 0.3  # seconds for worker threads to end once their pools are shut down


def package_version() -> str:
    """The installed tickerbell's version, from its package metadata."""
    try:
        return version("tickerbell")
    except PackageNotFoundError:
        return "unknown"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-01-27, got {text!r}") from None


def _options(*, defaults: bool) -> argparse.ArgumentParser:
    """The options taken before or after the command. The subcommands' copy has no defaults, so
    that it does not overwrite a value given before the command (argparse copies a subcommand's
    values over the top level's)."""
    options = argparse.ArgumentParser(add_help=False)
    level, log_format, config = ("WARNING", "text", None) if defaults else (argparse.SUPPRESS, argparse.SUPPRESS, argparse.SUPPRESS)
    options.add_argument("--log-level", choices=LOG_LEVELS, default=level, help="log detail on stderr (default WARNING)")
    options.add_argument("--log-format", choices=logs.FORMATS, default=log_format, help="log lines as text or one JSON object a line (default text)")
    options.add_argument("--config", type=Path, default=config, help=f"a TOML config file (see config.example.toml; default: ${CONFIG_ENV} if set)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tickerbell", description="Stock alerts for Discord, Telegram and the console.", parents=[_options(defaults=True)])
    parser.add_argument("--version", action="version", version=f"tickerbell {package_version()}")
    with_config = _options(defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[with_config], help="run the live bot with the adapters the config enables")
    run.add_argument("--role", help='what this process runs: "all" (the default), or some of checker, delivery, gateway '
                     "separated by commas (several processes on PostgreSQL; overrides [cluster] role)")

    replay = sub.add_parser("replay", parents=[with_config], help="replay history from CSV files through the live pipeline")
    replay.add_argument("--data", type=Path, required=True, help="a folder of <TICKER>.csv files")
    replay.add_argument("--from", dest="start", type=_day, required=True, help="first day, e.g. 2025-01-21")
    replay.add_argument("--to", dest="end", type=_day, required=True, help="last day, e.g. 2025-01-31")
    replay.add_argument("--script", type=Path, help="chat commands, one a line, run by an admin at the first open, before the first check")
    replay.add_argument("--jsonl", action="store_true", help="one JSON object a line per delivered alert")
    replay.add_argument("--db", type=Path, help="keep the replay's database here (default: a temporary file)")
    replay.add_argument("--no-look-back", action="store_true",
                        help="/alert replies without the three-year look-back (a script of thousands of alerts runs far faster)")

    migrate = sub.add_parser("migrate", parents=[with_config], help="apply the database migrations now, or copy a SQLite database into PostgreSQL")
    migrate.add_argument("--from", dest="source", help="copy this SQLite database (sqlite:///path or a path) ...")
    migrate.add_argument("--to", dest="target", help="... into this new, empty PostgreSQL database (postgresql://user@host:5432/db)")

    demo = sub.add_parser("demo", parents=[with_config], help="the DeepSeek sell-off week of January 2025, replayed from the seeds")
    demo.add_argument("--jsonl", action="store_true", help="one JSON object a line per delivered alert")
    return parser


def read_config(option: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """The config from --config, else from the file $TICKERBELL_CONFIG names, else defaults; the environment overrides it."""
    environ = os.environ if environ is None else environ
    named = environ.get(CONFIG_ENV, "").strip()
    if option is None and named:
        try:
            return load_config(named, environ)
        except ConfigError as problem:
            if not Path(named).is_file():  # say where the missing file's name came from
                raise ConfigError(f"environment {CONFIG_ENV}: {problem}") from None
            raise
    return load_config(option, environ)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    for chatty in ("httpx", "apscheduler", "yfinance"):  # one line per event of ours; theirs only when they matter
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING)
    try:
        return _command(args)
    finally:
        logs.finish()


def _command(args: argparse.Namespace) -> int:
    try:
        config = read_config(args.config)
        if args.command == "run":
            if args.role is not None:
                config = with_role(config, args.role)
            config.check_tokens()  # before anything connects
            return serve(config)
        if args.command == "migrate":
            return run_migrate(config, args.source, args.target)
        if args.command == "replay":
            from bot.replay import read_script, run_replay

            script = read_script(args.script) if args.script else None
            if args.no_look_back:
                config = replace(config, alerts=replace(config.alerts, look_back=False))
            asyncio.run(run_replay(config, data_dir=args.data, start=args.start, end=args.end, script=script, jsonl=args.jsonl, db_path=args.db))
        elif args.command == "demo":
            from bot.replay import read_script, run_replay

            demo = seeds_path("demo")
            asyncio.run(
                run_replay(
                    config,
                    data_dir=demo / "prices",
                    start=DEMO_FROM,
                    end=DEMO_TO,
                    script=read_script(demo / "script.txt"),
                    jsonl=args.jsonl,
                    title="tickerbell demo: the DeepSeek sell-off, 2025-01-21 to 2025-01-31 (prices made from the article's figures)",
                )
            )
    except (ConfigError, StorageError) as problem:  # one line, no traceback: the operator can fix it
        print(f"tickerbell: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return EXIT_SIGINT
    return 0


def run_migrate(config: Config, source: str | None, target: str | None) -> int:
    """`tickerbell migrate`: the config's database brought up to date, or (--from/--to) a SQLite database copied into PostgreSQL."""
    from storage.tools import copy_sqlite_to_postgres, migrate

    if (source is None) != (target is None):
        raise ConfigError("tickerbell migrate: --from and --to go together (--from sqlite:///path --to postgresql://...)")
    done = asyncio.run(copy_sqlite_to_postgres(source, target) if source and target else migrate(config.storage.target))
    print(done)
    return 0


def serve(config: Config) -> int:
    """`tickerbell run` on its own event loop, whose teardown never waits without bound; the exit code.

    asyncio.run() would wait for every leftover task and for the default thread pool, so a
    thread stuck in a provider call could hold the process for minutes. Here each wait is
    bounded, and what is left is named and abandoned (see `exit_abandoning`).
    """
    from bot.app import run_live

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    abandoned: list[str] = []
    try:
        stopped_by, abandoned = loop.run_until_complete(run_live(config))
        code = EXIT_SIGINT if stopped_by == signal.SIGINT else 0
    except (ConfigError, StorageError) as problem:  # a config mistake, or a database that cannot be used
        print(f"tickerbell: {problem}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:  # before the loop's own signal handlers were set
        code = EXIT_SIGINT
    except Exception:
        log.exception("tickerbell stopped on an unexpected error")
        code = 1
    finally:
        leftovers = close_loop(loop, grace=LEFTOVER_GRACE)
        asyncio.set_event_loop(None)
    leftovers += lingering_threads(grace=THREAD_GRACE)
    if leftovers:  # the interpreter would wait for them at exit
        exit_abandoning(code, [*abandoned, *leftovers])
    if abandoned:
        log.warning("stopped; not finished in time: %s", ", ".join(abandoned))
    elif code in (0, EXIT_SIGINT):
        log.info("stopped cleanly")
    return code


def close_loop(loop: asyncio.AbstractEventLoop, *, grace: float) -> list[str]:
    """Cancel the tasks still pending, give them `grace` seconds, close the loop; the tasks left behind."""
    try:
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=grace))
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" at exit
        gens = loop.create_task(loop.shutdown_asyncgens())
        loop.run_until_complete(asyncio.wait([gens], timeout=grace))
        return [f"task {task.get_name()}" for task in tasks if not task.done()]
    finally:
        loop.close()  # shuts the default thread pool down without waiting for it


def lingering_threads(*, grace: float) -> list[str]:
    """Non-daemon threads still running after `grace` seconds (the interpreter would wait for them), by name."""
    deadline = time.monotonic() + grace
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [f"thread {thread.name}" for thread in others if thread.is_alive()]


def exit_abandoning(code: int, abandoned: list[str]) -> NoReturn:
    """Name what is abandoned in one log line, flush the logs and exit now, without waiting for it."""
    log.warning("exiting with code %d without waiting for %s (still running after the stop)", code, ", ".join(abandoned))
    logs.finish()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
