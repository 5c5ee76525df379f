"""The routing step: where each alert goes, the key that makes it go there once, and where a
direct message goes if the member's direct chat refuses the bot.

Every job hands its alerts here and stores the `Envelope`s it gets back; nothing else decides
a destination, writes a dedupe key or picks a fallback.

- A member's alert goes to the chat it was set in, or to the member's direct chat after
  `/dm on`, with the chat it was set in as the fallback.
- A watch rule's or analyst level's alert goes to every chat that watches the ticker.
- A notice (a split, an earnings reminder, a basket sell-off) goes to the chats its job names.
- A chat the `ChatDirectory` says is unreachable gets nothing; its fallback, if any, gets it instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.chats import ChatDirectory
from bot.core.engine import Firing
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatRef, Rule, RuleSource, direct_chat
from bot.core.ports import MemberPrefStore, WatchStore

log = logging.getLogger(__name__)


def subject(kind: AlertKind | str, *parts: str) -> str:
    """What an alert is about, as the stem of its dedupe keys: `earnings_day:MSFT:2025-01-29`."""
    return ":".join([str(kind), *parts])


def dedupe_key(about: str, chat: ChatRef) -> str:
    """One delivery per subject per chat, ever."""
    return f"{about}:{chat.key}"


def fallback_key(delivery_id: int) -> str:
    """The key of a delivery re-queued for its fallback chat after its own chat refused the bot."""
    return f"fallback:{delivery_id}"


def firing_subject(firing: Firing) -> str:
    """A rule fires once per moment: `daily_move:12:2025-01-27T14:31:00+00:00`."""
    return subject(firing.alert.kind, str(firing.rule.id), firing.alert.at.isoformat())


def merge_watch_firings(firings: list[Firing]) -> list[Firing]:
    """A watched ticker's sell-off and drawdown found in the same check become one message."""
    selloff = next((f for f in firings if f.alert.kind is AlertKind.SELLOFF), None)
    drawdown = next((f for f in firings if f.alert.kind is AlertKind.DRAWDOWN and f.rule.source is RuleSource.WATCH), None)
    if selloff is None or drawdown is None:
        return firings
    merged = Firing(
        selloff.rule,
        replace(
            selloff.alert,
            peak=drawdown.alert.peak,
            drawdown_pct=drawdown.alert.drawdown_pct,
            extra={**selloff.alert.extra, "drawdown_threshold_pct": drawdown.alert.threshold_pct},
        ),
    )
    return [merged if f is selloff else f for f in firings if f is not drawdown]


@dataclass
class _Lookups:
    """Storage answers reused within one routing call."""

    watchers: dict[str, list[ChatRef]] = field(default_factory=dict)
    direct: dict[str, bool] = field(default_factory=dict)  # member key -> wants direct messages


class Routing:
    def __init__(self, *, watches: WatchStore, prefs: MemberPrefStore, chats: ChatDirectory) -> None:
        self._watches = watches
        self._prefs = prefs
        self._chats = chats

    async def for_firings(self, firings: Iterable[Firing]) -> list[Envelope]:
        """The deliveries a check's firings owe."""
        lookups = _Lookups()
        envelopes = []
        moments: dict[datetime, str] = {}  # a busy check's thousands of firings share a few moments
        for firing in firings:
            alert = firing.alert
            moment = moments.get(alert.at) or moments.setdefault(alert.at, alert.at.isoformat())
            about = subject(alert.kind, str(firing.rule.id), moment)  # = firing_subject(firing)
            direct = await self._wants_direct(firing, lookups)
            if direct is not None:
                envelopes.append(Envelope(direct, firing.alert, dedupe_key(about, direct), fallback=firing.rule.chat))
                continue
            envelopes.extend(Envelope(chat, firing.alert, dedupe_key(about, chat)) for chat in await self._destinations(firing, lookups))
        return await self.reachable(envelopes)

    async def to_chats(self, alert: Alert, chats: Iterable[ChatRef], about: str) -> list[Envelope]:
        """A notice for the chats its job names, one delivery per chat."""
        return await self.reachable(Envelope(chat, alert, dedupe_key(about, chat)) for chat in chats)

    async def for_split(self, notice: Alert, rules: Iterable[Rule]) -> list[Envelope]:
        """A split notice: for every chat that watches the ticker or holds a member's alert on it."""
        chats = {c.key: c for c in await self._watches.watchers(notice.ticker)}
        for rule in rules:
            if rule.source is RuleSource.MEMBER and rule.chat:
                chats.setdefault(rule.chat.key, rule.chat)
        return await self.to_chats(notice, chats.values(), subject(AlertKind.SPLIT, notice.ticker, str(notice.extra["split_day"])))

    async def reachable(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """Drop what is addressed to unreachable chats, or send it to its fallback instead."""
        kept = []
        known: dict[ChatRef, bool] = {}  # asked once per chat in a call
        for envelope in envelopes:
            chat = envelope.chat
            reachable = known.get(chat)
            if reachable is None:
                reachable = known[chat] = await self._chats.reachable(chat)
            if reachable:
                kept.append(envelope)
            elif envelope.fallback is not None:  # a direct chat that refused us: where the alert was set instead
                kept.append(Envelope(envelope.fallback, envelope.alert, envelope.dedupe_key))
            else:
                log.info("routing: skipping %s alert for inactive chat %s", envelope.alert.kind, envelope.chat.key)
        return kept

    async def _wants_direct(self, firing: Firing, lookups: _Lookups) -> ChatRef | None:
        """The member's direct chat, when the member asked for direct messages (/dm on)."""
        owner = firing.rule.owner
        if firing.rule.source is not RuleSource.MEMBER or owner is None:
            return None
        key = owner.key
        if key not in lookups.direct:
            lookups.direct[key] = await self._prefs.wants_direct(owner)
        return direct_chat(owner) if lookups.direct[key] else None

    async def _destinations(self, firing: Firing, lookups: _Lookups) -> list[ChatRef]:
        rule = firing.rule
        if rule.source is RuleSource.MEMBER:
            return [rule.chat] if rule.chat else []
        if rule.ticker not in lookups.watchers:
            lookups.watchers[rule.ticker] = await self._watches.watchers(rule.ticker)
        return lookups.watchers[rule.ticker]
