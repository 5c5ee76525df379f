"""The `tickerbell` command as a user runs it: clean stops on signals, one clear line on mistakes,
options before or after the command, and the config from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import DEMO_DATA, ROOT


def tickerbell(*args: str, environ: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    """`tickerbell ARGS` with none of the caller's TICKERBELL_* variables, plus `environ`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TICKERBELL_")}
    env.update(PYTHONUNBUFFERED="1", **(environ or {}))
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, text=True, **kw)  # type: ignore[call-overload]


def fails(*args: str, environ: dict[str, str] | None = None) -> str:
    """Run a command that must stop at once with exit code 2; its stderr."""
    proc = tickerbell(*args, environ=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    return err


def csv_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tickerbell.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "db.sqlite3"}"\n[market]\nprovider = "csv"\ndata_dir = "{DEMO_DATA}"\n[console]\nenabled = true\n{extra}'
    )
    return path


@pytest.mark.parametrize(
    ("signum", "options_after"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-options-after-the-command"],
)
def test_a_signal_stops_the_live_bot_cleanly(tmp_path: Path, signum: signal.Signals, options_after: bool) -> None:
    options = ["--log-level", "INFO", "--config", str(csv_config(tmp_path))]
    argv = ["run", *options] if options_after else [*options, "run"]
    proc = tickerbell(*argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until it says it is running
            if "tickerbell is running" in line:
                break
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "stopped cleanly" in err
    assert "Traceback" not in err


def test_a_config_mistake_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[market]\npoll_seconds = 2\n")
    proc = tickerbell("run", "--config", str(bad), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == f"tickerbell: {bad}: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"


def test_an_enabled_platform_without_its_token_says_which_variable_to_set(tmp_path: Path) -> None:
    config = csv_config(tmp_path, "[telegram]\nenabled = true\n")
    started = time.monotonic()
    # At DEBUG, anything that started (the event loop, the database) would log: the one line shows it stopped first.
    err = fails("run", "--log-level", "DEBUG", "--config", str(config), environ={"TICKERBELL_TELEGRAM_TOKEN": " "})
    assert time.monotonic() - started < 10
    assert err.splitlines() == [
        "tickerbell: Telegram is enabled but the environment variable TICKERBELL_TELEGRAM_TOKEN is empty: set it to the bot token."
    ]
    assert not (tmp_path / "db.sqlite3").exists()


def test_version_comes_from_the_package_metadata() -> None:
    proc = tickerbell("--version", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.strip() == f"tickerbell {version('tickerbell')}"
    assert out.strip() != "tickerbell unknown"


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_goes_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[market]\npoll_seconds = 2\n")
    argv = ["--config", str(bad), "run"] if where == "before" else ["run", "--config", str(bad)]
    assert fails(*argv).strip() == f"tickerbell: {bad}: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"


def test_tickerbell_config_names_the_default_file(tmp_path: Path) -> None:
    bad = tmp_path / "from-env.toml"
    bad.write_text("[market]\npoll_seconds = 2\n")
    err = fails("run", environ={"TICKERBELL_CONFIG": str(bad)})
    assert err.strip() == f"tickerbell: {bad}: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"
    other = tmp_path / "from-option.toml"
    other.write_text("[market]\nprovider = 'bloomberg'\n")
    err = fails("run", "--config", str(other), environ={"TICKERBELL_CONFIG": str(bad)})
    assert err.strip().startswith(f"tickerbell: {other}: [market] provider:")  # --config wins
    err = fails("demo", environ={"TICKERBELL_CONFIG": str(tmp_path / "absent.toml")})
    assert err.strip() == f"tickerbell: environment TICKERBELL_CONFIG: {tmp_path / 'absent.toml'}: no such file"


def test_a_config_key_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    err = fails("run", "--config", str(csv_config(tmp_path)), environ={"TICKERBELL_MARKET__POLL_SECONDS": "2"})
    assert err.strip() == "tickerbell: environment TICKERBELL_MARKET__POLL_SECONDS: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"
    err = fails("run", environ={"TICKERBELL_TELEGRAM__ENABLED": "yes"})
    assert "TICKERBELL_TELEGRAM_TOKEN is empty" in err
    err = fails("run", environ={"TICKERBELL_MARKET__POLL_SECOND": "30"})
    assert err.strip().startswith("tickerbell: environment TICKERBELL_MARKET__POLL_SECOND: [market] poll_second: unknown key")


def test_replay_with_a_missing_folder_says_so(tmp_path: Path) -> None:
    proc = tickerbell("replay", "--data", str(tmp_path / "nowhere"), "--from", "2025-01-27", "--to", "2025-01-28", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "no such folder" in err


def test_replay_rejects_a_malformed_date() -> None:
    proc = tickerbell("replay", "--data", str(DEMO_DATA), "--from", "27/01/2025", "--to", "2025-01-28", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "expected a date like 2025-01-27" in err
