"""`pip install` of the real wheel, run from a folder outside the checkout, as the image runs it.

The wheel is built from a copy of the sources (so no `build/` lands in the checkout) without
build isolation (offline: the test extra brings setuptools), and installed with `--no-deps`
into a new virtual environment made without `--system-site-packages`. Its dependencies come
from the project's own environment through one `.pth` file in the new one: a `.pth` line only
adds that folder to `sys.path`, after the new environment's own site-packages, and does not
run the `.pth` files inside it (so the checkout's editable install stays out). This proves the
package itself, its entry point and its package data; dependency resolution is what
`make test`'s own install exercises.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ["pyproject.toml", "README.md", "LICENSE", "bot", "jobs", "storage", "seeds"]


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except Exception:
        return 0


pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pip") is None or _setuptools_major() < 77,
    reason="pip wheel cannot run offline here: it needs pip and setuptools>=77 in this environment (pip install -e '.[test]')",
)


@dataclass(frozen=True)
class Installed:
    bin: Path  # the new environment's bin folder
    elsewhere: Path  # a working folder outside the checkout
    env: dict[str, str]

    def run(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "tickerbell"), *args], cwd=self.elsewhere, env=self.env, text=True, capture_output=True, timeout=60, **kw)  # type: ignore[call-overload]


def _sh(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    wheels = tmp / "wheels"
    _sh(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", wheels, cwd=source)

    venv = tmp / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps", "--find-links", wheels, "tickerbell")
    site = Path(_sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "tickerbell-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TICKERBELL_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost", MPLCONFIGDIR=str(tmp / "matplotlib"))
    yield Installed(venv / "bin", elsewhere, env)


def test_the_wheel_holds_the_package_and_its_data(installed: Installed) -> None:
    probe = "import bot, seeds, storage; from seeds import seeds_path; print(bot.__file__); print(seeds_path('primers', 'NVDA.toml')); print(seeds_path('demo'))"
    lines = _sh(installed.bin / "python", "-c", probe, cwd=installed.elsewhere).splitlines()
    venv = installed.bin.parent
    assert all(Path(line).is_relative_to(venv) for line in lines), lines  # the installed copy, not the checkout
    assert Path(lines[1]).is_file()
    demo = Path(lines[2])
    assert (demo / "script.txt").is_file() and (demo / "prices" / "NVDA.csv").is_file() and (demo / "README.md").is_file()
    assert not (demo / "make_prices.py").exists()  # a development script stays out of the wheel
    assert "MIT" in (next(venv.glob("lib/python*/site-packages/tickerbell-*.dist-info")) / "licenses" / "LICENSE").read_text()


def test_version(installed: Installed) -> None:
    done = installed.run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"tickerbell {version('tickerbell')}"


def test_demo_runs_from_any_folder(installed: Installed) -> None:
    done = installed.run("demo", "--jsonl")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    # NVDA's sell-off is told by the basket's, which lists each member's move (one message per chat per check)
    assert any(r["kind"] == "basket_selloff" and "NVDA" in [m[0] for m in r["members"]] and r["at"].startswith("2025-01-27") for r in records)
    assert all(isinstance(r["message"], int) for r in records)
    assert "Traceback" not in done.stderr


def test_run_is_the_image_command_line(installed: Installed) -> None:
    """`tickerbell run` with the config from the environment, as in the image, stopped by SIGTERM."""
    data = installed.elsewhere / "data"
    config = installed.elsewhere / "tickerbell.toml"
    config.write_text('[market]\nprovider = "csv"\n[console]\nenabled = true\n')
    prices = _sh(installed.bin / "python", "-c", "from seeds import seeds_path; print(seeds_path('demo', 'prices'))").strip()
    env = {
        **installed.env,
        "TICKERBELL_CONFIG": str(config),
        "TICKERBELL_STORAGE__PATH": str(data / "tickerbell.sqlite3"),
        "TICKERBELL_MARKET__DATA_DIR": prices,
    }
    proc = subprocess.Popen(
        [str(installed.bin / "tickerbell"), "--log-level", "INFO", "run"],
        cwd=installed.elsewhere,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until it says it is running
            seen.append(line)
            if "tickerbell is running" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert "stopped cleanly" in err
    assert (data / "tickerbell.sqlite3").is_file()  # the database went where the environment said
