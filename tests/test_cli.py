"""The `tickerbell` command as a user runs it: clean stops on signals, one clear line on mistakes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_DATA, ROOT


def tickerbell(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TICKERBELL_TELEGRAM_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, text=True, **kw)  # type: ignore[call-overload]


def csv_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tickerbell.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "db.sqlite3"}"\n[market]\nprovider = "csv"\ndata_dir = "{DEMO_DATA}"\n[console]\nenabled = true\n{extra}'
    )
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_live_bot_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    proc = tickerbell("--log-level", "INFO", "run", "--config", str(csv_config(tmp_path)), stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
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
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == f"tickerbell: {bad}: [market] poll_seconds: expected a number of seconds from 15 to 3600, got 2"


def test_an_enabled_platform_without_its_token_says_which_variable_to_set(tmp_path: Path) -> None:
    config = csv_config(tmp_path, "[telegram]\nenabled = true\n")
    proc = tickerbell("run", "--config", str(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "TICKERBELL_TELEGRAM_TOKEN" in err and "Traceback" not in err


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
