"""Migration 016, on SQLite and on PostgreSQL alike: what a check writes of each rule (its armed flag,
its last alert) goes to the narrow `rule_state` table, never to a row of the wide `rules` table, and
every read of a rule sees it; a level moved or a rule removed carries its state along. Plus each
backend's move of a schema-15 database's last alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef
from storage.factory import AnyStorage
from storage.postgres import PostgresStorage
from storage.postgres.database import migrations as pg_migrations
from storage.sqlite import SqliteStorage
from storage.sqlite.database import latest_version, migrations, split_sql
from tests.storage_contract.conftest import fresh_database

NOW = datetime(2025, 1, 27, 21, 5, 30, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
ANN = UserRef("telegram", "101", "Ann")


async def rows(storage: AnyStorage, sql: str) -> list[dict[str, Any]]:
    """A query's rows as dicts, read straight from the database (not through the ports)."""
    if isinstance(storage, PostgresStorage):
        return [dict(r) for r in await storage.db.fetch(sql)]
    return [dict(r) for r in await storage.db.fetchall(sql)]


def member(ticker: str, threshold: float, armed: bool | None = True) -> Rule:
    return Rule(0, ticker, RuleKind.ABOVE, threshold, RuleSource.MEMBER, owner=ANN, chat=GROUP, armed=armed)


async def armed_as_read(storage: AnyStorage, rule: Rule) -> list[bool | None]:
    """The rule's armed flag through every read of the rules port that returns it."""
    got = await storage.rules.get(rule.id)
    assert got is not None
    return [
        got.armed,
        next(r.armed for r in await storage.rules.all() if r.id == rule.id),
        next(r.armed for r in await storage.rules.of_ticker(rule.ticker) if r.id == rule.id),
        next(r.armed for r in await storage.rules.of_member(ANN) if r.id == rule.id),
    ]


async def test_a_check_writes_rule_state_and_no_row_of_rules(storage: AnyStorage) -> None:
    fired, rearmed, untouched = member("NVDA", 150.0), member("NVDA", 160.0, armed=False), member("AMD", 100.0, armed=None)
    for rule in (fired, rearmed, untouched):
        await storage.rules.add(rule, now=NOW)
    before = await rows(storage, "SELECT * FROM rules ORDER BY id")
    await storage.checks.record_check(
        states=[TickerState("NVDA", last_price=155.0)], armed_changes={fired.id: False, rearmed.id: True}, envelopes=[], now=NOW, alerted=[fired.id]
    )
    assert await rows(storage, "SELECT * FROM rules ORDER BY id") == before  # the wide table is not written by a check
    assert await rows(storage, "SELECT rule_id, armed, last_alert_at FROM rule_state ORDER BY rule_id") == [
        {"rule_id": fired.id, "armed": 0, "last_alert_at": NOW.isoformat()},
        {"rule_id": rearmed.id, "armed": 1, "last_alert_at": None},
    ]
    assert await armed_as_read(storage, fired) == [False] * 4
    assert await armed_as_read(storage, rearmed) == [True] * 4
    assert await armed_as_read(storage, untouched) == [None] * 4
    assert await storage.checks.last_alerts() == {fired.id: NOW}
    # a later check re-arms the fired rule: its last alert stays; a rule alerting without an armed change keeps its flag
    later = NOW + timedelta(minutes=5)
    await storage.checks.record_check(states=[], armed_changes={fired.id: True}, envelopes=[], now=later, alerted=[untouched.id])
    assert await armed_as_read(storage, fired) == [True] * 4
    assert await armed_as_read(storage, untouched) == [None] * 4
    assert await storage.checks.last_alerts() == {fired.id: NOW, untouched.id: later}


async def test_a_level_moved_after_a_check_takes_its_new_flag_and_keeps_its_last_alert(storage: AnyStorage) -> None:
    level = Rule(0, "NVDA", RuleKind.CROSS, 100.0, RuleSource.ANALYST, level_name=LevelName.STOP, armed=True)
    await storage.rules.add(level, now=NOW)
    await storage.checks.record_check(states=[], armed_changes={level.id: False}, envelopes=[], now=NOW, alerted=[level.id])
    assert await storage.rules.get(level.id) == Rule(**{**vars_of(level), "armed": False})
    await storage.rules.update_level(level.id, threshold=104.0, direction=Direction.UP, armed=None)
    got = await storage.rules.get(level.id)
    assert got is not None and (got.threshold, got.armed) == (104.0, None)
    assert [r.armed for r in await storage.rules.all()] == [None]
    assert await storage.checks.last_alerts() == {level.id: NOW}  # the cooldown is the rule's, wherever its level moved


