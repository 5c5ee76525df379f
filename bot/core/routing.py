"""The routing step: where each alert goes, the key that makes it go there once, and where a
direct message goes if the member's direct chat refuses the bot.

Every job hands its alerts here and stores the `Envelope`s it gets back; nothing else decides
a destination, writes a dedupe key or picks a fallback.

- A member's alert goes to the chat it was set in, or to the member's direct chat after
  `/dm on`, with the chat it was set in as the fallback.
- A watch rule's or analyst level's alert goes to every chat that watches the ticker.
- A notice (a split, an earnings reminder, a basket sell-off) goes to the chats its job names.
- A chat the `ChatDirectory` says is unreachable gets nothing; its fallback, if any, gets it instead.
- One check's alerts for one chat become one message (`group_by_chat`): a GROUP alert holding
  them most severe first, the analyst's levels, then sell-offs and drawdowns, then members'
  alerts. A basket's sell-off or drawdown covers its members' watch sell-offs and drawdowns.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from functools import cache

from bot.core.chat_settings import ChatSettings
from bot.core.chats import ChatDirectory
from bot.core.engine import Firing
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatRef, Rule, RuleKind, RuleSource, UserRef, direct_chat
from bot.core.ports import ChatSettingsStore, MemberPrefStore, WatchStore
from bot.core.settings import Settings

log = logging.getLogger(__name__)


def subject(kind: AlertKind | str, *parts: str) -> str:
    """What an alert is about, as the stem of its dedupe keys: `earnings_day:MSFT:2025-01-29`."""
    return ":".join((kind, *parts))  # an AlertKind is its value as text: joined as it is, without a str() per call


def dedupe_key(about: str, chat: ChatRef) -> str:
    """One delivery per subject per chat, ever."""
    return f"{about}:{chat.key}"


def fallback_key(delivery_id: int) -> str:
    """The key of a delivery re-queued for its fallback chat after its own chat refused the bot."""
    return f"fallback:{delivery_id}"


def firing_subject(firing: Firing) -> str:
    """A rule fires once per moment: `daily_move:12:2025-01-27T14:31:00+00:00`."""
    return subject(firing.alert.kind, str(firing.rule.id), firing.alert.at.isoformat())


# The parts of a grouped message, in the order they are told.
LEVELS, MARKET, MEMBERS, NEWS = "levels", "market", "members", "news"
SECTION_ORDER = (LEVELS, MARKET, MEMBERS, NEWS)
BASKET_KINDS = (AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN)
_BASKET_KINDS = frozenset(BASKET_KINDS)
_MARKET_KINDS = frozenset((AlertKind.SELLOFF, AlertKind.DRAWDOWN, *BASKET_KINDS))
_DRAWDOWN_KINDS = frozenset((AlertKind.DRAWDOWN, AlertKind.BASKET_DRAWDOWN))
_WATCH_KINDS = frozenset((AlertKind.SELLOFF, AlertKind.DRAWDOWN))


def section_of(alert: Alert) -> str:
    """Which part of a grouped message an alert belongs to."""
    return _section(alert.kind, alert.mention is not None)


@cache
def _section(kind: AlertKind, mention: bool) -> str:
    """`section_of` by what it depends on (the alert's kind and whether it is a member's), so
    that a busy check's thousands of alerts share a few answers."""
    if mention:
        return MEMBERS
    if kind == AlertKind.ANALYST_LEVEL:
        return LEVELS
    if kind in _MARKET_KINDS:
        return MARKET
    return NEWS


def severity(alert: Alert) -> float:
    """How hard an alert hits: the day's move, or the fall from the peak if deeper."""
    move = abs(alert.change_pct or 0.0)
    if alert.kind in _DRAWDOWN_KINDS:
        return max(move, alert.drawdown_pct or 0.0)
    return move


_SECTION_INDEX = {section: n for n, section in enumerate(SECTION_ORDER)}


