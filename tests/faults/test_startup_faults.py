"""A database that cannot be used stops `tickerbell run` at start-up with one line: the file,
the problem and what to do; exit code 2 and no traceback.

Every case runs the real `tickerbell run` process. The faults are real where this machine
allows: a file as another user cannot read it (chmod 000, run as `nobody` when the tests run
as root), an immutable file (`chattr +i`), and a small tmpfs, read-only or full, mounted in a
mount namespace of the tickerbell process alone (so nothing is left mounted if a test dies).
A case the machine cannot reproduce is skipped and says why. The last test holds the same
storage to SQLite's own words when a write meets a full disk after start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.sqlite import SqliteStorage, latest_version
from tests.conftest import DEMO_DATA, ROOT
from tests.test_cli import tickerbell

RESTORE = "restore it from a backup (see OPERATIONS.md) or point [storage] path at a new file"
WRITABLE = "let the user tickerbell runs as read and write the file and its folder"

# `python -c` program: tickerbell in a mount namespace of its own, on a tmpfs at FOLDER prepared by SETUP.
PRIVATE_TMPFS = """
import ctypes, os, shutil, subprocess, sys
if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) != 0:  # CLONE_NEWNS
    sys.exit(f"unshare: {{os.strerror(ctypes.get_errno())}}")
def mount(*args):
    subprocess.run(["mount", *args], check=True)
def fill(folder):
    with open(os.path.join(folder, "filler"), "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(bytes(4096))
        except OSError:
            pass
mount("--make-rprivate", "/")
mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", {folder!r})
{setup}
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def environ(db: Path) -> dict[str, str]:
    """A CSV-data bot whose database is `db`: the config from the environment alone."""
    return {"TICKERBELL_MARKET__PROVIDER": "csv", "TICKERBELL_MARKET__DATA_DIR": str(DEMO_DATA), "TICKERBELL_STORAGE__PATH": str(db)}


def one_line(db: Path, *, command: tuple[str, ...] = ()) -> str:
    """Start `tickerbell run` on `db`; assert it stops with exit code 2 and one line on stderr; that line."""
    proc = tickerbell("run", environ=environ(db), command=command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err.strip()


def good_database(path: Path, rules: int = 2000) -> Path:
    """A real tickerbell database with `rules` rules (several hundred pages), closed cleanly."""

    async def build() -> None:
        storage = await SqliteStorage.open(path)
        try:
            async with storage.db.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, chat_platform, chat_id, armed, created_at)"
                    " VALUES ('NVDA', 'below', ?, 'member', 'console', 'alice', 'console', 'chat-1', 1, '2025-01-27T16:00:00-05:00')",
                    [(100 + i,) for i in range(rules)],
                )
        finally:
            await storage.close()

    asyncio.run(build())
    assert not Path(f"{path}-wal").exists()
    return path


@functools.cache
def private_tmpfs_works() -> bool:
    """Whether this machine lets a process mount a tmpfs in a mount namespace of its own."""
    with tempfile.TemporaryDirectory() as folder:
        program = PRIVATE_TMPFS.format(folder=folder, setup="sys.exit(0)")
        return subprocess.run([sys.executable, "-c", program], capture_output=True).returncode == 0


def in_private_tmpfs(folder: Path, setup: str) -> tuple[str, ...]:
    """The `command` that runs tickerbell on a fresh 1 MB tmpfs at `folder`, prepared by `setup` (Python)."""
    if not private_tmpfs_works():
        pytest.skip("cannot mount a tmpfs in a private mount namespace here (needs root or CAP_SYS_ADMIN)")
    folder.mkdir()
    return ("-c", PRIVATE_TMPFS.format(folder=str(folder), setup=setup))


def clean_environ() -> dict[str, str]:
    """This environment without TICKERBELL_* variables, as `tickerbell()` runs it."""
    return {name: value for name, value in os.environ.items() if not name.startswith("TICKERBELL_")} | {"PYTHONUNBUFFERED": "1"}


