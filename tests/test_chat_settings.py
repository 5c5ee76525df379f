"""/settings: each kind on, silent or off; quiet hours; a chat's own watch percentages."""

from __future__ import annotations

from datetime import date, time

from bot.adapters.telegram.render import render_alert
from bot.core.chat_settings import ChatSettings, Mode
from bot.core.messages import Alert, AlertKind
from bot.core.models import ChatKind, ChatRef, RuleSource
from tests.conftest import ALICE, CHAT, DEMO_DATA, DESCRIBER, NEW_YORK, ny

FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)
OTHER = ChatRef("console", "chat-2", ChatKind.GROUP)


async def _two_chats(make_harness, *lines: str):
    bot = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    for chat in (CHAT, OTHER):
        for ticker in ("NVDA", "CRDO", "TSM"):
            await bot.say(f"/watch {ticker}", chat=chat)
    for line in lines:
        await bot.say(line, chat=CHAT)
    await bot.at(ny(FRIDAY, 17, 30))
    return bot


def _heard(alerts, chat: ChatRef) -> list[tuple[str, str, bool]]:
    return sorted((a.ticker, a.kind.value, a.silent) for c, a in alerts if c == chat)


async def test_a_kind_off_is_not_delivered_and_a_silent_one_comes_without_a_sound(make_harness) -> None:
    bot = await _two_chats(make_harness, "/settings selloffs off", "/settings members silent", "/alert CRDO move 10")
    shown = await bot.say("/settings", chat=CHAT)
    assert "selloffs off" in shown and "members silent" in shown and "levels on" in shown
    opened = await bot.at(ny(MONDAY, 9, 31))
    # no sell-offs here (CRDO's drawdown, another kind, still comes); the member's alert is silent
    assert _heard(opened, CHAT) == [("CRDO", "daily_move", True), ("CRDO", "drawdown", False)]
    assert _heard(opened, OTHER) == [("CRDO", "selloff", False), ("NVDA", "selloff", False), ("TSM", "selloff", False)]


async def test_alerts_in_quiet_hours_come_silently(make_harness) -> None:
    bot = await _two_chats(make_harness, "/settings quiet 09:00-10:00")
    assert "Quiet hours: 09:00–10:00" in await bot.say("/settings", chat=CHAT)
    opened = await bot.at(ny(MONDAY, 9, 31))
    assert {a.silent for c, a in opened if c == CHAT} == {True}
    assert {a.silent for c, a in opened if c == OTHER} == {False}
    closed = await bot.at(ny(MONDAY, 16, 5))  # after the quiet hours: with a sound
    assert closed and {a.silent for c, a in closed if c == CHAT} == {False}
    overnight = ChatSettings(quiet_from=time(22, 0), quiet_to=time(7, 0))
    assert overnight.is_quiet(ny(MONDAY, 23, 30), NEW_YORK) and overnight.is_quiet(ny(MONDAY, 6, 59), NEW_YORK)
    assert not overnight.is_quiet(ny(MONDAY, 7, 0), NEW_YORK)


async def test_a_chat_sets_its_own_watch_percentages(make_harness) -> None:
    bot = await _two_chats(make_harness, "/settings watch 15 25")
    assert "sell-offs of 15% in a day, drawdowns of 25% from the high (this chat's own)" in await bot.say("/settings", chat=CHAT)
    assert "falls 15% in a day, or falls 25% from its peak" in await bot.say("/watch NVDA", chat=CHAT)
    thresholds = sorted((r.kind.value, r.threshold) for r in bot.app.rules.rules_of("NVDA") if r.source is RuleSource.WATCH)
    assert thresholds == [("drawdown", 20.0), ("drawdown", 25.0), ("move", 5.0), ("move", 15.0)]
    opened = await bot.at(ny(MONDAY, 9, 31))  # NVDA -11.9 %, CRDO -21.7 %, TSM -9.1 %
    assert _heard(opened, CHAT) == [("CRDO", "selloff", False)]
    assert [t for t, _, _ in _heard(opened, OTHER)] == ["CRDO", "NVDA", "TSM"]
    closed = await bot.at(ny(MONDAY, 16, 5))  # NVDA -17 %: this chat's 15 % now
    assert ("NVDA", "selloff", False) in _heard(closed, CHAT)
    await bot.say("/settings watch default", chat=CHAT)
    thresholds = sorted((r.kind.value, r.threshold) for r in bot.app.rules.rules_of("NVDA") if r.source is RuleSource.WATCH)
    assert thresholds == [("drawdown", 20.0), ("move", 5.0)]  # no chat uses 15 % and 25 % any more


async def test_settings_survive_a_restart(make_harness, tmp_path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await make_harness(DEMO_DATA, ny(FRIDAY, 17), db=db)
    await first.say("/settings earnings silent")
    await first.say("/settings quiet 22:00-07:00")
    await first.app.close()
    second = await make_harness(DEMO_DATA, ny(FRIDAY, 18), db=db)
    stored = await second.app.storage.chat_settings.get(CHAT)
    assert stored.kinds == {"earnings": Mode.SILENT} and (stored.quiet_from, stored.quiet_to) == (time(22, 0), time(7, 0))
    assert await second.app.storage.chat_settings.get(OTHER) == ChatSettings()


def test_telegram_sends_a_silent_alert_with_disable_notification_and_a_group_is_silent_only_if_all_are() -> None:
    alert = Alert(kind=AlertKind.SELLOFF, ticker="NVDA", at=ny(MONDAY, 9, 31), price=125.63, change_pct=-11.9, threshold_pct=5.0, silent=True)
    assert all(m.silent for m in render_alert(alert, DESCRIBER, CHAT))
    settings = ChatSettings(kinds={"selloffs": Mode.SILENT})
    member = Alert(kind=AlertKind.DAILY_MOVE, ticker="CRDO", at=alert.at, change_pct=-21.7, mention=ALICE, rule_id=3)
    group = Alert(kind=AlertKind.GROUP, ticker="NVDA", at=alert.at, items=[alert, member])
    delivered = settings.deliver(group, NEW_YORK)
    assert delivered is not None and not delivered.silent and [a.silent for a in delivered.items] == [True, False]
    assert ChatSettings(kinds={"selloffs": Mode.OFF, "members": Mode.OFF}).deliver(group, NEW_YORK) is None
