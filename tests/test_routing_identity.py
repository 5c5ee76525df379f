"""Routing and grouping per chat rather than per envelope (issue 15r): the same envelopes (chat,
alert object, dedupe key, fallback) in the same order, and the same groups and group keys, as
the plain code they replaced, which these tests keep as the reference; and a small check's
deliveries pinned as literal values."""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.chat_settings import ChatSettings, Mode
from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.engine import Firing
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, UserRef, direct_chat
from bot.core.routing import (
    LEVELS,
    MARKET,
    MEMBERS,
    NEWS,
    Routing,
    dedupe_key,
    firing_subject,
    group_by_chat,
    merge_watch_alerts,
    section_of,
    subject,
    telling_order,
)
from bot.core.settings import Settings
from storage.sqlite import SqliteStorage

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)  # 10:00 in New York: in OTHER's quiet hours
LATER = NOW + timedelta(hours=2)  # 12:00 in New York: after them
GROUP, OTHER, GONE = ChatRef("telegram", "-100", ChatKind.GROUP), ChatRef("telegram", "-200", ChatKind.GROUP), ChatRef("telegram", "-300", ChatKind.GROUP)
PLAIN, NEUTRAL = ChatRef("discord", "500", ChatKind.GROUP), ChatRef("discord", "600", ChatKind.GROUP)
ANN, BOB, CID, DAN = UserRef("telegram", "1", "Ann"), UserRef("telegram", "2", "Bob"), UserRef("telegram", "3", ""), UserRef("discord", "4", "Dan")
TICKERS = ["NVDA", "AMD", "TSM", "AVGO"]
DEFAULTS = Settings()
log = logging.getLogger(__name__)


# --- the reference: the routing step as it was before it went per chat ---------------------------------------------


async def reference_reachable(storage: SqliteStorage, chats: ChatDirectory, envelopes: list[Envelope], *, with_settings: bool) -> list[Envelope]:
    """`Routing.reachable` as it was: each envelope asks its chat (remembered per chat), then each
    kept envelope is delivered as its chat's settings say."""
    kept = []
    for envelope in envelopes:
        if await chats.reachable(envelope.chat):
            kept.append(envelope)
        elif envelope.fallback is not None:
            kept.append(Envelope(envelope.fallback, envelope.alert, envelope.dedupe_key))
    if not with_settings:
        return kept
    out = []
    for envelope in kept:
        alert = (await storage.chat_settings.get(envelope.chat)).deliver(envelope.alert, NEW_YORK)
        if alert is not None:
            out.append(envelope if alert is envelope.alert else replace(envelope, alert=alert))
    return out


async def reference_for_firings(routing: Routing, storage: SqliteStorage, chats: ChatDirectory, firings: list[Firing], *, with_settings: bool) -> list[Envelope]:
    """`Routing.for_firings` as it was first written: each firing asks its way, one call at a time."""
    envelopes = []
    for firing in firings:
        rule, alert = firing.rule, firing.alert
        about = firing_subject(firing)
        if rule.source is RuleSource.MEMBER and rule.owner is not None and await storage.prefs.wants_direct(rule.owner):
            direct = direct_chat(rule.owner)
            envelopes.append(Envelope(direct, alert, dedupe_key(about, direct), fallback=rule.chat))
            continue
        if rule.source is RuleSource.MEMBER:
            targets = [rule.chat] if rule.chat else []
        else:
            targets = await storage.watches.watchers(rule.ticker)
            if rule.source is RuleSource.WATCH and with_settings:
                targets = [c for c in targets if math.isclose(routing.watch_threshold(await storage.chat_settings.get(c), rule.kind), rule.threshold)]
        envelopes.extend(Envelope(chat, alert, dedupe_key(about, chat)) for chat in targets)
    return await reference_reachable(storage, chats, envelopes, with_settings=with_settings)


