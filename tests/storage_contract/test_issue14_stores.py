"""What issue 14 added to storage, on SQLite and on PostgreSQL alike: which chats answer cashtags,
catalysts beyond earnings, /history read back from the outbox (a member's alerts found by their
mention, at the top of a message or inside a grouped one), and a member's alert that fires once or
expires. Plus PostgreSQL's migrations 011-013 on a database left at schema 10."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef
from storage.factory import AnyStorage
from storage.postgres import PostgresStorage
from storage.postgres.database import latest_version, migrations
from storage.sqlite.database import latest_version as sqlite_latest
from tests.storage_contract.conftest import fresh_database

NOW = datetime(2025, 1, 27, 21, 5, 30, 123456, tzinfo=UTC)
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)
OTHER_GROUP = ChatRef("telegram", "-200", ChatKind.GROUP)
DM = ChatRef("telegram", "101")
CHANNEL = ChatRef("discord", "55", ChatKind.CHANNEL)
ANN = UserRef("telegram", "101", "Ann")
BOB = UserRef("telegram", "1_1", "Bob")  # an id with a LIKE wildcard in it: matched as it is
BOB_LOOKALIKE = UserRef("telegram", "121", "Bo")  # what "1_1" would match as a pattern
ANN_ON_DISCORD = UserRef("discord", "101", "Ann")  # the same id on another platform is someone else


def alert(ticker: str, n: int, mention: UserRef | None = None, **more: object) -> Alert:
    return Alert(kind=AlertKind.PRICE_ABOVE, ticker=ticker, at=NOW + timedelta(seconds=n), price=100.0 + n, change_pct=1.5, rule_id=n, mention=mention, **more)  # type: ignore[arg-type]


def group(n: int, *items: Alert) -> Alert:
    return Alert(kind=AlertKind.GROUP, ticker=items[0].ticker, at=NOW + timedelta(seconds=n), items=list(items))


async def queue(storage: AnyStorage, chat: ChatRef, message: Alert, key: str, *, n: int = 0) -> None:
    await storage.outbox.enqueue([Envelope(chat, message, key)], now=NOW + timedelta(minutes=n))


# -- cashtags --------------------------------------------------------------------------------


async def test_cashtags_are_off_until_a_chat_turns_them_on_and_off_again(storage: AnyStorage) -> None:
    assert await storage.cashtags.enabled_chats() == set()
    await storage.cashtags.set_enabled(GROUP, True, now=NOW)
    await storage.cashtags.set_enabled(CHANNEL, True, now=NOW)
    await storage.cashtags.set_enabled(DM, False, now=NOW)  # a chat that says off has a row, and is off
    assert await storage.cashtags.enabled_chats() == {GROUP.key, CHANNEL.key}
    await storage.cashtags.set_enabled(GROUP, False, now=NOW + timedelta(minutes=1))
    await storage.cashtags.set_enabled(ChatRef("discord", "55"), True, now=NOW + timedelta(minutes=1))  # the chat is its platform and id
    assert await storage.cashtags.enabled_chats() == {CHANNEL.key}


# -- catalysts -------------------------------------------------------------------------------


async def test_a_catalyst_is_new_once_then_replaced_on_the_same_day(storage: AnyStorage) -> None:
    day = date(2025, 3, 18)
    assert await storage.catalysts.set("NVDA", day, "GTC keynote", by="telegram:1", now=NOW) is True
    assert await storage.catalysts.set("NVDA", day, "GTC keynote (moved)", by="telegram:2", now=NOW) is False
    assert await storage.catalysts.set("NVDA", day + timedelta(days=1), "GTC day 2", by="telegram:1", now=NOW) is True
    assert await storage.catalysts.between(day, day) == [("NVDA", day, "GTC keynote (moved)")]


async def test_catalysts_between_two_days_inclusive_by_day_then_ticker_and_for_one_ticker(storage: AnyStorage) -> None:
    for ticker, day, name in [("NVDA", date(2025, 3, 18), "GTC"), ("AMD", date(2025, 3, 18), "Advancing AI"), ("TSM", date(2025, 3, 10), "Sales"),
                              ("NVDA", date(2025, 4, 1), "Computex"), ("AAPL", date(2025, 3, 9), "Event")]:
        await storage.catalysts.set(ticker, day, name, by="console:analyst", now=NOW)
    start, end = date(2025, 3, 10), date(2025, 3, 31)
    assert await storage.catalysts.between(start, end) == [
        ("TSM", date(2025, 3, 10), "Sales"), ("AMD", date(2025, 3, 18), "Advancing AI"), ("NVDA", date(2025, 3, 18), "GTC")
    ]
    assert await storage.catalysts.between(start, date(2025, 4, 1), "NVDA") == [("NVDA", date(2025, 3, 18), "GTC"), ("NVDA", date(2025, 4, 1), "Computex")]
    assert await storage.catalysts.between(date(2025, 5, 1), date(2025, 6, 1)) == []


async def test_clearing_a_catalyst_says_how_many_went(storage: AnyStorage) -> None:
    for day in (date(2025, 3, 18), date(2025, 3, 19), date(2025, 4, 1)):
        await storage.catalysts.set("NVDA", day, "event", by="console:analyst", now=NOW)
    await storage.catalysts.set("AMD", date(2025, 3, 18), "event", by="console:analyst", now=NOW)
    assert await storage.catalysts.clear("NVDA", date(2025, 3, 19)) == 1
    assert await storage.catalysts.clear("NVDA", date(2025, 3, 19)) == 0
    assert await storage.catalysts.clear("NVDA") == 2
    assert await storage.catalysts.clear("NVDA") == 0
    assert await storage.catalysts.between(date(2025, 1, 1), date(2025, 12, 31)) == [("AMD", date(2025, 3, 18), "event")]


# -- history ---------------------------------------------------------------------------------


async def test_history_is_a_chats_deliveries_newest_first_with_status_and_chat(storage: AnyStorage) -> None:
    await queue(storage, GROUP, alert("NVDA", 1), "h1", n=1)
    await queue(storage, OTHER_GROUP, alert("AMD", 2), "h2", n=2)
    await queue(storage, GROUP, alert("AMD", 3), "h3", n=3)
    await queue(storage, CHANNEL, alert("NVDA", 4), "h4", n=4)
    await storage.outbox.mark_sent(1, now=NOW)
    await storage.outbox.mark_dead(3, error="blocked", now=NOW)
    fired = await storage.history.fired([GROUP])
    assert [(a.ticker, a.rule_id, status, key) for a, _, status, key in fired] == [("AMD", 3, "dead", GROUP.key), ("NVDA", 1, "sent", GROUP.key)]
    assert [when for _, when, _, _ in fired] == [NOW + timedelta(minutes=3), NOW + timedelta(minutes=1)]  # when each was queued
    assert fired[1][0] == alert("NVDA", 1)  # the alert itself comes back
    both = await storage.history.fired([GROUP, CHANNEL], limit=2)
    assert [(a.rule_id, key) for a, _, _, key in both] == [(4, CHANNEL.key), (3, GROUP.key)]
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([GROUP, OTHER_GROUP], ticker="AMD")] == [3, 2]
    assert await storage.history.fired([]) == []
    assert await storage.history.fired([ChatRef("telegram", "-999")]) == []


async def test_history_finds_a_members_alerts_in_any_chat_of_the_platform_by_mention_even_inside_a_group(storage: AnyStorage) -> None:
    await queue(storage, DM, alert("NVDA", 1, ANN), "m1")  # top-level mention
    await queue(storage, OTHER_GROUP, group(2, alert("AMD", 21), alert("TSM", 22, ANN)), "m2")  # the mention inside a grouped message
    await queue(storage, OTHER_GROUP, alert("NVDA", 3, BOB), "m3")
    await queue(storage, OTHER_GROUP, alert("NVDA", 4, BOB_LOOKALIKE), "m4")
    await queue(storage, CHANNEL, alert("NVDA", 5, ANN_ON_DISCORD), "m5")  # another platform's 101
    await queue(storage, OTHER_GROUP, alert("NVDA", 6, extra={"note": "for user 101"}), "m6")  # the id as text, not as a mention
    mine = await storage.history.fired([], mentioning=ANN)
    assert [(a.rule_id, key) for a, _, _, key in mine] == [(None, OTHER_GROUP.key), (1, DM.key)]
    assert [item.mention for item in mine[0][0].alerts] == [None, ANN]
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([], mentioning=BOB)] == [3]  # "1_1" is not a pattern
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([], mentioning=ANN_ON_DISCORD)] == [5]
    assert await storage.history.fired([], mentioning=UserRef("telegram", "999")) == []
    # this chat's own deliveries, and the member's anywhere; a ticker keeps its own and grouped messages (the caller looks inside)
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([GROUP], mentioning=ANN, ticker="NVDA")] == [None, 1]
    assert [a.rule_id for a, _, _, _ in await storage.history.fired([CHANNEL], mentioning=ANN, ticker="AMD")] == [None]


# -- a member's alert that fires once, or expires ----------------------------------------------


async def test_once_and_expiry_come_back_as_written_and_default_to_every_and_never(storage: AnyStorage) -> None:
    every = await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 150.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    once = await storage.rules.add(Rule(0, "NVDA", RuleKind.BELOW, 100.0, RuleSource.MEMBER, owner=ANN, chat=GROUP, once=True), now=NOW)
    until = await storage.rules.add(
        Rule(0, "AMD", RuleKind.BELOW, 90.0, RuleSource.MEMBER, owner=ANN, chat=GROUP, once=True, expires_on=date(2025, 3, 31)), now=NOW
    )
    read = {rule.id: rule for rule in await storage.rules.all()}
    assert [(read[r.id].once, read[r.id].expires_on) for r in (every, once, until)] == [(False, None), (True, None), (True, date(2025, 3, 31))]
    assert await storage.rules.get(until.id) == read[until.id]
    assert [(r.once, r.expires_on) for r in await storage.rules.of_member(ANN)] == [(False, None), (True, None), (True, date(2025, 3, 31))]
    assert await storage.rules.count_of_member(ANN) == 3


async def test_indicator_alerts_come_back_with_their_indicator_and_period(storage: AnyStorage) -> None:
    """Migration 014: a moving-average, RSI or change-over-sessions alert keeps what it watches."""
    plain = await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 150.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), now=NOW)
    sma = await storage.rules.add(
        Rule(0, "NVDA", RuleKind.MA, 0.0, RuleSource.MEMBER, direction=Direction.DOWN, owner=ANN, chat=GROUP, indicator="sma", period=200), now=NOW
    )
    rsi = await storage.rules.add(
        Rule(0, "NVDA", RuleKind.RSI, 30.0, RuleSource.MEMBER, direction=Direction.DOWN, owner=ANN, chat=GROUP, indicator="rsi", period=14), now=NOW
    )
    change = await storage.rules.add(Rule(0, "AVGO", RuleKind.CHANGE, -10.0, RuleSource.MEMBER, owner=ANN, chat=GROUP, period=5), now=NOW)
    read = {rule.id: rule for rule in await storage.rules.all()}
    assert [(read[r.id].kind, read[r.id].indicator, read[r.id].period) for r in (plain, sma, rsi, change)] == [
        (RuleKind.ABOVE, None, None), (RuleKind.MA, "sma", 200), (RuleKind.RSI, "rsi", 14), (RuleKind.CHANGE, None, 5)
    ]
    assert await storage.rules.get(sma.id) == read[sma.id]


# -- PostgreSQL: migrations 011-013 on a database left at schema 10 -------------------------


@pytest.fixture
def schema10_url() -> Iterator[str]:
    with fresh_database("issue14_schema10") as made:
        yield made


async def test_postgresql_moves_a_schema_10_database_forward_with_issue_14s_tables_and_indexes(schema10_url: str) -> None:
    assert latest_version() == sqlite_latest() >= 14
    conn = await asyncpg.connect(schema10_url)
    try:
        for version, script in migrations():
            if version <= 10:
                await conn.execute(script)
        await conn.execute("CREATE TABLE tickerbell_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO tickerbell_schema VALUES (10)")
        await conn.execute(
            "INSERT INTO rules (ticker, kind, threshold, source, owner_platform, owner_id, created_at) VALUES ('NVDA', 'above', 150, 'member', 'telegram', '101', $1)",
            NOW.isoformat(),
        )
    finally:
        await conn.close()
    storage = await PostgresStorage.open(schema10_url)
    try:
        assert await storage.schema_version() == latest_version()
        (rule,) = await storage.rules.all()
        assert (rule.once, rule.expires_on) == (False, None)  # 013: a rule from before fires every time and never expires
        assert await storage.cashtags.enabled_chats() == set() and await storage.catalysts.between(date(2025, 1, 1), date(2026, 1, 1)) == []
        indexes = {r["indexname"]: r["indexdef"] for r in await storage.db.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")}
        assert "(owner_platform, owner_id, source)" in indexes["rules_by_member"]  # 011
        assert "(platform, chat_id, id)" in indexes["outbox_by_chat"]  # 012
        assert "WHERE (expires_on IS NOT NULL)" in indexes["rules_expiring"]  # 013
        assert "(day)" in indexes["catalysts_by_day"]
    finally:
        await storage.close()
