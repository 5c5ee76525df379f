"""One SQLite file through aiosqlite: WAL mode, versioned migrations, one writer at a time.

Every statement is parameterized. The aggregate stores beside this module share one
`Database`, so that a change and the deliveries it owes commit in one transaction.

`Database.open` checks the file before anything uses it: that it is a SQLite database, is
intact (`PRAGMA quick_check`), is not from a newer tickerbell, and can be written. A file
that fails raises `StorageError` with one line: the file, the problem, what to do.

    var/tickerbell.sqlite3: not a tickerbell database (file is not a database): restore it ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.core.messages import Envelope
from bot.core.ports import StorageError
from storage.payloads import write_payload

log = logging.getLogger(__name__)

RESTORE = "restore it from a backup (see OPERATIONS.md) or point [storage] path at a new file"
WRITABLE = "let the user tickerbell runs as read and write the file and its folder"
SQLITE_MAGIC = b"SQLite format 3\x00"
NEARLY_FULL = 256 * 1024  # bytes free below which a failed write is put down to a full disk
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default: checkpoint once the write-ahead log passes this many pages


_BATCH: ContextVar[Database | None] = ContextVar("tickerbell_sqlite_batch", default=None)  # the database whose batch this task is in


def migrations() -> list[tuple[int, str]]:
    """(version, script) of every migration shipped, oldest first."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


