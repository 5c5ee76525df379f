"""One message per chat per check: grouped by part, most severe first, split only at the
platforms' limits, each alert with its actions; a basket covers its members' watch alerts."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from bot.adapters.discord.render import EMBED_TOTAL_LIMIT, render_alert_messages
from bot.adapters.telegram.render import MESSAGE_LIMIT, render_alert, telegram_length
from bot.config import Config
from bot.core.messages import Alert, AlertKind, Envelope
from bot.core.models import ChatKind, ChatRef, UserRef
from bot.core.routing import dedupe_key, group_by_chat
from bot.replay import run_replay
from tests.conftest import ALICE, ANALYST, CHAT, DEMO_DATA, DESCRIBER, NEW_YORK, ny, real_data

FIVE = ["NVDA", "AVGO", "CRDO", "ANET", "TSM"]
DONE_WHEN_SCRIPT = [
    *(f"/watch {t}" for t in [*FIVE, "^SOX"]),
    "/setbasket ai-semis NVDA AVGO TSM ANET CRDO",
    "/watchbasket ai-semis",
    "/setlevel NVDA entry 125 buy the dip",
    "/alert CRDO move 10",
    "/alert NVDA below 120",
    "/alert TSM drawdown 15",
    "/alert ANET move 12 down",
]
AT = datetime(2025, 1, 27, 9, 31, tzinfo=NEW_YORK)


async def replay(script: list[str]) -> list[dict[str, object]]:
    out = io.StringIO()
    await run_replay(Config(), data_dir=real_data(), start=date(2025, 1, 21), end=date(2025, 1, 31), script=script, jsonl=True, out=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_the_deepseek_day_is_at_most_three_messages_that_carry_every_alert() -> None:
    grouped = [r for r in await replay(DONE_WHEN_SCRIPT) if str(r["at"]).startswith("2025-01-27")]
    messages = {r["message"] for r in grouped}
    assert 1 <= len(messages) <= 3
    assert {r["chat"] for r in grouped} == {"console:console"}
    told = {str(r["ticker"]) for r in grouped} | {str(m[0]) for r in grouped for m in r.get("members", [])}  # type: ignore[union-attr]
    assert set(FIVE) <= told
    # every alert that fires that day without the basket is in a message, or covered by the basket's
    alone = [r for r in await replay([line for line in DONE_WHEN_SCRIPT if "basket" not in line]) if str(r["at"]).startswith("2025-01-27")]
    kept = {(r["ticker"], r["kind"], r.get("user")) for r in grouped}
    covered = {str(m[0]) for r in grouped if str(r["kind"]).startswith("basket_") for m in r["members"]}  # type: ignore[union-attr]
    for record in alone:
        key = (record["ticker"], record["kind"], record.get("user"))
        assert key in kept or (record["kind"] in ("selloff", "drawdown") and record["ticker"] in covered and "user" not in record), key
    assert len(alone) > len(messages)  # what used to be one message each
    # the same check's alerts share a message, most severe first within each part
    for message in messages:
        same = [r for r in grouped if r["message"] == message]
        assert len({str(r["at"])[:13] for r in same}) == 1


def _alert(kind: AlertKind, ticker: str, change: float, **more: object) -> Alert:
    return Alert(kind=kind, ticker=ticker, at=AT, price=100.0, change_pct=change, prev_close=110.0, **more)  # type: ignore[arg-type]


def _envelopes(alerts: list[Alert], chat: ChatRef = CHAT) -> list[Envelope]:
    return [Envelope(chat, a, dedupe_key(f"{a.kind}:{a.ticker}:{n}", chat)) for n, a in enumerate(alerts)]


def test_a_checks_alerts_for_a_chat_become_one_message_in_parts_most_severe_first() -> None:
    other = ChatRef("console", "chat-2", ChatKind.GROUP)
    alerts = [
        _alert(AlertKind.PRICE_BELOW, "NVDA", -17.0, level=120.0, rule_id=9, mention=ALICE),
        _alert(AlertKind.SELLOFF, "TSM", -9.1, threshold_pct=5.0),
        _alert(AlertKind.ANALYST_LEVEL, "AVGO", -3.0, level=205.0, level_name="entry", direction="down"),
        _alert(AlertKind.SELLOFF, "CRDO", -21.7, threshold_pct=5.0),
        _alert(AlertKind.ANALYST_LEVEL, "NVDA", -11.9, level=125.0, level_name="entry", direction="down"),
    ]
    envelopes = _envelopes(alerts)
    [message, single] = group_by_chat([*envelopes, *_envelopes([alerts[1]], other)])
    assert message.alert.kind is AlertKind.GROUP and message.chat == CHAT
    assert [(a.kind.value, a.ticker) for a in message.alert.items] == [
        ("analyst_level", "NVDA"), ("analyst_level", "AVGO"),  # the analyst's levels, the largest move first
        ("selloff", "CRDO"), ("selloff", "TSM"),  # sell-offs and drawdowns
        ("price_below", "NVDA"),  # members' alerts
    ]
    assert single.alert is alerts[1] and single.chat == other  # one alert: sent as it is
    again = group_by_chat(list(reversed(envelopes)))
    assert again[0].dedupe_key == message.dedupe_key  # the same alerts, the same key: queued once
    assert Alert.from_json(message.alert.to_json()) == message.alert  # the outbox keeps the whole group


def test_a_basket_covers_its_members_watch_alerts_but_not_members_own() -> None:
    basket = _alert(AlertKind.BASKET_SELLOFF, "ai-semis", -14.0, extra={"members": [["NVDA", -11.9], ["CRDO", -21.7]]})
    alerts = [
        _alert(AlertKind.SELLOFF, "NVDA", -11.9), _alert(AlertKind.SELLOFF, "CRDO", -21.7), _alert(AlertKind.SELLOFF, "^SOX", -7.0),
        _alert(AlertKind.DAILY_MOVE, "CRDO", -21.7, rule_id=4, mention=ALICE), basket,
    ]
    [message] = group_by_chat(_envelopes(alerts))
    assert [(a.kind.value, a.ticker) for a in message.alert.items] == [
        ("basket_selloff", "ai-semis"), ("selloff", "^SOX"), ("daily_move", "CRDO"),
    ]


def _many(count: int) -> Alert:
    items = [
        _alert(AlertKind.DAILY_MOVE, f"T{n:03d}", -10.0 - n / 10, rule_id=100 + n, threshold_pct=5.0, direction="down",
               mention=UserRef("telegram", "42", "Alice"))
        for n in range(count)
    ]
    return Alert(kind=AlertKind.GROUP, ticker=items[0].ticker, at=AT, items=items)


def test_telegram_splits_a_long_group_only_at_its_limits_and_keeps_every_button() -> None:
    group = _many(60)
    chat = ChatRef("telegram", "-100", ChatKind.GROUP)
    messages = render_alert(group, DESCRIBER, chat)
    assert len(messages) >= 3  # 60 alerts: about 300 characters each, 25 at most a message (100 buttons)
    assert all(telegram_length(m.text) <= MESSAGE_LIMIT for m in messages)
    assert all(sum(len(row) for row in m.keyboard) <= 100 for m in messages)
    buttons = [b for m in messages for row in m.keyboard for b in row]
    assert {b.data for b in buttons} >= {f"a:snooze:{100 + n}:1" for n in range(60)} | {f"a:unalert:{100 + n}" for n in range(60)}
    assert "Snooze 1 day #159" in {b.label for b in buttons}
    assert "60 alerts · 2025-01-27 09:31 ET" in messages[0].text.splitlines()[0]
    assert "(continued)" in messages[1].text
    order = [int(t[1:]) for m in messages for t in m.text.replace("<b>", " ").split() if len(t) == 4 and t[0] == "T" and t[1:].isdigit()]
    assert order == list(range(60))  # in the group's order (the routing step put the most severe first), none lost


def test_discord_packs_a_group_into_messages_of_ten_embeds_and_6000_characters() -> None:
    group = _many(23)
    messages = render_alert_messages(group, DESCRIBER, commands=None)
    assert [len(m.embeds) for m in messages] == [10, 10, 3]
    for message in messages:
        assert sum(len(str(e.to_dict())) for e in message.embeds) < 3 * EMBED_TOTAL_LIMIT
        assert len(message.buttons) <= 25
        assert len({b.custom_id for b in message.buttons}) == len(message.buttons)
        assert message.content is not None and "23 alerts" in message.content
    first = messages[0]
    # ten alerts with three buttons each do not fit 25: the last ones list their commands instead
    with_commands = [e for e in first.embeds if any(f.name == "Commands" for f in e.fields)]
    assert with_commands and "/snooze" in with_commands[-1].fields[-1].value
    assert len(first.buttons) + 3 * len(with_commands) == 3 * 10  # primer, snooze and remove: each alert keeps all three


async def test_a_queued_group_survives_a_restart_and_is_sent_once(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    first = await make_harness(DEMO_DATA, ny(date(2025, 1, 24), 17), db=db)
    for line in ("/watch NVDA", "/watch CRDO", "/watch ANET", "/alert CRDO move 10"):
        await first.say(line)
    await first.at(ny(date(2025, 1, 24), 17, 30))
    first.clock.set(ny(date(2025, 1, 27), 9, 31))
    await first.app.price_check.run_once()  # found and queued, then the process stops before delivering
    await first.app.close()
    second = await make_harness(DEMO_DATA, ny(date(2025, 1, 27), 9, 32), db=db)
    await second.app.dispatcher.drain_once()
    await second.app.dispatcher.drain_once()
    assert len(second.out.messages) == 1
    assert sorted((a.ticker, a.kind.value) for _, a in second.out.alerts) == [
        ("ANET", "selloff"), ("CRDO", "daily_move"), ("CRDO", "selloff"), ("NVDA", "selloff"),
    ]


def test_grouping_keeps_a_members_direct_message_apart() -> None:
    direct = ChatRef("console", "user:alice")
    alerts = _envelopes([_alert(AlertKind.SELLOFF, "NVDA", -11.9)])
    mine = Envelope(direct, _alert(AlertKind.DAILY_MOVE, "CRDO", -21.7, mention=ALICE), "k:direct", fallback=CHAT)
    out = group_by_chat([*alerts, mine, replace(mine, dedupe_key="k:direct2")])
    assert [(e.chat.key, len(e.alert.alerts)) for e in out] == [(CHAT.key, 1), (direct.key, 2)]
    assert out[1].fallback == CHAT
    assert ANALYST
