"""The `tickerbell` command: run, replay, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date
from pathlib import Path

from bot.config import ConfigError, load_config

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DEMO_FROM, DEMO_TO = date(2025, 1, 21), date(2025, 1, 31)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-01-27, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tickerbell", description="Stock alerts for Discord, Telegram and the console.")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log detail on stderr (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the live bot with the adapters the config enables")
    run.add_argument("--config", type=Path, help="a TOML config file (see config.example.toml)")

    replay = sub.add_parser("replay", help="replay history from CSV files through the live pipeline")
    replay.add_argument("--data", type=Path, required=True, help="a folder of <TICKER>.csv files")
    replay.add_argument("--from", dest="start", type=_day, required=True, help="first day, e.g. 2025-01-21")
    replay.add_argument("--to", dest="end", type=_day, required=True, help="last day, e.g. 2025-01-31")
    replay.add_argument("--script", type=Path, help="chat commands, one a line, run by an admin at the first open, before the first check")
    replay.add_argument("--jsonl", action="store_true", help="one JSON object a line per delivered alert")
    replay.add_argument("--config", type=Path, help="a TOML config file (alert settings, admins)")
    replay.add_argument("--db", type=Path, help="keep the replay's database here (default: a temporary file)")

    demo = sub.add_parser("demo", help="the DeepSeek sell-off week of January 2025, replayed from the seeds")
    demo.add_argument("--jsonl", action="store_true", help="one JSON object a line per delivered alert")
    demo.add_argument("--config", type=Path, help="a TOML config file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "apscheduler", "yfinance"):  # one line per event of ours; theirs only when they matter
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING)
    try:
        config = load_config(getattr(args, "config", None))
        if args.command == "run":
            from bot.app import run_live

            asyncio.run(run_live(config))
        elif args.command == "replay":
            from bot.replay import read_script, run_replay

            script = read_script(args.script) if args.script else None
            asyncio.run(run_replay(config, data_dir=args.data, start=args.start, end=args.end, script=script, jsonl=args.jsonl, db_path=args.db))
        elif args.command == "demo":
            from bot.replay import read_script, run_replay

            demo = SEEDS / "demo"
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