def reference_merge(alerts: list[Alert]) -> list[Alert]:
    """`merge_watch_alerts` as it was: each sell-off looks for a drawdown through the whole list."""
    out = list(alerts)
    for selloff in [a for a in alerts if a.kind is AlertKind.SELLOFF and a.mention is None]:
        drawdown = next((a for a in out if a.kind is AlertKind.DRAWDOWN and a.mention is None and a.ticker == selloff.ticker), None)
        if drawdown is None:
            continue
        merged = replace(selloff, peak=drawdown.peak, drawdown_pct=drawdown.drawdown_pct, silent=selloff.silent and drawdown.silent,
                         extra={**selloff.extra, "drawdown_threshold_pct": drawdown.threshold_pct})
        out = [merged if a is selloff else a for a in out if a is not drawdown]
    return out


def reference_covered(alerts: list[Alert]) -> list[Alert]:
    members = {str(m[0]) for a in alerts if a.kind in (AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN) for m in a.extra.get("members", [])}
    if not members:
        return alerts
    return [a for a in alerts if not (a.mention is None and a.kind in (AlertKind.SELLOFF, AlertKind.DRAWDOWN) and a.ticker in members)]


def reference_group_by_chat(envelopes: list[Envelope]) -> list[Envelope]:
    """`group_by_chat` as it was: every envelope keyed by its chat's and fallback's keys."""
    by_chat: dict[tuple[str, str | None], list[Envelope]] = {}
    for envelope in envelopes:
        by_chat.setdefault((envelope.chat.key, envelope.fallback.key if envelope.fallback else None), []).append(envelope)
    grouped = []
    for chat_envelopes in by_chat.values():
        first = chat_envelopes[0]
        alerts = sorted(reference_merge(reference_covered([e.alert for e in chat_envelopes])), key=telling_order)
        if len(alerts) == 1:
            kept = next((e for e in chat_envelopes if e.alert is alerts[0]), None)
            grouped.append(kept or Envelope(first.chat, alerts[0], first.dedupe_key, fallback=first.fallback))
            continue
        digest = hashlib.sha1("|".join(sorted(e.dedupe_key for e in chat_envelopes)).encode(), usedforsecurity=False).hexdigest()[:20]
        group = Alert(kind=AlertKind.GROUP, ticker=alerts[0].ticker, at=max(a.at for a in alerts), items=alerts, silent=all(a.silent for a in alerts))
        grouped.append(Envelope(first.chat, group, dedupe_key(f"group:{digest}", first.chat), fallback=first.fallback))
    return grouped


# --- a world with every case ------------------------------------------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path) -> SqliteStorage:  # type: ignore[misc]
    opened = await SqliteStorage.open(tmp_path / "t.sqlite3")
    await opened.prefs.set_direct(ANN, True, now=NOW)  # Ann's alerts go to her direct chat
    await opened.prefs.set_direct(DAN, True, now=NOW)
    await opened.chats.set_active(GONE, False, now=NOW, reason="kicked")
    await opened.chats.set_active(direct_chat(DAN), False, now=NOW, reason="blocked")  # Dan's go where they were set instead
    for chat, tickers in [(GROUP, ["NVDA", "AMD", "AVGO"]), (OTHER, ["NVDA", "TSM"]), (GONE, ["TSM"]), (PLAIN, TICKERS), (NEUTRAL, ["AMD", "AVGO"])]:
        for ticker in tickers:
            await opened.watches.add(chat, ticker, now=NOW)
    await opened.chat_settings.put(GROUP, ChatSettings(kinds={"members": Mode.SILENT, "drawdowns": Mode.OFF}, selloff_pct=3.0), now=NOW)
    await opened.chat_settings.put(OTHER, ChatSettings(kinds={"levels": Mode.OFF}, quiet_from=time(9, 0), quiet_to=time(11, 0)), now=NOW)
    await opened.chat_settings.put(NEUTRAL, ChatSettings(kinds={"members": Mode.ON}, selloff_pct=4.0, digest=True), now=NOW)  # changes no alert
    await opened.chat_settings.put(direct_chat(ANN), ChatSettings(quiet_from=time(22, 0), quiet_to=time(11, 0)), now=NOW)  # over midnight
    yield opened
    await opened.close()


