"""Opening a PostgreSQL database: migrations forward, a newer or foreign database refused in one line,
a server that goes away surfacing as StorageError (the jobs' pause-and-retry path), then coming back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatRef
from bot.core.ports import StorageError
from storage.factory import open_storage
from storage.postgres import PostgresStorage
from storage.postgres.database import latest_version, mask, migrations
from storage.sqlite.database import latest_version as sqlite_latest
from tests.storage_contract.conftest import admin, fresh_database, pg_server_answers

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own for each test here (they leave it in odd states)."""
    with fresh_database(f"open_{request.node.name}") as made:
        yield made


async def run_sql(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def test_both_backends_know_the_same_schema_versions() -> None:
    assert latest_version() == sqlite_latest()
    assert [v for v, _ in migrations()] == list(range(1, latest_version() + 1))


async def test_a_new_database_gets_every_migration_and_opening_again_changes_nothing(url: str) -> None:
    storage = await PostgresStorage.open(url)
    assert await storage.schema_version() == latest_version()
    assert await storage.db.migrate() == []
    await storage.close()
    again = await open_storage(url)
    assert isinstance(again, PostgresStorage) and await again.schema_version() == latest_version()
    await again.close()


async def test_an_older_database_moves_forward_and_keeps_its_data(url: str) -> None:
    """Schema 4 with a delivery queued the old way (fallback inside the payload) and a drawdown told."""
    old = [script for version, script in migrations() if version <= 4]
    payload = json.loads(Alert(kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=NOW, price=118.42, rule_id=7).to_json())
    payload["extra"] = {"fallback_chat": "telegram:-100", "fallback_kind": "group", "keep": 1}
    await run_sql(
        url,
        *old,
        "CREATE TABLE tickerbell_schema (version INTEGER NOT NULL)",
        "INSERT INTO tickerbell_schema VALUES (4)",
        f"""INSERT INTO outbox (created_at, platform, chat_id, kind, ticker, payload, dedupe_key, next_attempt_at)
            VALUES ('{NOW.isoformat()}', 'telegram', '101', 'daily_move', 'NVDA', '{json.dumps(payload)}', 'k1', '{NOW.isoformat()}')""",
        "INSERT INTO basket_state (name, selloff_session, drawdown_peak, updated_at) VALUES ('ai', NULL, 101.5, '2025-01-24T21:00:00+00:00')",
    )
    storage = await PostgresStorage.open(url)
    try:
        assert await storage.schema_version() == latest_version()
        row = await storage.db.fetchrow("SELECT payload, fallback_platform, fallback_chat_id, fallback_kind FROM outbox")
        assert row is not None
        assert (row["fallback_platform"], row["fallback_chat_id"], row["fallback_kind"]) == ("telegram", "-100", "group")
        assert json.loads(row["payload"])["extra"] == {"keep": 1}
        assert Alert.from_json(row["payload"]).rule_id == 7
        assert (await storage.baskets.state("ai")).drawdown_peak_day == date(2025, 1, 24)  # 005: told drawdowns stay told
    finally:
        await storage.close()


async def test_a_database_from_a_newer_tickerbell_is_refused_in_one_line(url: str) -> None:
    storage = await PostgresStorage.open(url)
    await storage.db.execute("UPDATE tickerbell_schema SET version = 99")
    await storage.close()
    with pytest.raises(StorageError) as refused:
        await PostgresStorage.open(url)
    message = str(refused.value)
    assert message.startswith(f"[storage] url {url}: written by a newer tickerbell (schema 99; this one knows up to {latest_version()})")
    assert "\n" not in message


async def test_a_database_holding_other_tables_is_not_taken_over(url: str) -> None:
    await run_sql(url, "CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StorageError, match=r"not a tickerbell database \(it holds other tables: invoices\)"):
        await PostgresStorage.open(url)


async def test_a_read_only_database_is_refused_at_start_not_at_the_first_alert(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    storage = await PostgresStorage.open(url)
    await storage.close()
    await admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with pytest.raises(StorageError, match="read-only"):
        await PostgresStorage.open(url)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("postgresql://postgres:s3cret@127.0.0.1:1/x", "no server answers at 127.0.0.1:1"),
        ("postgresql://postgres:s3cret@127.0.0.1:5432/tb12a_never_made", "database tb12a_never_made does not exist"),
        ("postgresql://tb12a_nobody:s3cret@127.0.0.1:5432/postgres", "the server refused the login"),
        ("postgresql://postgres:s3cret@host.invalid:5432/x", "host host.invalid not found"),
    ],
)
async def test_an_unusable_url_is_refused_in_one_line_with_the_password_masked(target: str, expected: str) -> None:
    if not pg_server_answers():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    with pytest.raises(StorageError) as refused:
        await open_storage(target)
    message = str(refused.value)
    assert message.startswith(f"[storage] url {mask(target)}: {expected}")
    assert "s3cret" not in message and "***" in message and "\n" not in message


def test_mask_hides_only_the_password() -> None:
    assert mask("postgresql://bot:p%40ss:w@db.example:6432/tb?sslmode=require") == "postgresql://bot:***@db.example:6432/tb?sslmode=require"
    assert mask("postgresql://bot@db/tb") == "postgresql://bot@db/tb"


async def test_a_database_that_goes_away_surfaces_as_storage_error_and_works_again_when_back(url: str) -> None:
    """What the jobs see when the database goes away mid-run: StorageError (which pauses checks and
    deliveries), never a driver error; once it answers again, the next call works, nothing half-written."""
    async with Proxy(url) as proxy:
        storage = await PostgresStorage.open(proxy.url)
        try:
            await storage.watches.add(_chat(), "NVDA", now=NOW)
            await proxy.cut()
            for _ in range(3):  # every call while it is away, not just the first
                with pytest.raises(StorageError, match="the database cannot be reached") as away:
                    await storage.watches.add(_chat(), "AMD", now=NOW)
                assert isinstance(away.value.__cause__, asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError)
            with pytest.raises(StorageError, match="cannot be reached"):
                await storage.checks.record_check(states=[], armed_changes={}, envelopes=[], now=NOW)
            await proxy.restore()
            assert await storage.watches.add(_chat(), "AMD", now=NOW) is True
            assert await storage.watches.of_chat(_chat()) == ["AMD", "NVDA"]
        finally:
            await storage.close()


async def test_a_transaction_cut_off_mid_way_leaves_nothing_behind(url: str) -> None:
    storage = await PostgresStorage.open(url)
    try:
        name = url.rsplit("/", 1)[1]
        with pytest.raises(StorageError):
            async with storage.db.transaction() as tx:
                await tx.execute("INSERT INTO watches (platform, chat_id, ticker, created_at) VALUES ('t', '1', 'NVDA', 'now')")
                await admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")
                await tx.execute("INSERT INTO watches (platform, chat_id, ticker, created_at) VALUES ('t', '1', 'AMD', 'now')")
        assert await storage.watches.tickers() == []
    finally:
        await storage.close()


class Proxy:
    """A TCP relay to the PostgreSQL server, to make the database go away (every connection cut,
    new ones refused) and come back, without touching the shared server."""

    def __init__(self, url: str) -> None:
        self.target = url
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return self.target.replace(":5432/", f":{self.port}/")

    async def __aenter__(self) -> Proxy:
        await self.restore()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.cut()

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self.links |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def _chat() -> ChatRef:
    return ChatRef("telegram", "-100")