def telling_order(alert: Alert) -> tuple[int, int, float, str]:
    """Sections in order; a basket leads its section (it sums up its members); then the largest move first."""
    section, basket = _place(alert.kind, alert.mention is not None)
    return (section, basket, -severity(alert), alert.ticker)


@cache
def _place(kind: AlertKind, mention: bool) -> tuple[int, int]:
    """The first two parts of `telling_order`, once per kind (and whether it is a member's)."""
    return (_SECTION_INDEX[_section(kind, mention)], 0 if kind in _BASKET_KINDS else 1)


def covered_by_baskets(alerts: list[Alert]) -> list[Alert]:
    """A basket's sell-off or drawdown covers its members' watch sell-offs and drawdowns in
    the same message (members' own alerts still come)."""
    members = {str(m[0]) for a in alerts if a.kind in _BASKET_KINDS for m in a.extra.get("members", [])}
    if not members:
        return alerts
    return [a for a in alerts if not (a.mention is None and a.kind in _WATCH_KINDS and a.ticker in members)]


def merge_watch_alerts(alerts: list[Alert]) -> list[Alert]:
    """A watched ticker's sell-off and drawdown for the same chat become one message: each
    sell-off, in turn, takes the first drawdown of its ticker that no sell-off took before."""
    drawdown_kind, selloff_kind = AlertKind.DRAWDOWN, AlertKind.SELLOFF
    drawdowns: dict[str, list[Alert]] = {}  # ticker -> its watch drawdowns, in order, each object once
    for alert in [a for a in alerts if a.kind is drawdown_kind and a.mention is None]:
        if not any(d is alert for d in drawdowns.get(alert.ticker, ())):
            drawdowns.setdefault(alert.ticker, []).append(alert)
    if not drawdowns:
        return list(alerts)
    merged: dict[int, Alert] = {}  # id(sell-off) -> the sell-off merged with its drawdown
    taken: set[int] = set()  # id(drawdown) of the drawdowns merged into a sell-off
    for selloff in [a for a in alerts if a.kind is selloff_kind and a.mention is None]:
        waiting = drawdowns.get(selloff.ticker)
        if not waiting:
            continue
        drawdown = waiting.pop(0)
        taken.add(id(drawdown))
        if id(selloff) not in merged:  # (the same sell-off object twice: its first drawdown is the one told)
            merged[id(selloff)] = replace(selloff, peak=drawdown.peak, drawdown_pct=drawdown.drawdown_pct, silent=selloff.silent and drawdown.silent,
                                          extra={**selloff.extra, "drawdown_threshold_pct": drawdown.threshold_pct})
    return [merged.get(id(a), a) for a in alerts if id(a) not in taken]


def group_by_chat(envelopes: Iterable[Envelope]) -> list[Envelope]:
    """One message per chat: each chat's alerts of one check in one GROUP alert (a chat with a
    single alert gets it as it is). The group's dedupe key is made from its members' keys."""
    by_chat: dict[tuple[str, str | None], list[Envelope]] = {}
    chat: ChatRef | None = None
    fallback: ChatRef | None = None
    same: list[Envelope] = []
    for envelope in envelopes:
        if envelope.chat is not chat or envelope.fallback is not fallback:  # a busy check's envelopes come in runs of one chat object
            chat, fallback = envelope.chat, envelope.fallback
            same = by_chat.setdefault((chat.key, fallback.key if fallback else None), [])
        same.append(envelope)
    return [_one_message(chat_envelopes) for chat_envelopes in by_chat.values()]


def _one_message(envelopes: list[Envelope]) -> Envelope:
    """One chat's envelopes of a check as one (see `group_by_chat`)."""
    first = envelopes[0]
    alerts = sorted(merge_watch_alerts(covered_by_baskets([e.alert for e in envelopes])), key=telling_order)
    if len(alerts) == 1:
        kept = next((e for e in envelopes if e.alert is alerts[0]), None)
        return kept or Envelope(first.chat, alerts[0], first.dedupe_key, fallback=first.fallback)  # a merged sell-off and drawdown: the first one's key
    digest = hashlib.sha1("|".join(sorted([e.dedupe_key for e in envelopes])).encode(), usedforsecurity=False).hexdigest()[:20]
    group = Alert(kind=AlertKind.GROUP, ticker=alerts[0].ticker, at=max([a.at for a in alerts]), items=alerts, silent=all(a.silent for a in alerts))
    return Envelope(first.chat, group, dedupe_key(f"group:{digest}", first.chat), fallback=first.fallback)