def mixed_firings(rng: random.Random, count: int) -> list[Firing]:
    """Members' alerts (with and without /dm, without a chat, without an owner), watch sell-offs
    at three percentages and drawdowns, analyst levels; three moment objects, one in New York time."""
    moments = [NOW, LATER, NOW.astimezone(NEW_YORK)]
    made = []
    for n in range(1, count + 1):
        ticker = rng.choice(TICKERS)
        source = rng.choice([RuleSource.MEMBER] * 3 + [RuleSource.WATCH] * 2 + [RuleSource.ANALYST])
        at, change = rng.choice(moments), -round(rng.uniform(0, 9), 1)
        if source is RuleSource.MEMBER:
            owner = rng.choice([ANN, BOB, CID, DAN, None])
            rule = Rule(n, ticker, rng.choice([RuleKind.ABOVE, RuleKind.MOVE, RuleKind.DRAWDOWN]), 100.0, source, owner=owner,
                        chat=rng.choice([GROUP, OTHER, GONE, PLAIN, NEUTRAL, None]))
            kind = {RuleKind.ABOVE: AlertKind.PRICE_ABOVE, RuleKind.MOVE: AlertKind.DAILY_MOVE, RuleKind.DRAWDOWN: AlertKind.DRAWDOWN}[rule.kind]
            alert = Alert(kind, ticker, at, 99.0, change, rule_id=n, mention=owner, drawdown_pct=rng.choice([None, 12.0]))
        elif source is RuleSource.WATCH and rng.random() < 0.5:
            rule = Rule(n, ticker, RuleKind.MOVE, rng.choice([5.0, 3.0, 4.0]), source, direction=Direction.DOWN)
            alert = Alert(AlertKind.SELLOFF, ticker, at, 99.0, change, threshold_pct=rule.threshold, direction="down", rule_id=n)
        elif source is RuleSource.WATCH:
            rule = Rule(n, ticker, RuleKind.DRAWDOWN, DEFAULTS.drawdown_pct, source, direction=Direction.DOWN)
            alert = Alert(AlertKind.DRAWDOWN, ticker, at, 99.0, change, threshold_pct=rule.threshold, peak=120.0, drawdown_pct=-change + 10, rule_id=n)
        else:
            rule = Rule(n, ticker, RuleKind.CROSS, 90.0, source, level_name=LevelName.STOP)
            alert = Alert(AlertKind.ANALYST_LEVEL, ticker, at, 99.0, change, level=90.0, level_name="stop", direction="down", rule_id=n)
        made.append(Firing(rule, alert))
    return made


def notices() -> list[tuple[Alert, list[ChatRef], str]]:
    """What the jobs name chats for: a basket's sell-off that covers two watched tickers, a
    group alert (rebuilt by each chat's settings, or dropped when none of its items is wanted), an empty group."""
    basket = Alert(AlertKind.BASKET_SELLOFF, "ai-semis", LATER, change_pct=-8.0, extra={"members": [["NVDA", -11.9], ["AMD", -6.0]]})
    items = [Alert(AlertKind.ANALYST_LEVEL, "NVDA", NOW, 99.0, -3.0), Alert(AlertKind.EARNINGS_DAY, "AMD", NOW)]
    group = Alert(AlertKind.GROUP, "NVDA", NOW, items=items)
    empty = Alert(AlertKind.GROUP, "TSM", NOW)
    return [
        (basket, [GROUP, PLAIN, GONE, NEUTRAL], subject(AlertKind.BASKET_SELLOFF, "ai-semis", "2025-01-27")),
        (group, [PLAIN, OTHER, NEUTRAL, GONE], "group-notice"),
        (empty, [PLAIN, NEUTRAL], "empty-notice"),
    ]


def same_objects(got: list[Envelope], expected: list[Envelope], originals: set[int]) -> None:
    """Equal envelopes, and each alert the very object the reference has where that is a firing's own."""
    assert got == expected
    assert [id(e.alert) if id(e.alert) in originals else None for e in got] == [id(e.alert) if id(e.alert) in originals else None for e in expected]