async def test_a_rule_removed_takes_its_state_along(storage: AnyStorage) -> None:
    gone, kept = member("NVDA", 150.0), member("NVDA", 151.0)
    for rule in (gone, kept):
        await storage.rules.add(rule, now=NOW)
    await storage.checks.record_check(states=[], armed_changes={gone.id: False, kept.id: False}, envelopes=[], now=NOW, alerted=[gone.id, kept.id])
    await storage.rules.delete([gone.id])
    assert [r["rule_id"] for r in await rows(storage, "SELECT rule_id FROM rule_state")] == [kept.id]
    assert await storage.checks.last_alerts() == {kept.id: NOW}


async def test_a_check_recorded_beside_a_rules_removal_still_commits(storage: AnyStorage) -> None:
    """The check evaluated a rule that a command removed before the check was recorded: the check
    and its deliveries still go in (a row of state for an id never given again, read by nobody)."""
    rule = await storage.rules.add(member("NVDA", 150.0), now=NOW)
    await storage.rules.delete([rule.id])
    await storage.checks.record_check(states=[], armed_changes={rule.id: False}, envelopes=[], now=NOW, alerted=[rule.id])
    assert await storage.rules.all() == []
    assert await storage.checks.last_alerts() == {}


async def test_the_view_reads_every_column_of_rules(storage: AnyStorage) -> None:
    """A migration that adds a column to `rules` must recreate `rules_now` with it."""
    if isinstance(storage, PostgresStorage):
        sql = "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY ordinal_position"
        columns = [(r["t"], r["c"]) for r in await storage.db.fetch(sql)]
    else:
        columns = [(table, r["name"]) for table in ("rules", "rules_now") for r in await storage.db.fetchall(f"PRAGMA table_info({table})")]
    assert [c for t, c in columns if t == "rules_now"] == [c for t, c in columns if t == "rules"]


def vars_of(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in rule.__dataclass_fields__}


# -- a schema-15 database moved forward ------------------------------------------------------

SCHEMA_15_RULES = [  # (armed, last_alert_at)
    (1, None),
    (0, "2025-01-27T15:00:00+00:00"),
    (None, "2025-01-27T14:00:00-05:00"),
]


def insert_rule_sql(marks: list[str]) -> str:
    return (
        "INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, chat_platform, chat_id, armed, last_alert_at, created_at) "
        f"VALUES ('NVDA', 'above', 150, 'member', 'telegram', '101', 'telegram', '-100', {', '.join(marks)})"
    )


def check_moved(read: list[Rule], last: dict[int, datetime]) -> None:
    assert [r.armed for r in read] == [True, False, None]
    assert last == {2: datetime.fromisoformat("2025-01-27T15:00:00+00:00"), 3: datetime.fromisoformat("2025-01-27T14:00:00-05:00")}


async def test_sqlite_moves_a_schema_15_files_last_alerts(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "schema15.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, script in migrations():
        if version <= 15:
            for statement in split_sql(script):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 15")
    for armed, last in SCHEMA_15_RULES:
        conn.execute(insert_rule_sql(["?", "?", "?"]), (armed, last, NOW.isoformat()))
    conn.close()
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.db.schema_version() == latest_version() >= 16
        check_moved(await storage.rules.all(), await storage.checks.last_alerts())
        assert await rows(storage, "SELECT COUNT(*) AS n FROM rules WHERE last_alert_at IS NOT NULL") == [{"n": 0}]
    finally:
        await storage.close()


@pytest.fixture
def schema15_url() -> Iterator[str]:
    with fresh_database("rule_state_schema15") as made:
        yield made


async def test_postgresql_moves_a_schema_15_databases_last_alerts(schema15_url: str) -> None:
    conn = await asyncpg.connect(schema15_url)
    try:
        for version, script in pg_migrations():
            if version <= 15:
                await conn.execute(script)
        await conn.execute("CREATE TABLE tickerbell_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO tickerbell_schema VALUES (15)")
        for armed, last in SCHEMA_15_RULES:
            await conn.execute(insert_rule_sql(["$1", "$2", "$3"]), armed, last, NOW.isoformat())
    finally:
        await conn.close()
    storage = await PostgresStorage.open(schema15_url)
    try:
        assert await storage.schema_version() >= 16
        check_moved(await storage.rules.all(), await storage.checks.last_alerts())
        assert await rows(storage, "SELECT COUNT(*) AS n FROM rules WHERE last_alert_at IS NOT NULL") == [{"n": 0}]
    finally:
        await storage.close()