@dataclass(slots=True)
class _Way:
    """What becomes of the envelopes addressed to one chat, in one routing call."""

    reachable: bool
    settings: ChatSettings | None  # the chat's, if it is reachable and there is a settings store
    as_they_are: bool  # reachable, and settings that change no alert but a group: its envelopes go unchanged


_NOWHERE = _Way(reachable=False, settings=None, as_they_are=False)


@dataclass
class _Lookups:
    """Storage answers reused within one routing call."""

    watchers: dict[str, list[ChatRef]] = field(default_factory=dict)
    direct_chat: dict[str, ChatRef | None] = field(default_factory=dict)  # member key -> the direct chat, if the member wants direct messages
    settings: dict[str, ChatSettings | None] = field(default_factory=dict)  # chat key -> its settings (`_settings_once`)


class Routing:
    def __init__(
        self,
        *,
        watches: WatchStore,
        prefs: MemberPrefStore,
        chats: ChatDirectory,
        chat_settings: ChatSettingsStore | None = None,
        defaults: Settings | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        self._watches = watches
        self._prefs = prefs
        self._chats = chats
        self._settings = chat_settings
        self._defaults = defaults or Settings()
        self._zone = zone

    async def settings_of(self, chat: ChatRef) -> ChatSettings:
        """A chat's own settings (the defaults without a settings store)."""
        return await self._settings.get(chat) if self._settings is not None else ChatSettings()

    def watch_threshold(self, settings: ChatSettings, kind: RuleKind) -> float:
        """The sell-off (move) or drawdown percentage a chat's watches use."""
        default = self._defaults.selloff_pct if kind is RuleKind.MOVE else self._defaults.drawdown_pct
        return settings.watch_pct(kind.value, default)

    async def for_firings(self, firings: Iterable[Firing]) -> list[Envelope]:
        """The deliveries a check's firings owe. A busy check has tens of thousands of firings for a
        few members and chats: what is asked of storage is asked once per member or ticker, and a
        member's firing is addressed without further calls."""
        lookups = _Lookups()
        envelopes: list[Envelope] = []
        moments: dict[int, tuple[datetime, str]] = {}  # a busy check's thousands of firings share a few moment objects (by identity, each held: equal moments in two zones are written apart)
        member = RuleSource.MEMBER
        owner: UserRef | None = None
        direct: ChatRef | None = None  # the owner's direct chat, if the owner wants direct messages
        at: datetime | None = None
        moment = ""
        for firing in firings:
            rule, alert = firing.rule, firing.alert
            if alert.at is not at:  # a busy check's firings come in runs of one moment object
                at = alert.at
                moment = (moments.get(id(at)) or moments.setdefault(id(at), (at, at.isoformat())))[1]
            about = subject(alert.kind, str(rule.id), moment)  # = firing_subject(firing), each moment written once
            if rule.source is member:
                if rule.owner is not owner:  # a busy check's firings come in runs of one member's (one object for each member read)
                    owner = rule.owner
                    direct = await self._direct_chat(owner, lookups) if owner is not None else None
                chat = direct or rule.chat
                if chat is None:
                    continue
                envelopes.append(Envelope(chat, alert, dedupe_key(about, chat), rule.chat if direct else None))
                continue
            envelopes.extend(Envelope(chat, alert, dedupe_key(about, chat)) for chat in await self._destinations(firing, lookups))
        return await self._reachable(envelopes, lookups.settings)

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
        """Drop what is addressed to unreachable chats, or send it to its fallback instead; then
        apply each chat's settings (a kind off is dropped, a silent one or one in quiet hours
        is marked silent). Asked once per chat: a reachable chat whose settings change nothing
        keeps its envelopes as they are, without a look at each."""
        return await self._reachable(envelopes, {})

    async def _reachable(self, envelopes: Iterable[Envelope], settings: dict[str, ChatSettings | None]) -> list[Envelope]:
        """`reachable`, with the chats' settings already asked in this call (chat key -> settings)."""
        envelopes = list(envelopes)  # held through the call: chats are told apart by identity below
        ways: dict[int, _Way] = {}  # id(chat) -> its way in this call
        out = []
        chat: ChatRef | None = None
        way = _NOWHERE
        group = AlertKind.GROUP
        for envelope in envelopes:
            if envelope.chat is not chat:  # a busy check's envelopes come in runs of one chat object
                chat = envelope.chat
                way = ways.get(id(chat)) or await self._way(chat, ways, settings)
            if way.as_they_are and envelope.alert.kind is not group:  # (a group is rebuilt from its items, whatever the settings)
                out.append(envelope)
                continue
            delivered = await self._deliver(envelope, way, settings)
            if delivered is not None:
                out.append(delivered)
        return out

    async def _way(self, chat: ChatRef, ways: dict[int, _Way], settings: dict[str, ChatSettings | None]) -> _Way:
        """Whether the chat is reachable and, if it is, its settings (see `reachable`)."""
        reachable = await self._chats.reachable(chat)
        own = await self._settings_once(chat, settings) if reachable else None
        way = ways[id(chat)] = _Way(reachable, own, reachable and (own is None or own.changes_nothing()))
        return way

    async def _deliver(self, envelope: Envelope, way: _Way, settings: dict[str, ChatSettings | None]) -> Envelope | None:
        """An envelope that its chat's way does not leave as it is: to its fallback, if its chat
        is unreachable (or nowhere), then as the chat it goes to wants it."""
        own = way.settings
        if not way.reachable:
            if envelope.fallback is None:
                log.info("routing: skipping %s alert for inactive chat %s", envelope.alert.kind, envelope.chat.key)
                return None
            envelope = Envelope(envelope.fallback, envelope.alert, envelope.dedupe_key)  # a direct chat that refused us: where the alert was set instead
            own = await self._settings_once(envelope.chat, settings)
        if own is None:
            return envelope
        alert = own.deliver(envelope.alert, self._zone)
        if alert is None:
            return None
        return envelope if alert is envelope.alert else replace(envelope, alert=alert)

    async def _settings_once(self, chat: ChatRef, settings: dict[str, ChatSettings | None]) -> ChatSettings | None:
        """The chat's settings (None without a settings store), asked once per chat key in a call."""
        if self._settings is None:
            return None
        if chat.key not in settings:
            settings[chat.key] = await self._settings.get(chat)
        return settings[chat.key]

    async def _direct_chat(self, owner: UserRef, lookups: _Lookups) -> ChatRef | None:
        """The member's direct chat, when the member asked for direct messages (/dm on); asked of storage once per member in a call."""
        key = owner.key
        if key not in lookups.direct_chat:
            lookups.direct_chat[key] = direct_chat(owner) if await self._prefs.wants_direct(owner) else None
        return lookups.direct_chat[key]

    async def _destinations(self, firing: Firing, lookups: _Lookups) -> list[ChatRef]:
        """Where a watch rule's or analyst level's firing goes (a member's is addressed by `for_firings`)."""
        rule = firing.rule
        if rule.ticker not in lookups.watchers:
            lookups.watchers[rule.ticker] = await self._watches.watchers(rule.ticker)
        watchers = lookups.watchers[rule.ticker]
        if rule.source is not RuleSource.WATCH or self._settings is None:
            return watchers
        # a watch rule per percentage: each chat hears the one at its own (or the global) percentage
        wanted = []
        for chat in watchers:
            own = await self._settings_once(chat, lookups.settings)
            assert own is not None  # (a settings store: see above)
            if math.isclose(self.watch_threshold(own, rule.kind), rule.threshold):
                wanted.append(chat)
        return wanted