@pytest.mark.parametrize("with_settings", [True, False])
@pytest.mark.parametrize("seed", [15, 16, 17])
async def test_routing_and_grouping_give_what_the_per_envelope_code_gave(storage: SqliteStorage, seed: int, with_settings: bool) -> None:
    chats = ChatDirectory(storage.chats, ReplayClock(NOW))
    routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats, chat_settings=storage.chat_settings if with_settings else None,
                      defaults=DEFAULTS, zone=NEW_YORK)
    made = mixed_firings(random.Random(seed), 500)
    told_to = notices()
    originals = {id(f.alert) for f in made} | {id(alert) for alert, _, _ in told_to}  # (all held through the test: no id is reused)
    got = await routing.for_firings(made)
    expected = await reference_for_firings(routing, storage, chats, made, with_settings=with_settings)
    same_objects(got, expected, originals)
    for alert, targets, about in told_to:
        told = await routing.to_chats(alert, targets, about)
        wanted = await reference_reachable(storage, chats, [Envelope(chat, alert, dedupe_key(about, chat)) for chat in targets], with_settings=with_settings)
        same_objects(told, wanted, originals)
        got, expected = got + told, expected + wanted
    messages = group_by_chat(got)
    wanted_messages = reference_group_by_chat(expected)
    assert messages == wanted_messages
    for message, wanted_message in zip(messages, wanted_messages, strict=True):
        assert [id(a) if id(a) in originals else None for a in message.alert.alerts] == [id(a) if id(a) in originals else None for a in wanted_message.alert.alerts]
    # every case came up
    keys = {e.chat.key for e in got}
    assert {GROUP.key, OTHER.key, PLAIN.key, NEUTRAL.key, direct_chat(ANN).key} <= keys and direct_chat(DAN).key not in keys
    assert {e.alert.mention for e in got if e.chat == GONE} == {DAN}  # only as a fallback (whether that is reachable is not asked)
    assert any(e.fallback == GROUP or e.fallback == PLAIN for e in got)  # Ann's, with where it was set
    assert any(e.alert.mention == DAN and e.chat in (GROUP, OTHER, PLAIN, NEUTRAL) for e in got)  # Dan's, at its fallback
    assert any(a.extra.get("drawdown_threshold_pct") for m in messages for a in m.alert.alerts)  # a sell-off and drawdown merged
    assert not any(a.kind is AlertKind.SELLOFF and a.ticker == "NVDA" for m in messages if m.chat == PLAIN for a in m.alert.alerts)  # covered by the basket
    assert any(e.alert.silent for e in got) == with_settings
    assert any(e.alert.kind is AlertKind.GROUP and len(e.alert.items) == 1 for e in got) == with_settings  # OTHER has levels off


def test_merging_takes_each_drawdown_once_in_order_even_with_an_alert_twice() -> None:
    def watch(kind: AlertKind, ticker: str, n: int, *, silent: bool = False) -> Alert:
        return Alert(kind, ticker, NOW, 99.0, -n, threshold_pct=5.0, peak=100.0 + n, drawdown_pct=float(n), rule_id=n, silent=silent)

    s1, s2, s3 = watch(AlertKind.SELLOFF, "NVDA", 1), watch(AlertKind.SELLOFF, "NVDA", 2, silent=True), watch(AlertKind.SELLOFF, "AMD", 3)
    d1, d2, d3 = watch(AlertKind.DRAWDOWN, "NVDA", 4, silent=True), watch(AlertKind.DRAWDOWN, "NVDA", 5, silent=True), watch(AlertKind.DRAWDOWN, "TSM", 6)
    mine = replace(d1, mention=ANN)  # a member's own drawdown is never merged
    for alerts in ([s1, d1, s2, d2, s3, d3, mine], [d2, d1, s1], [s1, s1, d1, d2], [s1, d1, d1, s2, d2], [s2, s1, d2], [s3, d3], [mine, s1], []):
        merged = merge_watch_alerts(alerts)
        assert merged == reference_merge(alerts)
        assert [id(a) if a in alerts and any(a is b for b in alerts) else None for a in merged] == [
            id(a) if any(a is b for b in alerts) else None for a in reference_merge(alerts)
        ]
    [first, second, *_] = merge_watch_alerts([s1, d1, s2, d2, s3])
    assert (first.drawdown_pct, first.silent, second.drawdown_pct, second.silent) == (4.0, False, 5.0, True)