def as_nobody_prefix() -> tuple[str, ...]:
    """`setpriv` options that run a command as the user nobody; skips when this Python cannot run so."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("the tests run as root and there is no user 'nobody' to run tickerbell as")
    prefix = ("setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups")
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", "import bot.cli"], cwd=ROOT, capture_output=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("the tests run as root and setpriv is not installed to run tickerbell as another user")
    if probe.returncode != 0:
        pytest.skip("the tests run as root and this Python cannot run as the user nobody (its files are private to root)")
    return prefix


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user may enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="tickerbell-faults-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# -- the file's content --------------------------------------------------------------------------


def test_random_bytes_are_not_a_tickerbell_database(tmp_path: Path) -> None:
    db = tmp_path / "tickerbell.sqlite3"
    garbage = bytes(range(256)) * 32
    db.write_bytes(garbage)
    line = one_line(db)
    assert line == f"tickerbell: {db}: not a tickerbell database (file is not a database): {RESTORE}"
    assert db.read_bytes() == garbage  # nothing written


def test_a_truncated_database_says_how_much_is_left(tmp_path: Path) -> None:
    db = good_database(tmp_path / "tickerbell.sqlite3")
    whole = db.stat().st_size
    with db.open("r+b") as handle:
        handle.truncate(whole // 2)
    line = one_line(db)
    assert line == f"tickerbell: {db}: truncated to {whole // 2:,} of {whole:,} bytes (database disk image is malformed): {RESTORE}"


def test_a_damaged_page_is_found_at_start_up_not_at_the_first_alert(tmp_path: Path) -> None:
    db = good_database(tmp_path / "tickerbell.sqlite3")
    with db.open("r+b") as handle:  # a page in the middle of the rules table, overwritten
        handle.seek(4096 * 20)
        handle.write(b"\xa5" * 4096)
    line = one_line(db)
    assert line.startswith(f"tickerbell: {db}: damaged (integrity check: ")
    assert line.endswith(f"): {RESTORE}")


def test_a_database_from_a_newer_tickerbell_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = good_database(tmp_path / "tickerbell.sqlite3")
    newer = latest_version() + 1
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
        conn.commit()
    before = db.read_bytes()
    line = one_line(db)
    assert line == (
        f"tickerbell: {db}: written by a newer tickerbell (schema {newer}; this one knows up to {latest_version()}): "
        "upgrade tickerbell, or point [storage] path at another file"
    )
    assert db.read_bytes() == before


# -- reaching the file ---------------------------------------------------------------------------


def test_a_folder_in_place_of_the_file(tmp_path: Path) -> None:
    db = tmp_path / "tickerbell.sqlite3"
    db.mkdir()
    line = one_line(db)
    assert line == f"tickerbell: {db}: is a folder, not a database file: point [storage] path at a file, such as {db / 'tickerbell.sqlite3'}"


def test_a_file_this_user_cannot_read(shared_dir: Path) -> None:
    db = good_database(shared_dir / "tickerbell.sqlite3")
    db.chmod(0o000)
    if os.geteuid() != 0:
        line = one_line(db)
    else:  # root reads a chmod-000 file anyway: run tickerbell as nobody
        as_nobody = as_nobody_prefix()
        proc = subprocess.Popen([*as_nobody, sys.executable, "-m", "bot", "run"], cwd=ROOT, env={**clean_environ(), **environ(db)}, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and len(err.splitlines()) == 1, err
        line = err.strip()
    assert line == f"tickerbell: {db}: not readable by this user (unable to open database file): {WRITABLE}"


def test_a_read_only_file(tmp_path: Path) -> None:
    db = good_database(tmp_path / "tickerbell.sqlite3")
    if os.geteuid() != 0:
        db.chmod(0o444)
    elif subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("the tests run as root, who writes any file, and chattr +i (immutable) does not work here")
    try:
        line = one_line(db)
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
    assert line == f"tickerbell: {db}: read-only (attempt to write a readonly database): {WRITABLE}"


def test_a_read_only_file_system(tmp_path: Path) -> None:
    good = good_database(tmp_path / "good.sqlite3")
    disk = tmp_path / "disk"
    db = disk / "tickerbell.sqlite3"
    command = in_private_tmpfs(disk, f'shutil.copy({str(good)!r}, {str(db)!r})\nmount("-o", "remount,ro", {str(disk)!r})')
    line = one_line(db, command=command)
    assert line == f"tickerbell: {db}: on a read-only file system (unable to open database file): mount it read-write, or point [storage] path at a writable place"


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_a_full_disk(tmp_path: Path, existing: bool) -> None:
    disk = tmp_path / "disk"
    db = disk / "tickerbell.sqlite3"
    setup = f"fill({str(disk)!r})"
    if existing:
        good = good_database(tmp_path / "good.sqlite3", rules=200)
        setup = f"shutil.copy({str(good)!r}, {str(db)!r})\n{setup}"
    line = one_line(db, command=in_private_tmpfs(disk, setup))
    reason = "disk I/O error" if existing else "database or disk is full"  # SQLite's words: no room for the shared-memory file, or for the tables
    assert line == f"tickerbell: {db}: the disk is full ({reason}): free some space on that disk, then start tickerbell again"


# -- the same storage after start-up ---------------------------------------------------------------


async def test_a_write_that_finds_the_disk_full_raises_sqlites_own_error_and_the_next_write_works(tmp_path: Path) -> None:
    """SQLite rolls a transaction back itself on a full disk; our rollback must not replace its
    error with "cannot rollback - no transaction is active", nor leave a transaction open."""
    storage = await SqliteStorage.open(tmp_path / "tickerbell.sqlite3")
    db = storage.db
    insert = ("INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, chat_platform, chat_id, armed, created_at)"
              " VALUES ('NVDA', 'below', ?, 'member', 'console', 'alice', 'console', 'chat-1', 1, '2025-01-27T16:00:00-05:00')")
    try:
        pages = (await db.fetchone("PRAGMA page_count"))[0]
        await db.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk, as SQLite sees it
        with pytest.raises(sqlite3.OperationalError, match=r"^database or disk is full$"):
            async with db.transaction() as tx:
                await tx.executemany(insert, [(i,) for i in range(5000)])
        assert not db.conn.in_transaction
        await db.conn.execute("PRAGMA max_page_count = 1073741823")  # space again
        assert await db.write(insert, (120,))
    finally:
        await storage.close()
