"""The rule store's contract, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, UserRef
from storage.factory import AnyStorage

NOW = datetime(2025, 1, 27, 21, 5, 30, 123456, tzinfo=UTC)
ANN = UserRef("telegram", "101", "Ann")
BOB = UserRef("discord", "202", "Bob")
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)


def member_rule(ticker: str = "NVDA", owner: UserRef = ANN, threshold: float = 120.5, **changes: object) -> Rule:
    rule = Rule(id=0, ticker=ticker, kind=RuleKind.BELOW, threshold=threshold, source=RuleSource.MEMBER, owner=owner, chat=GROUP, note="buy the dip")
    return replace(rule, **changes)  # type: ignore[arg-type]


def level(ticker: str, name: LevelName, threshold: float) -> Rule:
    return Rule(id=0, ticker=ticker, kind=RuleKind.CROSS, threshold=threshold, source=RuleSource.ANALYST, level_name=name, armed=None)


async def test_a_rule_comes_back_as_it_was_stored_with_its_id_and_creation_time(storage: AnyStorage) -> None:
    rule = member_rule(
        direction=Direction.DOWN,
        armed=None,
        snoozed_until=NOW + timedelta(hours=3),
        multiple=31.5,
        basis="fpe",
        met_session=date(2025, 1, 27),
    )
    added = await storage.rules.add(rule, now=NOW)
    assert added.id == 1
    assert added.created_at == NOW
    got = await storage.rules.get(added.id)
    assert got == added
    assert got is not None and got.owner == ANN and got.chat == GROUP and got.threshold == 120.5


async def test_ids_rise_and_are_never_reused_after_a_delete(storage: AnyStorage) -> None:
    first = await storage.rules.add(member_rule(), now=NOW)
    second = await storage.rules.add(member_rule(), now=NOW)
    await storage.rules.delete([second.id])
    third = await storage.rules.add(member_rule(), now=NOW)
    assert (first.id, second.id, third.id) == (1, 2, 3)
    assert await storage.rules.get(second.id) is None


async def test_adding_replaces_the_rules_named_in_the_same_step(storage: AnyStorage) -> None:
    old = await storage.rules.add(level("NVDA", LevelName.ENTRY, 100.0), now=NOW)
    new = await storage.rules.add(level("NVDA", LevelName.ENTRY, 110.0), now=NOW, replacing=[old.id])
    assert [r.id for r in await storage.rules.all()] == [new.id]


async def test_a_second_analyst_level_of_the_same_name_is_refused_and_nothing_is_replaced(storage: AnyStorage) -> None:
    old = await storage.rules.add(level("NVDA", LevelName.ENTRY, 100.0), now=NOW)
    other = await storage.rules.add(member_rule(), now=NOW)
    with pytest.raises(Exception):  # sqlite3.IntegrityError / StorageError: the unique level index
        await storage.rules.add(level("NVDA", LevelName.ENTRY, 110.0), now=NOW, replacing=[other.id])
    assert [r.id for r in await storage.rules.all()] == [old.id, other.id]  # the delete rolled back with it


async def test_lists_by_ticker_member_and_level_in_order(storage: AnyStorage) -> None:
    a = await storage.rules.add(member_rule("NVDA"), now=NOW)
    b = await storage.rules.add(member_rule("AMD", owner=BOB), now=NOW)
    c = await storage.rules.add(member_rule("NVDA", owner=BOB), now=NOW)
    stop = await storage.rules.add(level("NVDA", LevelName.STOP, 90.0), now=NOW)
    entry = await storage.rules.add(level("NVDA", LevelName.ENTRY, 100.0), now=NOW)
    amd = await storage.rules.add(level("AMD", LevelName.EXIT, 200.0), now=NOW)
    assert [r.id for r in await storage.rules.all()] == [a.id, b.id, c.id, stop.id, entry.id, amd.id]
    assert [r.id for r in await storage.rules.of_ticker("NVDA")] == [a.id, c.id, stop.id, entry.id]
    assert [r.id for r in await storage.rules.of_member(BOB)] == [b.id, c.id]
    assert await storage.rules.count_of_member(BOB) == 2
    assert await storage.rules.count_of_member(UserRef("telegram", "999")) == 0
    assert [r.id for r in await storage.rules.analyst_levels()] == [amd.id, entry.id, stop.id]
    assert [r.id for r in await storage.rules.analyst_levels("NVDA")] == [entry.id, stop.id]


async def test_snooze_and_level_updates_are_kept(storage: AnyStorage) -> None:
    rule = await storage.rules.add(level("NVDA", LevelName.ENTRY, 100.0), now=NOW)
    await storage.rules.set_snooze(rule.id, NOW + timedelta(days=1))
    await storage.rules.update_level(rule.id, threshold=104.25, direction=Direction.UP, armed=False)
    got = await storage.rules.get(rule.id)
    assert got is not None
    assert (got.snoozed_until, got.threshold, got.direction, got.armed) == (NOW + timedelta(days=1), 104.25, Direction.UP, False)
    await storage.rules.set_snooze(rule.id, None)
    await storage.rules.update_level(rule.id, threshold=0.0, direction=Direction.EITHER, armed=None)
    got = await storage.rules.get(rule.id)
    assert got is not None and (got.snoozed_until, got.threshold, got.armed) == (None, 0.0, None)


async def test_text_sorts_byte_by_byte_on_both_backends(storage: AnyStorage) -> None:
    for ticker in ["brk.b", "BRK.B", "^GSPC", "A", "Z", "_X"]:
        await storage.rules.add(level(ticker, LevelName.ENTRY, 1.0), now=NOW)
    assert [r.ticker for r in await storage.rules.analyst_levels()] == sorted(["brk.b", "BRK.B", "^GSPC", "A", "Z", "_X"])
