"""The `tickerbell` command: run, replay, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.config import CONFIG_ENV, Config, ConfigError, load_config
from seeds import seeds_path

DEMO_FROM, DEMO_TO = date(2025, 1, 21), date(2025, 1, 31)
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


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
    level, config = ("WARNING", None) if defaults else (argparse.SUPPRESS, argparse.SUPPRESS)
    options.add_argument("--log-level", choices=LOG_LEVELS, default=level, help="log detail on stderr (default WARNING)")
    options.add_argument("--config", type=Path, default=config, help=f"a TOML config file (see config.example.toml; default: ${CONFIG_ENV} if set)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tickerbell", description="Stock alerts for Discord, Telegram and the console.", parents=[_options(defaults=True)])
    parser.add_argument("--version", action="version", version=f"tickerbell {package_version()}")
    with_config = _options(defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", parents=[with_config], help="run the live bot with the adapters the config enables")

    replay = sub.add_parser("replay", parents=[with_config], help="replay history from CSV files through the live pipeline")
    replay.add_argument("--data", type=Path, required=True, help="a folder of <TICKER>.csv files")
    replay.add_argument("--from", dest="start", type=_day, required=True, help="first day, e.g. 2025-01-21")
    replay.add_argument("--to", dest="end", type=_day, required=True, help="last day, e.g. 2025-01-31")
    replay.add_argument("--script", type=Path, help="chat commands, one a line, run by an admin at the first open, before the first check")
    replay.add_argument("--jsonl", action="store_true", help="one JSON object a line per delivered alert")
    replay.add_argument("--db", type=Path, help="keep the replay's database here (default: a temporary file)")

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
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "apscheduler", "yfinance"):  # one line per event of ours; theirs only when they matter
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING)
    try:
        config = read_config(args.config)
        if args.command == "run":
            config.check_tokens()  # before anything connects
            from bot.app import run_live

            asyncio.run(run_live(config))
        elif args.command == "replay":
            from bot.replay import read_script, run_replay

            script = read_script(args.script) if args.script else None
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
    except ConfigError as problem:
        print(f"tickerbell: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