class Database:
    """The connection, its write lock and the migrations."""

    def __init__(self, conn: aiosqlite.Connection, path: str, *, direct: _Direct | None = None) -> None:
        self.conn = conn
        self.path = path
        self._direct = direct  # the same connection without the trip to aiosqlite's thread: for batches
        self._batching = False  # a batch is open: every statement goes through `_direct`
        self._lock = asyncio.Lock()
        self._in_batch = asyncio.Lock()  # inside a batch: one savepoint or statement at a time
        self._later: list[tuple[str, tuple[object, ...]]] = []  # inside a batch: writes made with the next statement
        self._holder: asyncio.Task[object] | None = None  # the task holding `_in_batch`
        self._checkpointing: asyncio.Task[None] | None = None  # a background checkpoint after a large commit
        self._checkpointer: aiosqlite.Connection | None = None  # its own connection (and thread), opened at the first

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open the file (creating it and its folder), check it and apply the migrations.
        Raises StorageError, in one line, when the file cannot be used."""
        path_text = str(path)
        try:
            return await cls._open(path_text)
        except StorageError:
            raise
        except (sqlite3.Error, OSError, _Damaged) as problem:
            log.debug("storage: opening %s failed", path_text, exc_info=True)
            raise unusable(path_text, problem) from None

    @classmethod
    async def _open(cls, path_text: str) -> Database:
        if path_text != ":memory:":
            _make_folder(path_text)
            await asyncio.to_thread(_try_opening, path_text)
        made: list[sqlite3.Connection] = []

        def connect() -> sqlite3.Connection:  # in aiosqlite's thread; `check_same_thread` off for batches (`Database.batch`)
            made.append(sqlite3.connect(path_text, isolation_level=None, check_same_thread=False))
            return made[0]

        conn = await aiosqlite.Connection(connect, iter_chunk_size=64)
        conn.row_factory = aiosqlite.Row
        database = cls(conn, path_text, direct=_Direct(made[0]))
        try:
            for pragma in ("busy_timeout=5000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                await conn.execute(f"PRAGMA {pragma}")
            await database.check_intact()
            await database.migrate()
            await database.check_writable()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        return database

    async def check_intact(self) -> None:
        """`PRAGMA quick_check`: every page readable and every b-tree well formed (about 0.1 s for 50 MB)."""
        async with self.conn.execute("PRAGMA quick_check(1)") as cur:
            row = await cur.fetchone()
        verdict = str(row[0]) if row else "ok"
        if verdict != "ok":
            raise _Damaged(verdict)

    async def check_writable(self) -> None:
        """Write in a transaction that is rolled back: a read-only file fails here, not at the first alert."""
        version = await self.schema_version()
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            await self.conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            await self._rollback()

    async def close(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        if self._checkpointer is not None:
            with contextlib.suppress(Exception):
                await self._checkpointer.close()
        await self.conn.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        current = await self.schema_version()
        scripts = migrations()
        newest = scripts[-1][0]
        if current > newest:
            raise StorageError(
                f"{self.path}: written by a newer tickerbell (schema {current}; this one knows up to {newest}): "
                "upgrade tickerbell, or point [storage] path at another file"
            )
        if current == 0 and (others := await self._tables()):
            raise StorageError(f"{self.path}: not a tickerbell database (it holds other tables: {', '.join(others[:3])}): {RESTORE}")
        for version, script in scripts:
            if version <= current:
                continue
            log.info("storage: applying migration %03d to %s", version, self.path)
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_sql(script):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {int(version)}")
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _tables(self) -> list[str]:
        """The tables in the file, by name (SQLite's own excepted)."""
        async with self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") as cur:
            return [str(row[0]) for row in await cur.fetchall()]

    async def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already (it does on a full disk);
        a failing rollback never hides the error that led to it."""
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error as problem:
            log.warning("storage: rollback on %s failed (%s)", self.path, problem)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Every write made inside it, by this task and the tasks it starts, in one transaction
        committed at the end: bulk work such as a replay's script and sessions, whose writes
        nobody else reads meanwhile. Inside, each `transaction()` is a savepoint that still rolls
        back alone on an error, and each `write()` one statement (which SQLite undoes alone when it
        fails), so every caller sees what it would have seen; what changes is one commit instead
        of thousands. Writers from outside wait for the batch to end. A batch inside a batch joins it."""
        if _BATCH.get() is self:
            yield
            return
        async with self._lock:
            self._batching = self._direct is not None  # from here no statement is sent to aiosqlite's thread...
            await self.conn.execute("BEGIN IMMEDIATE")  # ...and this one comes back after every one sent before
            token = _BATCH.set(self)
            try:
                yield
            except BaseException:
                _BATCH.reset(token)
                self._later.clear()
                self._batching = False
                await self._rollback()
                raise
            _BATCH.reset(token)
            self._batching = False
            try:
                await self._flush()
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    @asynccontextmanager
    async def transaction(self, *, checkpoint_later: bool = False) -> AsyncIterator[Statements]:
        """One write transaction at a time; rolled back on any error (inside a `batch`, a savepoint).

        `checkpoint_later`: for a large transaction whose writer waits on its commit (a busy price
        check). SQLite's automatic checkpoint (copying the write-ahead log into the file, with an
        fsync, once the log passes 1,000 pages) would run inside this commit, and after a busy
        check it always does; here it runs instead just after, in the background, on a connection
        of its own (`wal_checkpoint(PASSIVE)`). What a commit promises does not change: a committed
        transaction is in the log, whether or not it has been copied into the file yet."""
        if _BATCH.get() is self:
            async with self._in_batch:
                self._holder = asyncio.current_task()
                statements = self._statements()
                try:
                    await self._flush()
                    await statements.execute("SAVEPOINT tickerbell_write")
                    try:
                        yield statements
                    except BaseException:
                        if statements.in_transaction:
                            await statements.execute("ROLLBACK TO tickerbell_write")
                            await statements.execute("RELEASE tickerbell_write")
                        raise
                    await statements.execute("RELEASE tickerbell_write")
                finally:
                    self._holder = None
            return
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self._rollback()
                raise
            try:
                if checkpoint_later:
                    await self.conn.execute("PRAGMA wal_autocheckpoint = 0")
                await self.conn.execute("COMMIT")
            except BaseException:  # a failed commit leaves no transaction open behind it
                await self._rollback()
                raise
            finally:
                if checkpoint_later:
                    await self.conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        if checkpoint_later:
            self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """Start a background checkpoint, unless one is waiting or running (a file's: one in memory has no log)."""
        if self.path != ":memory:" and (self._checkpointing is None or self._checkpointing.done()):
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the file, as SQLite's automatic checkpoint
        would have inside the last commit: PASSIVE (it waits for no reader and no writer; what one
        still uses is copied next time), on a connection of its own, so that the reads and writes
        that follow, on this one, do not queue behind it. A failure is logged: the log keeps every
        commit, and the next checkpoint (this one or SQLite's own) tries again."""
        try:
            if self._checkpointer is None:
                self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as problem:  # a background task: said, not raised
            log.warning("storage: checkpoint of %s failed (%s); the next commit tries again", self.path, problem)

    async def write(self, sql: str, params: Iterable[object] = ()) -> bool:
        """One statement in its own transaction; True if it changed a row."""
        if _BATCH.get() is self:  # one statement is atomic on its own
            async with self._in_batch:
                await self._flush()
                cur = await self._statements().execute(sql, tuple(params))
                return cur.rowcount > 0
        async with self.transaction() as tx:
            cur = await tx.execute(sql, tuple(params))
            return cur.rowcount > 0

    async def write_later(self, sql: str, params: Iterable[object] = ()) -> None:
        """A write whose outcome its caller does not need (a delivery marked sent): at once, as
        `write`; inside a batch, sent with the next statement, the marks made meanwhile in one
        `executemany`, so that every later read sees it. (A failure then surfaces in that next
        statement: batches are for bulk work such as a replay, which stops on it.)"""
        if _BATCH.get() is self:
            self._later.append((sql, tuple(params)))
            await asyncio.sleep(0)  # let other tasks run here, as they would while a write went to SQLite's thread
            return
        await self.write(sql, params)

    async def _flush(self) -> None:
        """Send the writes kept by `write_later`, in order, each run of one statement in one `executemany`."""
        while self._later:
            sql = self._later[0][0]
            run = 0
            while run < len(self._later) and self._later[run][0] == sql:
                run += 1
            rows = [params for _, params in self._later[:run]]
            del self._later[:run]
            await self._statements().executemany(sql, rows)

    async def _flush_before_reading(self) -> None:
        """Kept writes go before a read, under the batch's statement lock unless this task holds it."""
        if not self._later:
            return
        if self._in_batch.locked() and self._holder is asyncio.current_task():
            await self._flush()
            return
        async with self._in_batch:
            await self._flush()

    async def fetchall(self, sql: str, params: Iterable[object] = ()) -> list[aiosqlite.Row]:
        """The rows of a query, in one trip to SQLite's thread (not three: execute, fetch, close)."""
        await self._flush_before_reading()
        return list(await self._statements().execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[object] = ()) -> aiosqlite.Row | None:
        """The first row of a query that has one at most (a count, a row by its key), in one trip."""
        await self._flush_before_reading()
        rows = list(await self._statements().execute_fetchall(sql, tuple(params)))
        return rows[0] if rows else None

    def _statements(self) -> Statements:
        """Where a statement goes: SQLite's own connection, on this thread, while a batch is open
        (see `batch`); else aiosqlite's thread."""
        if self._batching and self._direct is not None:
            return self._direct
        return self.conn


class _DirectCursor:
    """A sqlite3 cursor with aiosqlite's awaitable reads."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def fetchone(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._cursor.fetchone()
        return row

    async def fetchall(self) -> list[sqlite3.Row]:
        return list(self._cursor.fetchall())


class _Direct:
    """The connection under aiosqlite, used from the event loop's thread with aiosqlite's methods.

    Inside a batch (a replay: thousands of small statements that nobody outside waits for), each
    statement costs about a microsecond this way instead of tens spent going to aiosqlite's thread
    and back. Every statement of the batch, and every read made while it is open, goes this way,
    so the connection is never used from two threads at once."""

    __slots__ = ("_raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction

    async def execute(self, sql: str, parameters: Iterable[object] = ()) -> _DirectCursor:
        return _DirectCursor(self._raw.execute(sql, tuple(parameters)))

    async def executemany(self, sql: str, parameters: Iterable[Iterable[object]]) -> _DirectCursor:
        return _DirectCursor(self._raw.executemany(sql, parameters))  # type: ignore[arg-type]

    async def execute_fetchall(self, sql: str, parameters: Iterable[object] = ()) -> list[sqlite3.Row]:
        return list(self._raw.execute(sql, tuple(parameters)).fetchall())


Statements = aiosqlite.Connection | _Direct  # what `Database.transaction` yields: the same methods either way


async def insert_envelopes(tx: Statements, envelopes: Iterable[Envelope], *, now: datetime) -> int:
    """Queue deliveries inside a transaction, in order, in one statement (`executemany`); a dedupe
    key already queued is skipped. Returns how many were new."""
    stamp = now.isoformat()
    rows = [
        (
            stamp,
            envelope.chat.platform,
            envelope.chat.chat_id,
            envelope.chat.kind.value,
            envelope.alert.kind.value,
            envelope.alert.ticker,
            write_payload(envelope.alert),
            envelope.dedupe_key,
            stamp,
            envelope.fallback.platform if envelope.fallback else None,
            envelope.fallback.chat_id if envelope.fallback else None,
            envelope.fallback.kind.value if envelope.fallback else None,
        )
        for envelope in envelopes
    ]
    if not rows:
        return 0
    cur = await tx.executemany(
        """INSERT OR IGNORE INTO outbox (created_at, platform, chat_id, chat_kind, kind, ticker, payload,
               dedupe_key, next_attempt_at, fallback_platform, fallback_chat_id, fallback_kind)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    return max(cur.rowcount, 0)  # executemany's rowcount: the rows inserted, duplicates ignored not counted


# Bound parameters a statement may carry: SQLite allows 32,766 since 3.32 (999 before).
MAX_PARAMETERS = 999 if sqlite3.sqlite_version_info < (3, 32, 0) else 32_766


def in_chunks(values: list[int], size: int = 0) -> list[list[int]]:
    """`values` cut into pieces small enough for one `IN (...)` list each (one parameter kept spare)."""
    size = size or min(5_000, MAX_PARAMETERS - 1)
    return [values[start : start + size] for start in range(0, len(values), size)]


def split_sql(script: str) -> list[str]:
    """A migration's statements, one by one; a trigger's body (`BEGIN ...; ...; END`) stays whole."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    statements, pending = [], ""
    for piece in "\n".join(lines).split(";"):
        pending = f"{pending};{piece}" if pending else piece
        if sqlite3.complete_statement(pending + ";"):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements


# -- why a file cannot be used, in one line ----------------------------------------------


class _Damaged(Exception):
    """`PRAGMA quick_check` found a problem; the message is its first finding."""


def unusable(path_text: str, problem: BaseException) -> StorageError:
    """StorageError("FILE: PROBLEM (SQLite's words): WHAT TO DO") for an error met opening the file."""
    path = Path(path_text)
    reason = _reason(problem)
    code = getattr(problem, "sqlite_errorname", "") or ""
    found = _damage(path, problem, code, reason) or _access(path, code, reason)
    what, remedy = found or (f"cannot be used ({reason})", RESTORE)
    return StorageError(f"{path_text}: {what}: {remedy}")


def _damage(path: Path, problem: BaseException, code: str, reason: str) -> tuple[str, str] | None:
    """The file's content is not a usable database: not SQLite, cut short, damaged."""
    if isinstance(problem, _Damaged):
        return f"damaged (integrity check: {reason})", RESTORE
    if code == "SQLITE_NOTADB":
        return f"not a tickerbell database ({reason})", RESTORE
    if code.startswith("SQLITE_CORRUPT"):
        cut = _cut_short(path)
        return (f"truncated to {cut} ({reason})" if cut else f"damaged ({reason})"), RESTORE
    return None


def _access(path: Path, code: str, reason: str) -> tuple[str, str] | None:
    """The file cannot be reached as it must be: a folder, a full disk, locked, read-only, unreadable."""
    if path.is_dir():
        return "is a folder, not a database file", f"point [storage] path at a file, such as {path / 'tickerbell.sqlite3'}"
    if code == "SQLITE_FULL" or (code.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and _disk_full(path)):
        return f"the disk is full ({reason})", "free some space on that disk, then start tickerbell again"
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"in use by another process ({reason})", "stop the other tickerbell using it, or point [storage] path at another file"
    if _read_only_mount(path):
        return f"on a read-only file system ({reason})", "mount it read-write, or point [storage] path at a writable place"
    if path.exists() and not os.access(path, os.R_OK):
        return f"not readable by this user ({reason})", WRITABLE
    if code.startswith("SQLITE_READONLY") or (path.exists() and not os.access(path, os.W_OK)):
        return f"read-only ({reason})", WRITABLE
    if code.startswith("SQLITE_CANTOPEN") and not os.access(path.parent, os.W_OK):
        return f"its folder cannot be written ({reason})", WRITABLE
    if code.startswith("SQLITE_IOERR"):
        return f"cannot be read or written ({reason})", f"check the disk (the system log says more), or {RESTORE}"
    return None


def _make_folder(path_text: str) -> None:
    """Make the file's folder, or say in one line why it cannot be made."""
    folder = Path(path_text).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        why = "a file is in its place" if isinstance(problem, FileExistsError) else _reason(problem)
        raise StorageError(f"{path_text}: its folder {folder} cannot be made ({why}): point [storage] path at a folder tickerbell may write") from None


def _try_opening(path_text: str) -> None:
    """Open and close the file with the standard library, so that a file SQLite cannot open fails
    here: aiosqlite, failing to connect, leaves its thread to report to a loop that may be closed by then."""
    sqlite3.connect(path_text).close()


def _reason(problem: BaseException) -> str:
    """The error's own words, on one line."""
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror.lower()
    lines = [line.strip() for line in str(problem).splitlines() if line.strip() and not line.startswith("***")]
    text = lines[0] if lines else type(problem).__name__
    return text if len(text) <= 120 else text[:119] + "…"


def _cut_short(path: Path) -> str | None:
    """'286,720 of 573,440 bytes' when the file is shorter than its SQLite header says; else None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError:
        return None
    if not header.startswith(SQLITE_MAGIC):
        return None
    if len(header) < 100:
        return f"{size:,} bytes, less than its header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_size_valid = header[24:28] == header[92:96]  # SQLite's rule for trusting the page count
    expected = page_size * pages if header_size_valid else 0
    if expected > size:
        return f"{size:,} of {expected:,} bytes"
    if page_size and size % page_size:
        return f"{size:,} bytes, not a whole number of {page_size:,}-byte pages"
    return None


def _existing(path: Path) -> Path:
    """The path, or its nearest ancestor that exists (to ask about the disk it is on)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(_existing(path)).free < NEARLY_FULL
    except OSError:
        return False


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False
