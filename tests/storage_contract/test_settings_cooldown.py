"""What issues 11 and 13 added to the ports, on SQLite and on PostgreSQL alike: each chat's settings,
what a chat was told since a moment (the digest), the re-arm cooldown's last alerts and basket state
recorded with a check, and when an analyst's level was written. Plus PostgreSQL's migrations 008-010."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone

import asyncpg
import pytest

from bot.core.chat_settings import ChatSettings, Mode
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, LevelName, Rule, RuleKind, RuleSource, TickerState, UserRef
from bot.core.ports import BasketState
from storage.factory import AnyStorage
from storage.postgres import PostgresStorage
from storage.postgres.database import latest_version, migrations
from tests.storage_contract.conftest import fresh_database, outbox_rows

NOW = datetime(2025, 1, 27, 21, 5, 30, 123456, tzinfo=UTC)
NEW_YORK = timezone(timedelta(hours=-5))  # a clock that writes New York's offset
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
CHANNEL = ChatRef("discord", "55", ChatKind.CHANNEL)
DM = ChatRef("telegram", "101")
ANN = UserRef("telegram", "101", "Ann")


def told(n: int, chat: ChatRef = GROUP, at: datetime = NOW) -> Envelope:
    alert = Alert(kind=AlertKind.SELLOFF, ticker=f"T{n}", at=at, change_pct=-5.5, rule_id=n, extra={"é": "≥"})
    return Envelope(chat, alert, f"told:{chat.key}:{n}")


class Boom(Exception):
    pass


# -- chat settings -------------------------------------------------------------------------


async def test_a_chat_without_settings_gets_the_defaults_and_a_put_replaces_them_whole(storage: AnyStorage) -> None:
    assert await storage.chat_settings.get(GROUP) == ChatSettings()
    assert await storage.chat_settings.all() == []
    mine = ChatSettings(
        kinds={"members": Mode.SILENT, "earnings": Mode.OFF},
        quiet_from=time(22, 0),
        quiet_to=time(7, 0),
        selloff_pct=4.5,
        drawdown_pct=12.0,
        digest=True,
        digest_at=time(7, 30),
    )
    await storage.chat_settings.put(GROUP, mine, now=NOW)
    assert await storage.chat_settings.get(GROUP) == mine
    assert await storage.chat_settings.get(ChatRef("telegram", "-100")) == mine  # the chat is its platform and id
    assert await storage.chat_settings.get(CHANNEL) == ChatSettings()
    fewer = ChatSettings(kinds={"levels": Mode.OFF})
    await storage.chat_settings.put(GROUP, fewer, now=NOW + timedelta(minutes=1))
    assert await storage.chat_settings.get(GROUP) == fewer  # replaced, nothing of the old kept
    # a put back to the defaults is still the chat's own row
    await storage.chat_settings.put(DM, ChatSettings(), now=NOW)
    assert [chat.key for chat, _ in await storage.chat_settings.all()] == ["telegram:-100", "telegram:101"]


async def test_every_chat_with_settings_in_platform_and_id_order_with_its_kind_when_known(storage: AnyStorage) -> None:
    await storage.chats.set_active(GROUP, True, now=NOW)  # known to the chats table: its kind comes from there
    await storage.chats.set_active(GROUP, False, now=NOW, reason="kicked")
    await storage.chat_settings.put(GROUP, ChatSettings(digest=True), now=NOW)
    await storage.chat_settings.put(CHANNEL, ChatSettings(selloff_pct=3.0), now=NOW)
    await storage.chat_settings.put(DM, ChatSettings(kinds={"splits": Mode.OFF}), now=NOW)
    assert await storage.chat_settings.all() == [
        (ChatRef("discord", "55", ChatKind.PRIVATE), ChatSettings(selloff_pct=3.0)),  # not in chats: private
        (GROUP, ChatSettings(digest=True)),
        (DM, ChatSettings(kinds={"splits": Mode.OFF})),
    ]


# -- what a chat was told ------------------------------------------------------------------


async def test_delivered_to_is_what_a_chat_was_queued_since_a_moment_pending_or_sent_not_given_up(storage: AnyStorage) -> None:
    earlier = NOW - timedelta(hours=2)
    await storage.outbox.enqueue([told(0, at=earlier)], now=earlier)
    await storage.outbox.enqueue([told(1), told(2), told(3), told(9, CHANNEL), told(8, DM)], now=NOW)
    rows = {r["dedupe_key"]: r["id"] for r in await outbox_rows(storage)}
    await storage.outbox.mark_sent(rows[f"told:{GROUP.key}:1"], now=NOW)
    await storage.outbox.mark_dead(rows[f"told:{GROUP.key}:2"], error="gone", now=NOW)
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=NOW)] == [1, 3]  # oldest first; the dead one left out
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=earlier)] == [0, 1, 3]
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=earlier, limit=2)] == [1, 3]  # at most the last `limit`
    assert await storage.outbox.delivered_to(GROUP, since=NOW + timedelta(seconds=1)) == []
    assert [a.rule_id for a in await storage.outbox.delivered_to(CHANNEL, since=earlier)] == [9]
    assert await storage.outbox.delivered_to(ChatRef("telegram", "-999"), since=earlier) == []
    got = (await storage.outbox.delivered_to(GROUP, since=NOW))[0]
    assert got == told(1).alert  # the alert as queued, serialized alike


async def test_delivered_to_compares_moments_not_text_whatever_offset_the_clock_wrote(storage: AnyStorage) -> None:
    morning = datetime(2025, 1, 27, 14, 0, tzinfo=UTC)  # 09:00 in New York
    afternoon = datetime(2025, 1, 27, 16, 0, tzinfo=NEW_YORK)  # 21:00 UTC
    await storage.outbox.enqueue([told(0, at=morning)], now=morning)
    await storage.outbox.enqueue([told(1, at=afternoon)], now=afternoon)
    # 17:00 UTC: after the morning, before the afternoon; as text "...T12:00:00-05:00" would sort before "...T14:00:00+00:00"
    noon_new_york = datetime(2025, 1, 27, 12, 0, tzinfo=NEW_YORK)
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=noon_new_york)] == [1]
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=datetime(2025, 1, 27, 15, 59, tzinfo=UTC))] == [1]
    assert [a.rule_id for a in await storage.outbox.delivered_to(GROUP, since=datetime(2025, 1, 27, 8, 0, tzinfo=NEW_YORK))] == [0, 1]


# -- the check: last alerts and basket state -----------------------------------------------


async def test_a_check_records_which_rules_alerted_and_what_was_told_about_baskets(storage: AnyStorage) -> None:
    first = await storage.rules.add(Rule(0, "NVDA", RuleKind.BELOW, 120.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    second = await storage.rules.add(Rule(0, "AMD", RuleKind.ABOVE, 100.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    assert await storage.checks.last_alerts() == {}
    await storage.baskets.set("ai", ["NVDA", "AMD"], by="console:analyst", now=NOW)
    await storage.baskets.set("chips", ["TSM"], by="console:analyst", now=NOW)
    ai = BasketState(selloff_session=date(2025, 1, 27), drawdown_peak_day=date(2025, 1, 24))
    queued = await storage.checks.record_check(
        states=[TickerState("NVDA", last_price=118.42, session=date(2025, 1, 27))],
        armed_changes={first.id: False},
        envelopes=[told(1)],
        now=NOW,
        alerted=[first.id],
        baskets={"ai": ai},
    )
    assert queued == 1
    assert await storage.checks.last_alerts() == {first.id: NOW}
    assert await storage.baskets.state("ai") == ai
    assert await storage.baskets.state("chips") == BasketState()
    # a later check: the new moment for the rule that alerted again, the other kept; a basket's state replaced
    later = (NOW + timedelta(minutes=30)).astimezone(NEW_YORK)
    chips = BasketState(selloff_session=date(2025, 1, 28))
    await storage.checks.record_check(
        states=[], armed_changes={}, envelopes=[], now=later, alerted={second.id}, baskets={"ai": BasketState(), "chips": chips}
    )
    assert await storage.checks.last_alerts() == {first.id: NOW, second.id: later}
    assert (await storage.checks.last_alerts())[second.id].utcoffset() == timedelta(hours=-5)  # the moment as the clock wrote it
    assert await storage.baskets.state("ai") == BasketState()
    assert await storage.baskets.state("chips") == chips
    # a check without either changes neither
    await storage.checks.record_check(states=[], armed_changes={}, envelopes=[], now=later + timedelta(minutes=1))
    assert await storage.checks.last_alerts() == {first.id: NOW, second.id: later}
    assert await storage.baskets.state("chips") == chips
    await storage.rules.delete([first.id])
    assert await storage.checks.last_alerts() == {second.id: later}  # a deleted rule has no cooldown


async def test_a_failing_check_records_no_last_alert_and_no_basket_state(storage: AnyStorage) -> None:
    rule = await storage.rules.add(Rule(0, "NVDA", RuleKind.BELOW, 120.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    await storage.baskets.set("ai", ["NVDA"], by="console:analyst", now=NOW)

    class Exploding(list[Envelope]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield told(1)
            raise Boom("mid-way")

    with pytest.raises(Boom):
        await storage.checks.record_check(
            states=[], armed_changes={rule.id: False}, envelopes=Exploding(), now=NOW, alerted=[rule.id], baskets={"ai": BasketState(date(2025, 1, 27))}
        )
    assert await storage.checks.last_alerts() == {}
    assert await storage.baskets.state("ai") == BasketState()
    assert await outbox_rows(storage) == []


# -- when a level was written --------------------------------------------------------------


async def test_when_an_analysts_level_was_written_comes_back_and_only_levels_have_one(storage: AnyStorage) -> None:
    seeded_at = datetime(2024, 11, 4, 0, 0, tzinfo=UTC)  # a seed's notes' date
    seed = await storage.rules.add(
        Rule(0, "NVDA", RuleKind.CROSS, 90.0, RuleSource.ANALYST, level_name=LevelName.STOP, armed=None, written_at=seeded_at), now=NOW
    )
    typed = await storage.rules.add(Rule(0, "NVDA", RuleKind.CROSS, 120.0, RuleSource.ANALYST, level_name=LevelName.ENTRY, armed=None), now=NOW)
    member = await storage.rules.add(Rule(0, "NVDA", RuleKind.BELOW, 100.0, RuleSource.MEMBER, owner=ANN, chat=GROUP, written_at=seeded_at), now=NOW)
    assert (seed.written_at, typed.written_at) == (seeded_at, NOW)
    assert await storage.rules.get(seed.id) == seed
    assert await storage.rules.get(typed.id) == typed
    got = await storage.rules.get(member.id)
    assert got is not None and got.written_at is None  # a member's alert has no note date: not stored
    assert {r.id: r.written_at for r in await storage.rules.analyst_levels("NVDA")} == {seed.id: seeded_at, typed.id: NOW}
    assert {r.id: r.written_at for r in await storage.rules.all()} == {seed.id: seeded_at, typed.id: NOW, member.id: None}


async def test_a_watch_rule_per_percentage(storage: AnyStorage) -> None:
    """Migration 009: a chat may set its own sell-off percentage, so one ticker may have watch rules at several."""
    five = await storage.rules.add(Rule(0, "NVDA", RuleKind.MOVE, 5.0, RuleSource.WATCH), now=NOW)
    three = await storage.rules.add(Rule(0, "NVDA", RuleKind.MOVE, 3.0, RuleSource.WATCH), now=NOW)
    assert [r.id for r in await storage.rules.of_ticker("NVDA")] == [five.id, three.id]
    with pytest.raises(Exception):  # sqlite3.IntegrityError / StorageError: still one per ticker, kind and percentage
        await storage.rules.add(Rule(0, "NVDA", RuleKind.MOVE, 5.0, RuleSource.WATCH), now=NOW)


# -- PostgreSQL: migrations 008-010 on a database left at schema 7 -------------------------


@pytest.fixture
def schema7_url() -> Iterator[str]:
    with fresh_database("settings_cooldown_schema7") as made:
        yield made


async def test_postgresql_moves_a_schema_7_database_forward_keeping_its_rules(schema7_url: str) -> None:
    created = "2024-12-02T15:00:00+00:00"
    conn = await asyncpg.connect(schema7_url)
    try:
        for version, script in migrations():
            if version <= 7:
                await conn.execute(script)
        await conn.execute("CREATE TABLE tickerbell_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO tickerbell_schema VALUES (7)")
        for ticker, kind, threshold, source, level in [("NVDA", "cross", 90.0, "analyst", "stop"), ("NVDA", "move", 5.0, "watch", None)]:
            await conn.execute(
                "INSERT INTO rules (ticker, kind, threshold, source, level_name, armed, created_at) VALUES ($1, $2, $3, $4, $5, NULL, $6)",
                ticker, kind, threshold, source, level, created,
            )
    finally:
        await conn.close()
    storage = await PostgresStorage.open(schema7_url)
    try:
        assert await storage.schema_version() == latest_version() >= 10
        level, watch = await storage.rules.all()
        assert level.written_at == datetime.fromisoformat(created)  # 008: levels stored before keep their creation time
        assert watch.written_at is None
        assert await storage.checks.last_alerts() == {}  # 010: no rule has alerted yet
        assert await storage.chat_settings.all() == []  # 009: the table is there, empty
        await storage.rules.add(Rule(0, "NVDA", RuleKind.MOVE, 3.0, RuleSource.WATCH), now=NOW)  # 009: a watch rule per percentage
        assert len(await storage.rules.of_ticker("NVDA")) == 3
    finally:
        await storage.close()
