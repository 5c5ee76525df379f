"""A busy check's per-firing work, made cheaper (issue 15): the same deliveries, keys, order and
held alerts as the plain code it replaced, which these tests keep as the reference."""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.core.chat_settings import ChatSettings, Mode
from bot.core.chats import ChatDirectory
from bot.core.clock import ReplayClock
from bot.core.cooldown import Cooldown
from bot.core.engine import CheckResult, Firing, collector_paused
from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatKind, ChatRef, Direction, LevelName, Rule, RuleKind, RuleSource, UserRef, direct_chat
from bot.core.routing import Routing
from storage.sqlite import SqliteStorage
from tests.test_routing_identity import NEW_YORK, reference_for_firings

NOW = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)
GROUP, OTHER, GONE = ChatRef("telegram", "-100", ChatKind.GROUP), ChatRef("telegram", "-200", ChatKind.GROUP), ChatRef("telegram", "-300", ChatKind.GROUP)
ANN, BOB, CID, DAN = UserRef("telegram", "1", "Ann"), UserRef("telegram", "2", "Bob"), UserRef("telegram", "3", ""), UserRef("discord", "4", "Dan")


def firings(rng: random.Random, count: int) -> list[Firing]:
    made = []
    moments = [NOW, NOW + timedelta(seconds=30), NOW.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))]
    for n in range(1, count + 1):
        ticker = rng.choice(["NVDA", "AMD", "TSM"])
        source = rng.choice([RuleSource.MEMBER] * 4 + [RuleSource.WATCH, RuleSource.ANALYST])
        if source is RuleSource.MEMBER:
            owner = rng.choice([ANN, BOB, CID, DAN, None])
            rule = Rule(n, ticker, rng.choice([RuleKind.ABOVE, RuleKind.MOVE]), 100.0, source, owner=owner, chat=rng.choice([GROUP, OTHER, GONE, None]))
            kind = rng.choice([AlertKind.PRICE_ABOVE, AlertKind.DAILY_MOVE])
        elif source is RuleSource.WATCH:
            rule = Rule(n, ticker, RuleKind.MOVE, rng.choice([5.0, 3.0, 4.0]), source, direction=Direction.DOWN)
            kind = AlertKind.SELLOFF
        else:
            rule = Rule(n, ticker, RuleKind.CROSS, 90.0, source, level_name=LevelName.STOP)
            kind = AlertKind.ANALYST_LEVEL
        mention = rule.owner if source is RuleSource.MEMBER else None
        made.append(Firing(rule, Alert(kind, ticker, rng.choice(moments), 99.0, -rng.uniform(0, 9), rule_id=n, mention=mention)))
    return made


@pytest.fixture
async def storage(tmp_path: Path) -> SqliteStorage:  # type: ignore[misc]
    opened = await SqliteStorage.open(tmp_path / "t.sqlite3")
    yield opened
    await opened.close()


async def test_routing_a_busy_check_gives_what_one_call_per_firing_gave(storage: SqliteStorage) -> None:
    clock = ReplayClock(NOW)
    chats = ChatDirectory(storage.chats, clock)
    await storage.prefs.set_direct(ANN, True, now=NOW)
    await storage.prefs.set_direct(DAN, True, now=NOW)
    await storage.chats.set_active(GONE, False, now=NOW, reason="kicked")
    await storage.chats.set_active(direct_chat(DAN), False, now=NOW, reason="blocked")  # Dan's alerts go where they were set
    for chat, ticker in [(GROUP, "NVDA"), (GROUP, "AMD"), (OTHER, "NVDA"), (GONE, "TSM"), (OTHER, "TSM")]:
        await storage.watches.add(chat, ticker, now=NOW)
    await storage.chat_settings.put(GROUP, ChatSettings(kinds={"members": Mode.SILENT}, selloff_pct=3.0), now=NOW)
    await storage.chat_settings.put(OTHER, ChatSettings(kinds={"levels": Mode.OFF}, quiet_from=time(9, 0), quiet_to=time(11, 0)), now=NOW)
    for with_settings in (True, False):
        routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats, chat_settings=storage.chat_settings if with_settings else None, zone=NEW_YORK)
        made = firings(random.Random(15), 600)
        got = await routing.for_firings(made)
        assert got == await reference_for_firings(routing, storage, chats, made, with_settings=with_settings)
        assert len(got) > 300 and any(e.fallback for e in got) and any(e.alert.silent for e in got) == with_settings


def test_the_cooldown_holds_what_it_held_however_seldom_it_forgets() -> None:
    """Its map of last alerts is pruned once it has doubled, not at every check: what it holds is the same."""
    rng = random.Random(15)
    cooldown, last = Cooldown(minutes=30), {}
    at = NOW
    for _ in range(60):
        at += timedelta(minutes=rng.choice([1, 5, 20]))
        fired = [Firing(Rule(rule_id, "NVDA", RuleKind.ABOVE, 1.0, RuleSource.MEMBER), Alert(AlertKind.PRICE_ABOVE, "NVDA", at))
                 for rule_id in rng.sample(range(20_000), 3_000)]
        held = {f.rule.id for f in fired if f.rule.id in last and at - last[f.rule.id] < timedelta(minutes=30)}
        result = CheckResult("NVDA", list(fired), {}, None)  # type: ignore[arg-type]
        cooldown.admit_all([result], at)
        assert {f.rule.id for f in fired} - {f.rule.id for f in result.firings} == held
        cooldown.stamp([f.rule.id for f in result.firings], at)
        last.update({f.rule.id: at for f in result.firings})


async def test_a_check_pauses_the_collector_and_gives_it_back_even_when_it_fails() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested (the engine pauses it too): the outer one gives it back
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("storage away")
    assert gc.isenabled()