def test_a_group_of_one_merged_alert_keeps_the_first_ones_key() -> None:
    selloff = Alert(AlertKind.SELLOFF, "NVDA", NOW, 99.0, -6.0, threshold_pct=5.0)
    drawdown = Alert(AlertKind.DRAWDOWN, "NVDA", NOW, 99.0, -6.0, threshold_pct=20.0, peak=130.0, drawdown_pct=24.0)
    envelopes = [Envelope(GROUP, drawdown, "k-drawdown"), Envelope(GROUP, selloff, "k-selloff")]
    assert group_by_chat(envelopes) == reference_group_by_chat(envelopes)
    [message] = group_by_chat(envelopes)
    assert message.dedupe_key == "k-drawdown" and message.alert.drawdown_pct == 24.0 and message.alert.kind is AlertKind.SELLOFF


def test_the_parts_of_a_message_for_every_kind() -> None:
    """`section_of` and the order's first parts, as fixed values for every kind, a member's and not."""
    market = {AlertKind.SELLOFF, AlertKind.DRAWDOWN, AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN}
    for kind in AlertKind:
        alert = Alert(kind, "NVDA", NOW, change_pct=-4.0, drawdown_pct=9.0)
        expected = LEVELS if kind is AlertKind.ANALYST_LEVEL else MARKET if kind in market else NEWS
        assert section_of(alert) == expected and section_of(replace(alert, mention=ANN)) == MEMBERS
        basket = 0 if kind in (AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN) else 1
        severity = 9.0 if kind in (AlertKind.DRAWDOWN, AlertKind.BASKET_DRAWDOWN) else 4.0
        assert telling_order(alert) == ({LEVELS: 0, MARKET: 1, NEWS: 3}[expected], basket, -severity, "NVDA")
        assert telling_order(replace(alert, mention=ANN)) == (2, basket, -severity, "NVDA")


def test_settings_that_change_nothing_deliver_every_alert_as_it_is() -> None:
    nothing = [ChatSettings(), ChatSettings(kinds={"members": Mode.ON, "levels": Mode.ON}), ChatSettings(selloff_pct=2.0, digest=True),
               ChatSettings(quiet_from=time(22, 0))]  # half a quiet period is none
    something = [ChatSettings(kinds={"members": Mode.SILENT}), ChatSettings(kinds={"splits": Mode.OFF}),
                 ChatSettings(quiet_from=time(9, 0), quiet_to=time(9, 1))]
    moments = [NOW + timedelta(minutes=m) for m in range(0, 24 * 60, 7)]
    alerts = [Alert(kind, "NVDA", at, mention=who) for kind in AlertKind if kind is not AlertKind.GROUP for at in moments[:3] for who in (None, ANN)]
    for settings in nothing:
        assert settings.changes_nothing()
        assert all(settings.deliver(a, NEW_YORK) is a for a in [*alerts, *(replace(a, at=at) for a in alerts[:2] for at in moments)])
    for settings in something:
        assert not settings.changes_nothing()
        assert any(settings.deliver(replace(a, at=at), NEW_YORK) is not a for a in alerts for at in moments[:200:20])


def test_a_chat_key_is_written_once_and_is_no_part_of_equality() -> None:
    chat = ChatRef("telegram", "-100", ChatKind.GROUP)
    assert chat.key == "telegram:-100" and replace(chat, chat_id="-7").key == "telegram:-7"
    assert chat == ChatRef("telegram", "-100", ChatKind.GROUP) and hash(chat) == hash(ChatRef("telegram", "-100", ChatKind.GROUP))
    assert chat != ChatRef("telegram", "-100", ChatKind.PRIVATE)
    assert repr(chat) == "ChatRef(platform='telegram', chat_id='-100', kind=<ChatKind.GROUP: 'group'>)"


# --- a small check, pinned: what the code before gave, as literal values -------------------------------------------------


