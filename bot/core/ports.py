"""Storage ports: what the core and the jobs need from a database, one small protocol per aggregate.

`storage/` implements them (SQLite through aiosqlite today); the wiring (`bot/app.py`) hands
the implementation to the parts that need it. The protocols state what must be atomic: a
method that takes `envelopes` writes them to the outbox in the same transaction as its own
change, so that a change recorded is an alert queued, and neither happens without the other.

Business decisions are not made behind these ports: which rule an analyst level replaces is
the rules owner's (`bot.core.rules.RuleBook`), where an alert goes is the routing step's
(`bot.core.routing`), whether a chat is reachable is `bot.core.chats.ChatDirectory`'s.

    StorageError      the database cannot be used (for example written by a newer tickerbell)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.core.chat_settings import ChatSettings
from bot.core.messages import Alert, Delivery, Envelope
from bot.core.models import ChatRef, Direction, Rule, TickerState, UserRef


class StorageError(Exception):
    """The database cannot be used (for example it was written by a newer tickerbell)."""


# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    dead: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the database holds, counted for `/status` and `/metrics`."""

    rules: int
    watches: int  # (chat, ticker) pairs
    chats: int  # distinct chats that follow a ticker or basket, get earnings, or hold an alert
    pending: int  # deliveries not sent yet
    oldest_pending_at: datetime | None
    given_up: int  # deliveries given up (dead) since the `since` asked for


@dataclass(frozen=True, slots=True)
class BasketState:
    """What was last told about a basket."""

    selloff_session: date | None = None  # the session whose sell-off was told
    drawdown_peak_day: date | None = None  # the day of the peak whose drawdown was told


@dataclass(frozen=True, slots=True)
class EarningsDate:
    """One stored report date of a ticker."""

    ticker: str
    day: date
    time: str  # "bmo" | "amc" | "unknown"
    source: str  # "provider" | "admin"
    provider_day: date | None
    provider_time: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EarningsSubscription:
    chat: ChatRef
    ticker: str
    days_before: int


# -- ports -----------------------------------------------------------------------------


class RuleStore(Protocol):
    """Rules as stored. Only `bot.core.rules.RuleBook` writes through this port."""

    async def add(self, rule: Rule, *, now: datetime, replacing: Sequence[int] = ()) -> Rule:
        """Insert a rule (deleting the rules `replacing`, in the same transaction) and return
        it with its id and creation time."""
        ...

    async def get(self, rule_id: int) -> Rule | None: ...

    async def delete(self, rule_ids: Sequence[int]) -> None: ...

    async def all(self) -> list[Rule]:
        """Every rule, by id."""
        ...

    async def of_ticker(self, ticker: str) -> list[Rule]: ...

    async def of_member(self, owner: UserRef) -> list[Rule]: ...

    async def count_of_member(self, owner: UserRef) -> int: ...

    async def same_member_rule(self, rule: Rule) -> Rule | None:
        """The member's alert with the same ticker, condition and threshold as `rule` (within a
        relative 1e-9), if they have one: what `/alert` refuses as a duplicate."""
        ...

    async def expiring(self, before: date) -> list[Rule]:
        """The rules whose last day (`expires_on`) is before `before`, by id."""
        ...

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        """The analyst's levels, of one ticker or all (by ticker, then level name)."""
        ...

    async def set_snooze(self, rule_id: int, until: datetime | None) -> None: ...

    async def update_level(self, rule_id: int, *, threshold: float, direction: Direction, armed: bool | None) -> None:
        """Move a valuation level to today's price."""
        ...


class WatchStore(Protocol):
    """Tickers each chat follows."""

    async def add(self, chat: ChatRef, ticker: str, *, now: datetime) -> bool:
        """Follow a ticker in a chat; False if the chat already followed it."""
        ...

    async def remove(self, chat: ChatRef, ticker: str) -> bool: ...

    async def of_chat(self, chat: ChatRef) -> list[str]: ...

    async def watchers(self, ticker: str) -> list[ChatRef]: ...

    async def tickers(self) -> list[str]:
        """Every ticker some chat follows."""
        ...


class MemberPrefStore(Protocol):
    async def set_direct(self, user: UserRef, on: bool, *, now: datetime) -> None: ...

    async def wants_direct(self, user: UserRef) -> bool: ...


