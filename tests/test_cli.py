"""The `tickerbell` command as a user runs it: clean stops on signals, one clear line on mistakes,
options before or after the command, and the config from the environment."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.app import run_live
from bot.config import load_config
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatRef
from storage.sqlite import SqliteStorage
from tests.conftest import DEMO_DATA, ROOT


def tickerbell(*args: str, environ: dict[str, str] | None = None, command: tuple[str, ...] = (), **kw: object) -> subprocess.Popen[str]:
    """`tickerbell ARGS` with none of the caller's TICKERBELL_* variables, plus `environ`; `command` replaces `-m bot`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TICKERBELL_")}
    env.update(PYTHONUNBUFFERED="1", **(environ or {}))
    return subprocess.Popen([sys.executable, *(command or ("-m", "bot")), *args], cwd=ROOT, env=env, text=True, **kw)  # type: ignore[call-overload]


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


class Running:
    """`tickerbell ARGS` with stdin a pipe that stays open (nothing typed, never closed), as under a supervisor."""

    def __init__(self, *args: str, environ: dict[str, str] | None = None, program: str | None = None) -> None:
        """`program`: Python code to run instead of `python -m bot` (it gets ARGS as sys.argv[1:])."""
        read_end, self.stdin = os.pipe()
        command = ("-c", program) if program else ()
        self.proc = tickerbell(*args, environ=environ, command=command, stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(read_end)
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert self.proc.poll() is None, "".join(self.err)
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n" + "".join(self.err)
            time.sleep(0.02)

    def stop_with(self, signum: signal.Signals) -> tuple[int, float, str]:
        """Send the signal; the exit code, the seconds the stop took, and everything on stderr."""
        began = time.monotonic()
        self.proc.send_signal(signum)
        code = self.finish(timeout=20)
        return code, time.monotonic() - began, "".join(self.err)

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.proc.kill()
            os.close(self.stdin)
        self._reader.join(timeout=5)
        return code


@pytest.mark.parametrize(
    ("signum", "code", "options_after"),
    [(signal.SIGTERM, 0, False), (signal.SIGINT, 130, False), (signal.SIGTERM, 0, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-options-after-the-command"],
)
def test_a_signal_stops_the_live_bot_cleanly_within_5_s(tmp_path: Path, signum: signal.Signals, code: int, options_after: bool) -> None:
    options = ["--log-level", "INFO", "--config", str(csv_config(tmp_path))]
    bot = Running(*(["run", *options] if options_after else [*options, "run"]))
    bot.wait_for("tickerbell is running")
    returncode, seconds, err = bot.stop_with(signum)
    assert returncode == code, err
    assert seconds < 5, f"the stop took {seconds:.1f} s"
    assert "stopped cleanly" in err
    assert "Traceback" not in err


def test_without_input_the_console_ends_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    proc = tickerbell("--log-level", "INFO", "run", "--config", str(csv_config(tmp_path)), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 30  # start-up included: /dev/null is read, not waited on (epoll refuses it)
    assert "stopped cleanly" in err and "Traceback" not in err


@contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers; its port and the connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        done.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        listener.close()


def _silent_telegram(tmp_path: Path, port: int) -> list[str]:
    config = csv_config(tmp_path, f'[telegram]\nenabled = true\napi_base_url = "http://127.0.0.1:{port}/bot"\n')
    return ["--config", str(config), "run"]


TOKEN = {"TICKERBELL_TELEGRAM_TOKEN": "123456:dummy-token-never-valid", "NO_PROXY": "127.0.0.1,localhost"}


def test_a_platform_that_never_answers_fails_start_up_with_one_line(tmp_path: Path) -> None:
    with silent_server() as (port, _):
        bot = Running(*_silent_telegram(tmp_path, port), environ=TOKEN)
        code = bot.finish(timeout=30)  # python-telegram-bot gives getMe 5 s
    err = "".join(bot.err)
    assert code == 2, err
    assert err.splitlines() == [
        f"tickerbell: could not reach the Telegram Bot API at http://127.0.0.1:{port}/bot (TimedOut: Timed out): check the network or [telegram] api_base_url."
    ]
    assert "dummy-token" not in err


def test_a_stop_while_a_platform_hangs_at_start_up_takes_under_5_s(tmp_path: Path) -> None:
    with silent_server() as (port, accepted):
        bot = Running("--log-level", "INFO", *_silent_telegram(tmp_path, port), environ=TOKEN)
        deadline = time.monotonic() + 30
        while not accepted:  # the adapter is waiting for getMe's answer
            assert time.monotonic() < deadline and bot.proc.poll() is None, "".join(bot.err)
            time.sleep(0.02)
        code, seconds, err = bot.stop_with(signal.SIGTERM)
    assert code == 0, err
    assert seconds < 5, f"the stop took {seconds:.1f} s"
    assert "stopped while the telegram adapter was starting" in err and "stopped cleanly" in err
    assert "Traceback" not in err and "dummy-token" not in err


def test_a_thread_stuck_in_a_provider_call_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    stuck = (
        "import threading, time, sys\n"
        "threading.Thread(target=time.sleep, args=(600,), name='stuck-provider-call').start()  # not a daemon: Python would wait for it\n"
        "from bot.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    bot = Running("--log-level", "INFO", "--config", str(csv_config(tmp_path)), "run", program=stuck)
    bot.wait_for("tickerbell is running")
    code, seconds, err = bot.stop_with(signal.SIGTERM)
    assert code == 0, err
    assert seconds < 5, f"the stop took {seconds:.1f} s"
    assert "without waiting for thread stuck-provider-call" in err
    assert "stopped cleanly" not in err


class Hung:
    """A platform that stops answering: a send never returns, and neither does stop()."""

    platform = "hung"

    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def start(self) -> None: ...

    async def stop(self) -> None:
        await asyncio.Event().wait()

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        self.sending.set()
        await asyncio.Event().wait()


async def test_a_platform_that_hangs_in_send_and_stop_is_abandoned_in_time_and_the_outbox_keeps_the_alert(tmp_path: Path) -> None:
    config = load_config(csv_config(tmp_path), {})
    chat = ChatRef("hung", "chat-1")
    alert = Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=datetime.now(UTC), price=118.42, change_pct=-16.97, rule_id=1)
    storage = await SqliteStorage.open(config.storage.path)
    await storage.outbox.enqueue([Envelope(chat, alert, "hung-1")], now=datetime.now(UTC))
    await storage.close()

    hung, stop = Hung(), asyncio.Event()
    running = asyncio.ensure_future(run_live(config, stop=stop, adapters=[hung]))
    await asyncio.wait_for(hung.sending.wait(), timeout=30)
    loop = asyncio.get_running_loop()
    began = loop.time()
    stop.set()
    stopped_by, abandoned = await asyncio.wait_for(running, timeout=10)
    assert loop.time() - began < 5
    assert stopped_by is None
    assert abandoned == ["the dispatcher", "stopping the hung adapter"]

    storage = await SqliteStorage.open(config.storage.path)
    try:
        assert [d.alert.ticker for d in await storage.outbox.pending_for_chat(chat)] == ["NVDA"]  # not sent: kept for the next start
    finally:
        await storage.close()


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    """GET with no proxy; (status, body), 0 when nothing answers."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as problem:
        return problem.code, problem.read().decode()
    except OSError:
        return 0, ""


def test_the_running_bot_serves_metrics_and_health_over_http(tmp_path: Path) -> None:
    port = free_port()
    bot = Running("run", "--log-level", "INFO", "--config", str(csv_config(tmp_path)),
                  environ={"TICKERBELL_METRICS__ENABLED": "true", "TICKERBELL_METRICS__PORT": str(port)})
    try:
        bot.wait_for("tickerbell is running")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while (health := http_get(base + "/healthz"))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert health == (200, "ok\n")
        status, metrics = http_get(base + "/metrics")
        assert status == 200
        for name in ("tickerbell_checks_total", "tickerbell_check_duration_seconds_bucket", "tickerbell_provider_errors_total",
                     "tickerbell_outbox_pending", "tickerbell_rules", 'tickerbell_adapter_up{platform="console"} 1.0'):
            assert name in metrics, name
    finally:
        returncode, seconds, err = bot.stop_with(signal.SIGTERM)
    assert returncode == 0 and seconds < 5, err
    assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 0  # the endpoint stops with the bot


def test_a_metrics_port_in_use_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = fails("run", "--config", str(csv_config(tmp_path)), environ={"TICKERBELL_METRICS__ENABLED": "true", "TICKERBELL_METRICS__PORT": str(port)})
    assert err.strip() == f"tickerbell: environment TICKERBELL_METRICS__PORT: [metrics] port: cannot listen on 127.0.0.1:{port} (address already in use)"
    assert "Traceback" not in err


def test_with_the_data_down_a_member_s_alert_is_saved_by_the_running_bot(tmp_path: Path) -> None:
    """A real `tickerbell run` whose price file hangs (a FIFO nobody writes, as a stuck network
    share would): the member's /alert is saved with the reason, and the bot still stops cleanly."""
    data = tmp_path / "prices"
    data.mkdir()
    os.mkfifo(data / "NVDA.csv")
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "db.sqlite3"}"\n[market]\nprovider = "csv"\ndata_dir = "{data}"\ntimeout_seconds = 1\n'
        '[console]\nenabled = true\n'
    )
    proc = tickerbell("run", "--config", str(config), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("/alert NVDA below 100\n/alerts\n")
        proc.stdin.flush()
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any("NVDA below $100.00 · waiting for the first price" in line for line in seen):  # /alerts answered
            assert time.monotonic() < deadline, "".join(seen)
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        text = "".join(seen)
        assert re.search(r"Alert #\d+ set: NVDA below \$100\.00", text)
        assert "Saved anyway: the market data provider cannot be reached now (the price file NVDA.csv did not answer within 1 s)" in text
        assert "When data returns: if NVDA is already below $100.00, it waits for the next crossing." in text
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0 and time.monotonic() - began < 5, err
    assert "Traceback" not in err