async def test_a_small_checks_deliveries_and_messages_are_what_they_were(storage: SqliteStorage) -> None:
    chats = ChatDirectory(storage.chats, ReplayClock(NOW))
    routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats, chat_settings=storage.chat_settings, defaults=DEFAULTS, zone=NEW_YORK)
    firings = [
        Firing(Rule(1, "NVDA", RuleKind.ABOVE, 100.0, RuleSource.MEMBER, owner=ANN, chat=GROUP), Alert(AlertKind.PRICE_ABOVE, "NVDA", NOW, 101.0, 2.0, rule_id=1, mention=ANN)),
        Firing(Rule(2, "NVDA", RuleKind.MOVE, 3.0, RuleSource.MEMBER, owner=DAN, chat=PLAIN), Alert(AlertKind.DAILY_MOVE, "NVDA", NOW, 101.0, -7.5, rule_id=2, mention=DAN)),
        Firing(Rule(3, "AMD", RuleKind.MOVE, 3.0, RuleSource.MEMBER, owner=BOB, chat=GROUP), Alert(AlertKind.DAILY_MOVE, "AMD", LATER, 90.0, -4.0, rule_id=3, mention=BOB)),
        Firing(Rule(4, "NVDA", RuleKind.MOVE, 5.0, RuleSource.WATCH), Alert(AlertKind.SELLOFF, "NVDA", NOW, 90.0, -7.5, threshold_pct=5.0, rule_id=4)),
        Firing(Rule(5, "NVDA", RuleKind.DRAWDOWN, DEFAULTS.drawdown_pct, RuleSource.WATCH),
               Alert(AlertKind.DRAWDOWN, "NVDA", NOW, 90.0, -7.5, threshold_pct=DEFAULTS.drawdown_pct, peak=130.0, drawdown_pct=30.8, rule_id=5)),
        Firing(Rule(6, "TSM", RuleKind.CROSS, 90.0, RuleSource.ANALYST, level_name=LevelName.STOP),
               Alert(AlertKind.ANALYST_LEVEL, "TSM", NOW, 89.0, -2.0, level=90.0, level_name="stop", rule_id=6)),
        Firing(Rule(7, "TSM", RuleKind.MOVE, 4.0, RuleSource.MEMBER, owner=CID, chat=GONE), Alert(AlertKind.DAILY_MOVE, "TSM", NOW, 89.0, -2.0, rule_id=7, mention=CID)),
    ]
    envelopes = await routing.for_firings(firings)
    assert [(e.chat.key, e.alert.rule_id, e.alert.silent, e.dedupe_key, e.fallback.key if e.fallback else None) for e in envelopes] == [
        ("telegram:user:1", 1, True, "price_above:1:2025-01-27T15:00:00+00:00:telegram:user:1", "telegram:-100"),  # Ann's quiet hours
        ("discord:500", 2, False, "daily_move:2:2025-01-27T15:00:00+00:00:discord:user:4", None),  # Dan's direct chat refused: where it was set
        ("telegram:-100", 3, True, "daily_move:3:2025-01-27T17:00:00+00:00:telegram:-100", None),  # members silent
        ("discord:500", 4, False, "selloff:4:2025-01-27T15:00:00+00:00:discord:500", None),
        ("telegram:-200", 4, True, "selloff:4:2025-01-27T15:00:00+00:00:telegram:-200", None),  # quiet hours
        ("discord:500", 5, False, "drawdown:5:2025-01-27T15:00:00+00:00:discord:500", None),
        ("telegram:-200", 5, True, "drawdown:5:2025-01-27T15:00:00+00:00:telegram:-200", None),
        ("discord:500", 6, False, "analyst_level:6:2025-01-27T15:00:00+00:00:discord:500", None),  # levels off in -200; -300 is gone, and Cid's with it
    ]
    assert envelopes[1].alert is firings[1].alert and envelopes[3].alert is firings[3].alert
    messages = group_by_chat(envelopes)
    assert [(m.chat.key, m.dedupe_key, [(a.kind.value, a.ticker, a.rule_id) for a in m.alert.alerts], m.alert.silent) for m in messages] == [
        ("telegram:user:1", "price_above:1:2025-01-27T15:00:00+00:00:telegram:user:1", [("price_above", "NVDA", 1)], True),
        ("discord:500", "group:67ef0ccde6d522209909:discord:500", [("analyst_level", "TSM", 6), ("selloff", "NVDA", 4), ("daily_move", "NVDA", 2)], False),
        ("telegram:-100", "daily_move:3:2025-01-27T17:00:00+00:00:telegram:-100", [("daily_move", "AMD", 3)], True),
        ("telegram:-200", "selloff:4:2025-01-27T15:00:00+00:00:telegram:-200", [("selloff", "NVDA", 4)], True),
    ]
    assert messages[0].fallback == GROUP and messages[1].alert.items[1].drawdown_pct == 30.8
