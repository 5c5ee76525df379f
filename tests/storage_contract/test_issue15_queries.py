"""The rule store's queries that issue 15 made exact, on SQLite and on PostgreSQL alike: `/alert`'s
test for an alert the member already has, and the alerts past their last day. Each reads the rows
that can match (from an index, migration 015), not every rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from bot.core.models import ChatKind, ChatRef, Direction, Rule, RuleKind, RuleSource, UserRef
from storage.factory import AnyStorage

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
ANN = UserRef("telegram", "101", "Ann")
BOB = UserRef("telegram", "202", "Bob")
ANN_ON_DISCORD = UserRef("discord", "101", "Ann")
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP)


def alert(ticker: str = "NVDA", kind: RuleKind = RuleKind.BELOW, threshold: float = 120.5, owner: UserRef = ANN, **changes: object) -> Rule:
    rule = Rule(id=0, ticker=ticker, kind=kind, threshold=threshold, source=RuleSource.MEMBER, owner=owner, chat=GROUP)
    return replace(rule, **changes)  # type: ignore[arg-type]


async def test_the_same_alert_is_found_by_ticker_condition_and_a_threshold_equal_to_nine_digits(storage: AnyStorage) -> None:
    kept = await storage.rules.add(alert(), now=NOW)
    found = await storage.rules.same_member_rule(alert(threshold=120.5 * (1 + 5e-10)))
    assert found is not None and found.id == kept.id
    assert await storage.rules.same_member_rule(alert(threshold=120.5 * (1 + 5e-9))) is None  # beyond 1e-9: another alert


async def test_another_ticker_kind_direction_owner_platform_or_indicator_is_not_the_same_alert(storage: AnyStorage) -> None:
    await storage.rules.add(alert(kind=RuleKind.MOVE, threshold=10.0, direction=Direction.DOWN), now=NOW)
    await storage.rules.add(alert(kind=RuleKind.MA, threshold=0.0, direction=Direction.DOWN, indicator="sma", period=200), now=NOW)
    same_move = alert(kind=RuleKind.MOVE, threshold=10.0, direction=Direction.DOWN)
    assert await storage.rules.same_member_rule(same_move) is not None
    for other in (
        replace(same_move, ticker="AVGO"),
        replace(same_move, direction=Direction.EITHER),
        replace(same_move, kind=RuleKind.DRAWDOWN),
        replace(same_move, owner=BOB),
        replace(same_move, owner=ANN_ON_DISCORD),
    ):
        assert await storage.rules.same_member_rule(other) is None, other
    sma200 = alert(kind=RuleKind.MA, threshold=0.0, direction=Direction.DOWN, indicator="sma", period=200)
    assert await storage.rules.same_member_rule(sma200) is not None
    assert await storage.rules.same_member_rule(replace(sma200, period=50)) is None
    assert await storage.rules.same_member_rule(replace(sma200, indicator="ema")) is None


async def test_a_watch_rule_or_a_level_is_never_a_members_same_alert(storage: AnyStorage) -> None:
    await storage.rules.add(replace(alert(), source=RuleSource.WATCH), now=NOW)
    assert await storage.rules.same_member_rule(alert()) is None


async def test_expiring_lists_only_alerts_whose_last_day_is_before_the_day_by_id(storage: AnyStorage) -> None:
    old = await storage.rules.add(alert(expires_on=date(2025, 1, 24)), now=NOW)
    last_day_today = await storage.rules.add(alert(threshold=110.0, expires_on=date(2025, 1, 27)), now=NOW)
    await storage.rules.add(alert(threshold=100.0), now=NOW)  # never expires
    older = await storage.rules.add(alert(ticker="AVGO", expires_on=date(2025, 1, 2)), now=NOW)
    assert [r.id for r in await storage.rules.expiring(date(2025, 1, 27))] == [old.id, older.id]
    assert [r.id for r in await storage.rules.expiring(date(2025, 1, 28))] == [old.id, last_day_today.id, older.id]
    assert await storage.rules.expiring(date(2025, 1, 2)) == []


async def test_rules_read_back_share_one_object_per_ticker_member_and_chat(storage: AnyStorage) -> None:
    """A million rules loaded hold a few thousand tickers, members and chats, not a million copies."""
    for threshold in (100.0, 110.0, 120.0):
        await storage.rules.add(alert(threshold=threshold), now=NOW)
    await storage.rules.add(alert(owner=BOB), now=NOW)
    ann_1, ann_2, ann_3, bob = await storage.rules.all()
    assert ann_1.ticker is ann_2.ticker is ann_3.ticker is bob.ticker
    assert ann_1.owner is ann_2.owner is ann_3.owner and ann_1.owner == ANN and bob.owner == BOB
    assert ann_1.chat is bob.chat and ann_1.chat == GROUP


async def test_a_members_alert_count_follows_every_add_and_removal_and_counts_only_their_alerts(storage: AnyStorage) -> None:
    assert await storage.rules.count_of_member(ANN) == 0
    added = [await storage.rules.add(alert(threshold=100.0 + n), now=NOW) for n in range(3)]
    await storage.rules.add(alert(owner=BOB), now=NOW)
    await storage.rules.add(alert(owner=ANN_ON_DISCORD), now=NOW)
    await storage.rules.add(replace(alert(threshold=1.0), source=RuleSource.WATCH), now=NOW)  # a chat's watch rule: nobody's alert
    assert [await storage.rules.count_of_member(who) for who in (ANN, BOB, ANN_ON_DISCORD)] == [3, 1, 1]
    await storage.rules.delete([added[0].id, added[2].id])
    assert await storage.rules.count_of_member(ANN) == 1
    await storage.rules.add(alert(threshold=50.0), now=NOW, replacing=[added[1].id])  # one in, one out, in one transaction
    assert await storage.rules.count_of_member(ANN) == 1
    assert await storage.rules.count_of_member(ANN) == sum(1 for r in await storage.rules.all() if r.owner == ANN and r.source is RuleSource.MEMBER)