class ChatStore(Protocol):
    """Whether the bot can post in a chat. Only `bot.core.chats.ChatDirectory` uses this port."""

    async def is_active(self, chat: ChatRef) -> bool:
        """True unless the chat was marked inactive."""
        ...

    async def set_active(self, chat: ChatRef, active: bool, *, now: datetime, reason: str | None = None) -> bool:
        """Record whether the bot can post in a chat; True if that changed.

        Marking a chat inactive also settles its pending deliveries, in the same transaction:
        each one that has a fallback chat is queued again for the fallback (dedupe key
        `bot.core.routing.fallback_key(delivery id)`), and every pending one for this chat is marked dead."""
        ...


class BasketStore(Protocol):
    async def set(self, name: str, tickers: Sequence[str], *, by: str, now: datetime) -> bool:
        """Create or replace a basket; True if it is new. Its told state starts afresh."""
        ...

    async def all(self) -> dict[str, list[str]]: ...

    async def delete(self, name: str) -> bool:
        """Remove a basket, its watches and its state."""
        ...

    async def watch(self, chat: ChatRef, name: str, *, now: datetime) -> bool: ...

    async def unwatch(self, chat: ChatRef, name: str) -> bool: ...

    async def watchers(self, name: str) -> list[ChatRef]: ...

    async def watched(self, chat: ChatRef | None = None) -> list[str]:
        """Baskets followed by a chat, or by any chat."""
        ...

    async def state(self, name: str) -> BasketState: ...

    async def record_alerts(self, name: str, state: BasketState, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        """Remember what was told about a basket and queue it, atomically; returns how many were queued."""
        ...


class EarningsStore(Protocol):
    async def dates(self, ticker: str) -> list[EarningsDate]:
        """A ticker's report dates, oldest first."""
        ...

    async def set_date(
        self,
        ticker: str,
        day: date,
        time: str,
        *,
        source: str,
        now: datetime,
        provider_day: date | None = None,
        provider_time: str | None = None,
        replaces: date | None = None,
        envelopes: Iterable[Envelope] = (),
    ) -> int:
        """Record a report date (replacing the row of `replaces`, the date it moved from) and
        queue the notices a move owes, atomically; returns how many were queued."""
        ...

    async def subscribe(self, chat: ChatRef, ticker: str, days_before: int, *, now: datetime) -> bool:
        """Subscribe a chat to a ticker's earnings (or change its days); False if it already was."""
        ...

    async def unsubscribe(self, chat: ChatRef, ticker: str) -> bool: ...

    async def subscriptions(self, chat: ChatRef) -> list[EarningsSubscription]:
        """A chat's subscriptions, by ticker."""
        ...

    async def subscribers(self, ticker: str) -> list[EarningsSubscription]:
        """Every chat subscribed to a ticker, by platform and chat id."""
        ...

    async def subscribed_tickers(self) -> list[str]: ...


class PrimerSeedStore(Protocol):
    async def applied(self, ticker: str, level_name: str) -> str | None:
        """The seed spec last applied for a ticker's level, or None if it was never seeded."""
        ...

    async def record(self, ticker: str, level_name: str, spec: str, *, now: datetime) -> None: ...


class CheckStore(Protocol):
    """What the price check remembers: each ticker's engine state and the splits applied."""

    async def ticker_states(self) -> dict[str, TickerState]: ...

    async def record_check(
        self,
        *,
        states: Iterable[TickerState],
        armed_changes: Mapping[int, bool | None],
        envelopes: Iterable[Envelope],
        now: datetime,
        alerted: Collection[int] = (),
        baskets: Mapping[str, BasketState] | None = None,
    ) -> int:
        """Persist one check atomically: ticker states, rules that fired or re-armed, the
        deliveries those firings owe, and what was told about baskets in the same messages
        (`baskets`, by name); `alerted` rules get `now` as their last alert (the re-arm
        cooldown). Returns how many deliveries were queued."""
        ...

    async def last_alerts(self) -> dict[int, datetime]:
        """When each rule last alerted (recorded by `record_check`), for the cooldown after a restart."""
        ...

    async def split_applied(self, ticker: str, day: date) -> bool: ...

    async def apply_split(self, ticker: str, day: date, ratio: float, *, envelopes: Iterable[Envelope], now: datetime) -> bool:
        """Divide a ticker's price rules, last price and peak by a split's ratio, once, and queue
        its notices, atomically. False if this split was applied before."""
        ...


class OutboxStore(Protocol):
    """Deliveries waiting to go out; each dedupe key is queued at most once, ever."""

    async def delivered_to(self, chat: ChatRef, *, since: datetime, limit: int = 500) -> list[Alert]:
        """The messages queued for a chat since a moment (pending or sent, not given up), oldest
        first; at most the last `limit`."""
        ...

    async def enqueue(self, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        """Queue deliveries that no other change goes with (notices, reminders); returns how many were new."""
        ...

    async def due(self, *, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[Delivery]:
        """Pending deliveries due by `now` on these platforms, oldest first."""
        ...

    async def pending_for_chat(self, chat: ChatRef) -> list[Delivery]: ...

    async def next_due_at(self, platforms: Iterable[str]) -> datetime | None: ...

    async def mark_sent(self, delivery_id: int, *, now: datetime) -> None: ...

    async def mark_retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        """Try a delivery again at `at`; `count=False` when it was never attempted."""
        ...

    async def mark_dead(self, delivery_id: int, *, error: str, now: datetime) -> None:
        """Give a delivery up (it is never sent)."""
        ...

    async def counts(self) -> OutboxCounts: ...

    async def claim(self, *, now: datetime, platforms: Iterable[str], limit: int = 100, chats: int | None = None) -> list[Delivery]:
        """Due deliveries of whole chats (at most `chats` chats), oldest first, for this process alone until `release`.

        With several processes on one database, a chat is served by one process at a time (so its
        deliveries keep their order and are never sent twice at once); a claim whose process died
        lapses after a timeout. With one process it is `due`."""
        ...

    async def release(self, chats: Iterable[ChatRef]) -> None:
        """Give up the claims on these chats (their deliveries were tried)."""
        ...

    async def renew_claims(self) -> bool:
        """Keep this process's claims alive; False if they could not be renewed (storage away)."""
        ...


class Lease(Protocol):
    """A role only one process may hold at a time (the market timer)."""

    async def hold(self) -> bool:
        """Take the lease if it is free, or confirm it is still ours; True while this process holds it."""
        ...


class SendGate(Protocol):
    """Platform send limits shared by every process (bot-wide and per chat)."""

    async def wait_turn(self, chat: ChatRef) -> None:
        """Return when a message to `chat` may be sent without breaking the platform's limits."""
        ...


class StatsStore(Protocol):
    async def snapshot(self, *, since: datetime) -> StoreStats:
        """Counts of rules, watches, chats and the outbox; deliveries given up since `since`."""
        ...


class ChatSettingsStore(Protocol):
    """Each chat's own settings (/settings, /digest); a chat without any gets the defaults."""

    async def get(self, chat: ChatRef) -> ChatSettings: ...

    async def put(self, chat: ChatRef, settings: ChatSettings, *, now: datetime) -> None: ...

    async def all(self) -> list[tuple[ChatRef, ChatSettings]]:
        """Every chat with settings of its own."""
        ...


class Records(Protocol):
    """The stores commands and features read and write directly. Rules, chat reachability,
    the check's memory and the outbox have owners of their own and are not here."""

    @property
    def watches(self) -> WatchStore: ...

    @property
    def prefs(self) -> MemberPrefStore: ...

    @property
    def baskets(self) -> BasketStore: ...

    @property
    def earnings(self) -> EarningsStore: ...

    @property
    def seeds(self) -> PrimerSeedStore: ...

    @property
    def stats(self) -> StatsStore: ...

    @property
    def chat_settings(self) -> ChatSettingsStore: ...


class Storage(Records, Protocol):
    """Every storage port of one database."""

    @property
    def rules(self) -> RuleStore: ...

    @property
    def chats(self) -> ChatStore: ...

    @property
    def checks(self) -> CheckStore: ...

    @property
    def outbox(self) -> OutboxStore: ...

    async def close(self) -> None: ...
