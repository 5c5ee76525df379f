"""Watches, member preferences, baskets, earnings, primer seeds and stats: the same answers on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Rule, RuleKind, RuleSource, UserRef
from bot.core.ports import BasketState, EarningsDate, EarningsSubscription, StoreStats
from storage.factory import AnyStorage
from tests.storage_contract.conftest import outbox_rows

NOW = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
A = ChatRef("telegram", "-100", ChatKind.GROUP)
B = ChatRef("discord", "55", ChatKind.CHANNEL)
C = ChatRef("console", "chat-1")


def notice(ticker: str, n: int, chat: ChatRef = A, fallback: ChatRef | None = None) -> Envelope:
    alert = Alert(kind=AlertKind.EARNINGS_MOVED, ticker=ticker, at=NOW + timedelta(seconds=n), rule_id=n, extra={"n": n, "text": "é ≥ 5 %"})
    return Envelope(chat, alert, f"test:{ticker}:{n}", fallback)


async def test_watches(storage: AnyStorage) -> None:
    assert await storage.watches.add(A, "NVDA", now=NOW) is True
    assert await storage.watches.add(A, "NVDA", now=NOW) is False
    await storage.watches.add(A, "AMD", now=NOW)
    await storage.watches.add(B, "NVDA", now=NOW)
    assert await storage.watches.of_chat(A) == ["AMD", "NVDA"]
    assert await storage.watches.watchers("NVDA") == [B, A]  # by platform, then chat id
    assert await storage.watches.tickers() == ["AMD", "NVDA"]
    assert await storage.watches.remove(A, "NVDA") is True
    assert await storage.watches.remove(A, "NVDA") is False
    assert await storage.watches.watchers("NVDA") == [B]
    assert await storage.watches.of_chat(C) == []


async def test_member_preferences(storage: AnyStorage) -> None:
    ann = UserRef("telegram", "101", "Ann")
    assert await storage.prefs.wants_direct(ann) is False
    await storage.prefs.set_direct(ann, True, now=NOW)
    assert await storage.prefs.wants_direct(ann) is True
    await storage.prefs.set_direct(ann, False, now=NOW)
    assert await storage.prefs.wants_direct(ann) is False


async def test_baskets_their_watchers_and_what_was_told(storage: AnyStorage) -> None:
    assert await storage.baskets.set("ai", ["NVDA", "AMD", "AVGO"], by="console:analyst", now=NOW) is True
    assert await storage.baskets.set("chips", ["TSM"], by="console:analyst", now=NOW) is True
    assert await storage.baskets.all() == {"ai": ["NVDA", "AMD", "AVGO"], "chips": ["TSM"]}
    assert await storage.baskets.watch(A, "ai", now=NOW) is True
    assert await storage.baskets.watch(A, "ai", now=NOW) is False
    await storage.baskets.watch(B, "ai", now=NOW)
    await storage.baskets.watch(B, "chips", now=NOW)
    assert await storage.baskets.watchers("ai") == [B, A]
    assert await storage.baskets.watched(B) == ["ai", "chips"]
    assert await storage.baskets.watched() == ["ai", "chips"]
    assert await storage.baskets.state("ai") == BasketState()

    told = BasketState(selloff_session=date(2025, 1, 27), drawdown_peak_day=date(2025, 1, 24))
    assert await storage.baskets.record_alerts("ai", told, [notice("ai", 1), notice("ai", 2, B)], now=NOW) == 2
    assert await storage.baskets.record_alerts("ai", told, [notice("ai", 1)], now=NOW) == 0  # queued once, ever
    assert await storage.baskets.state("ai") == told
    assert [r["dedupe_key"] for r in await outbox_rows(storage)] == ["test:ai:1", "test:ai:2"]

    assert await storage.baskets.set("ai", ["NVDA"], by="telegram:1", now=NOW) is False  # replaced: its told state starts afresh
    assert await storage.baskets.state("ai") == BasketState()
    assert await storage.baskets.unwatch(A, "ai") is True
    assert await storage.baskets.unwatch(A, "ai") is False
    assert await storage.baskets.delete("ai") is True
    assert await storage.baskets.delete("ai") is False
    assert await storage.baskets.all() == {"chips": ["TSM"]}
    assert await storage.baskets.watched() == ["chips"]


async def test_earnings_dates_moves_and_subscriptions(storage: AnyStorage) -> None:
    await storage.earnings.set_date("NVDA", date(2025, 2, 26), "amc", source="provider", now=NOW)
    later = NOW + timedelta(hours=1)
    queued = await storage.earnings.set_date(
        "NVDA",
        date(2025, 2, 27),
        "bmo",
        source="admin",
        now=later,
        provider_day=date(2025, 2, 26),
        provider_time="amc",
        replaces=date(2025, 2, 26),
        envelopes=[notice("NVDA", 1)],
    )
    assert queued == 1
    await storage.earnings.set_date("NVDA", date(2024, 11, 20), "amc", source="provider", now=NOW)
    assert await storage.earnings.dates("NVDA") == [
        EarningsDate("NVDA", date(2024, 11, 20), "amc", "provider", None, None, NOW),
        EarningsDate("NVDA", date(2025, 2, 27), "bmo", "admin", date(2025, 2, 26), "amc", later),
    ]
    assert await storage.earnings.dates("AMD") == []

    assert await storage.earnings.subscribe(A, "NVDA", 1, now=NOW) is True
    assert await storage.earnings.subscribe(A, "NVDA", 3, now=NOW) is False  # days changed, not a new subscription
    await storage.earnings.subscribe(B, "NVDA", 2, now=NOW)
    await storage.earnings.subscribe(A, "AMD", 1, now=NOW)
    assert await storage.earnings.subscriptions(A) == [EarningsSubscription(A, "AMD", 1), EarningsSubscription(A, "NVDA", 3)]
    assert await storage.earnings.subscribers("NVDA") == [EarningsSubscription(B, "NVDA", 2), EarningsSubscription(A, "NVDA", 3)]
    assert await storage.earnings.subscribed_tickers() == ["AMD", "NVDA"]
    assert await storage.earnings.unsubscribe(A, "AMD") is True
    assert await storage.earnings.unsubscribe(A, "AMD") is False
    assert await storage.earnings.subscribed_tickers() == ["NVDA"]


async def test_primer_seeds(storage: AnyStorage) -> None:
    assert await storage.seeds.applied("NVDA", "entry") is None
    await storage.seeds.record("NVDA", "entry", "price:125", now=NOW)
    await storage.seeds.record("NVDA", "entry", "multiple:36:fpe", now=NOW)
    assert await storage.seeds.applied("NVDA", "entry") == "multiple:36:fpe"
    assert await storage.seeds.applied("NVDA", "exit") is None


async def test_stats_count_what_the_database_holds(storage: AnyStorage) -> None:
    assert await storage.stats.snapshot(since=NOW) == StoreStats(0, 0, 0, 0, None, 0)
    owner = UserRef("telegram", "101", "Ann")
    await storage.rules.add(Rule(0, "NVDA", RuleKind.ABOVE, 150.0, RuleSource.MEMBER, owner=owner, chat=C), now=NOW)
    await storage.watches.add(A, "NVDA", now=NOW)
    await storage.watches.add(A, "AMD", now=NOW)
    await storage.baskets.watch(B, "ai", now=NOW)
    await storage.earnings.subscribe(A, "NVDA", 1, now=NOW)
    await storage.baskets.record_alerts("ai", BasketState(), [notice("ai", 1, B), notice("ai", 2, B)], now=NOW)
    await storage.chats.set_active(B, False, now=NOW + timedelta(minutes=5), reason="kicked")
    await storage.baskets.record_alerts("ai", BasketState(), [notice("ai", 3, C)], now=NOW + timedelta(minutes=9))
    snapshot = await storage.stats.snapshot(since=NOW)
    assert snapshot == StoreStats(rules=1, watches=2, chats=3, pending=1, oldest_pending_at=NOW + timedelta(minutes=9), given_up=2)
    assert (await storage.stats.snapshot(since=NOW + timedelta(minutes=6))).given_up == 0
