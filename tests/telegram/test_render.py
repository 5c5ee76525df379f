"""Telegram renderings compared with golden files, plus the splitting and escaping rules.

Regenerate the golden files after an intended change with:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/telegram/test_render.py
and read the diff before committing it.
"""

from __future__ import annotations

import html
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.telegram.render import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    OutMessage,
    decode_action,
    done_line,
    encode_action,
    plain_fallback,
    render_alert,
    render_reply,
    telegram_length,
)
from bot.core.messages import Action, Alert, AlertKind, Field, Image, Reply, Tone, error_reply
from bot.core.models import ChatKind, ChatRef, UserRef
from tests.conftest import DESCRIBER

GOLDEN = Path(__file__).parent / "golden"
AT = datetime(2025, 1, 27, 21, 5, tzinfo=UTC)
GROUP = ChatRef("telegram", "-1001234567890", ChatKind.GROUP)
PRIVATE = ChatRef("telegram", "42", ChatKind.PRIVATE)
ALICE = UserRef("telegram", "42", "Alice <3 & Co")


def serialize(messages: list[OutMessage]) -> str:
    parts = []
    for message in messages:
        block = []
        if message.photo is not None:
            block.append(f"[photo {message.photo.filename}, {len(message.photo.data)} bytes; caption:]")
        block.append(message.text)
        for row in message.keyboard:
            block.append("[buttons] " + " | ".join(f"{b.label} -> {b.data}" for b in row))
        parts.append("\n".join(block))
    return "\n----- next message -----\n".join(parts) + "\n"


def check_golden(name: str, messages: list[OutMessage]) -> None:
    path = GOLDEN / f"{name}.html"
    text = serialize(messages)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"rendering of {name} changed; compare with {path}"
    for message in messages:
        assert_balanced(message.text)
        limit = CAPTION_LIMIT if message.photo is not None else MESSAGE_LIMIT
        assert telegram_length(message.text) <= limit


def assert_balanced(text: str) -> None:
    """Every tag closes on the line it opens, and nothing but our tags is markup."""
    for line in text.split("\n"):
        tags = re.findall(r"</?([a-z]+)[^>]*>", line)
        stack: list[str] = []
        for match in re.finditer(r"<(/?)([a-z]+)[^>]*>", line):
            closing, tag = match.group(1), match.group(2)
            assert tag in ("b", "i", "a"), f"unexpected tag <{tag}> in {line!r}"
            if closing:
                assert stack and stack[-1] == tag, f"unbalanced </{tag}> in {line!r}"
                stack.pop()
            else:
                stack.append(tag)
        assert not stack, f"unclosed {stack} in {line!r} ({tags})"


def alert(kind: AlertKind, **values: object) -> Alert:
    return Alert(kind=kind, ticker=str(values.pop("ticker", "NVDA")), at=AT, **values)  # type: ignore[arg-type]


# -- golden files ------------------------------------------------------------------------------------


def test_reply_with_fields() -> None:
    reply = Reply(
        title="NVDA $118.42, −16.97% (close of 2025-01-27)",
        lines=("DeepSeek day: <the> biggest one-day loss in market value & counting",),
        fields=(Field("Previous close", "$142.62"), Field("Day range", "$116.70 – $128.40")),
        tone=Tone.DOWN,
        footer="Price as of 2025-01-27 21:00 UTC",
    )
    check_golden("reply_fields", render_reply(reply))


def test_error_reply() -> None:
    check_golden("reply_error", render_reply(error_reply("Unknown ticker <XYZZ>: the market data has no price for it. Try /help.")))


def test_reply_with_actions_and_warning() -> None:
    reply = Reply(title="Earnings tomorrow", lines=("NVDA reports after the close.",), tone=Tone.WARNING,
                  actions=(Action("Primer", "primer", ("NVDA",)),))
    check_golden("reply_warning_actions", render_reply(reply))


def test_alert_price_above_in_a_group_mentions_the_member() -> None:
    a = alert(AlertKind.PRICE_ABOVE, ticker="AVGO", price=251.3, change_pct=2.1, level=250.0, rule_id=7, mention=ALICE,
              extra={"prev_close": 246.13})
    check_golden("alert_price_above_group", render_alert(a, DESCRIBER, GROUP))


def test_alert_price_below_in_private() -> None:
    a = alert(AlertKind.PRICE_BELOW, price=118.42, change_pct=-16.97, level=120.0, rule_id=12, mention=ALICE)
    check_golden("alert_price_below_private", render_alert(a, DESCRIBER, PRIVATE))


def test_alert_analyst_level() -> None:
    a = alert(AlertKind.ANALYST_LEVEL, ticker="AVGO", price=141.2, change_pct=3.4, level=140.0, level_name="exit", direction="up",
              rule_id=3, note="take profits <into> strength & run")
    check_golden("alert_analyst_level", render_alert(a, DESCRIBER, GROUP))


def test_alert_daily_move() -> None:
    a = alert(AlertKind.DAILY_MOVE, price=118.42, change_pct=-16.97, threshold_pct=10, direction="down", rule_id=1, mention=ALICE,
              extra={"prev_close": 142.62})
    check_golden("alert_daily_move_group", render_alert(a, DESCRIBER, GROUP))


def test_alert_selloff() -> None:
    a = alert(AlertKind.SELLOFF, price=118.42, change_pct=-16.97, threshold_pct=5, direction="down", rule_id=9)
    check_golden("alert_selloff", render_alert(a, DESCRIBER, GROUP))


def test_alert_drawdown() -> None:
    a = alert(AlertKind.DRAWDOWN, price=118.42, change_pct=-16.97, peak=149.43, drawdown_pct=20.75, threshold_pct=20, rule_id=10)
    check_golden("alert_drawdown", render_alert(a, DESCRIBER, GROUP))


def test_alert_split() -> None:
    a = alert(AlertKind.SPLIT, price=121.0, extra={"ratio": 10.0, "changes": ["analyst entry: $1,200.00 → $120.00", "alert #4 (below): $1,000.00 → $100.00"]})
    check_golden("alert_split", render_alert(a, DESCRIBER, GROUP))


def test_alert_earnings_reminder() -> None:
    a = alert(AlertKind.EARNINGS_REMINDER, ticker="MSFT", extra={"timing": "amc", "trading_days": 1, "calendar_days": 1,
              "report_day": "2025-01-29", "reaction_session": "2025-01-30", "source": "admin"})
    check_golden("alert_earnings_reminder", render_alert(a, DESCRIBER, GROUP))


def test_alert_earnings_day() -> None:
    a = alert(AlertKind.EARNINGS_DAY, ticker="META", extra={"timing": "bmo", "report_day": "2025-01-29", "reaction_session": "2025-01-29"})
    check_golden("alert_earnings_day", render_alert(a, DESCRIBER, GROUP))


def test_alert_earnings_recap() -> None:
    a = alert(AlertKind.EARNINGS_RECAP, ticker="MSFT", price=414.99, change_pct=-6.18,
              extra={"timing": "amc", "report_day": "2025-01-29", "session": "2025-01-30", "open": 418.77, "gap_pct": -5.33,
                     "prev_close": 442.33})
    check_golden("alert_earnings_recap", render_alert(a, DESCRIBER, GROUP))


def test_alert_earnings_moved() -> None:
    a = alert(AlertKind.EARNINGS_MOVED, ticker="AVGO", extra={"report_day": "2025-03-06", "old_day": "2025-03-13", "timing": "amc",
              "old_timing": "unknown", "source": "provider"})
    check_golden("alert_earnings_moved", render_alert(a, DESCRIBER, GROUP))


# -- escaping, splitting, captions, buttons --------------------------------------------------------


def test_every_supplied_string_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    reply = Reply(title=hostile, lines=(hostile,), fields=(Field(hostile, hostile),), footer=hostile)
    (message,) = render_reply(reply)
    assert "<script>" not in message.text
    assert message.text.count("&lt;script&gt;") == 5  # title, line, field name, field value, footer
    assert_balanced(message.text)
    who = UserRef("telegram", "42", '</a><b>"Mallory"')
    (alerted,) = render_alert(alert(AlertKind.PRICE_BELOW, price=1.0, level=2.0, rule_id=1, mention=who), DESCRIBER, GROUP)
    assert '<a href="tg://user?id=42">&lt;/a&gt;&lt;b&gt;"Mallory"</a>' in alerted.text
    assert_balanced(alerted.text)


def test_mention_only_in_groups_and_only_for_telegram_users() -> None:
    a = alert(AlertKind.PRICE_BELOW, price=1.0, level=2.0, rule_id=1, mention=ALICE)
    assert "tg://user?id=42" in render_alert(a, DESCRIBER, GROUP)[0].text
    assert "tg://user" not in render_alert(a, DESCRIBER, PRIVATE)[0].text
    other = alert(AlertKind.PRICE_BELOW, price=1.0, level=2.0, rule_id=1, mention=UserRef("discord", "42", "Alice"))
    assert "tg://user" not in render_alert(other, DESCRIBER, GROUP)[0].text


def test_long_replies_are_split_on_line_boundaries() -> None:
    lines = tuple(f"line {i:04d} <{'x' * 60}> & more" for i in range(300))
    reply = Reply(title="A long list", lines=lines, footer="the end", actions=(Action("Primer", "primer", ("NVDA",)),))
    messages = render_reply(reply)
    assert len(messages) > 1
    for message in messages:
        assert telegram_length(message.text) <= MESSAGE_LIMIT
        assert_balanced(message.text)
    assert [m.keyboard != () for m in messages] == [False] * (len(messages) - 1) + [True]  # buttons under the last part
    joined = "\n".join(m.text for m in messages)
    assert joined == "\n".join(["<b>A long list</b>", *(html.escape(line, quote=False) for line in lines), "<i>the end</i>"])


def test_a_single_line_longer_than_a_message_is_cut_with_its_tags_closed() -> None:
    title = "&" * 5000  # escapes to 25,000 characters of markup
    messages = render_reply(Reply(title=title, tone=Tone.UP))
    assert len(messages) >= 7
    for message in messages:
        assert telegram_length(message.text) <= MESSAGE_LIMIT
        assert message.text.endswith("</b>")
        assert_balanced(message.text)
    assert messages[0].text.startswith("📈 <b>")
    assert sum(m.text.count("&amp;") for m in messages) == 5000


def test_emoji_count_as_two_units() -> None:
    lines = tuple("📉" * 100 for _ in range(30))  # 6,000 UTF-16 units, 3,000 code points
    messages = render_reply(Reply(title="t", lines=lines))
    assert len(messages) == 2
    assert all(telegram_length(m.text) <= MESSAGE_LIMIT for m in messages)


def test_a_card_with_an_image_is_a_photo_with_a_caption() -> None:
    image = Image("nvda.png", b"\x89PNG fake", "NVDA, one year")
    short = render_reply(Reply(title="NVDA primer", lines=("Designs GPUs.",), image=image, actions=(Action("Primer", "primer", ("NVDA",)),)))
    assert len(short) == 1 and short[0].photo is image and short[0].keyboard
    long_lines = tuple(f"fact {i}: " + "y" * 80 for i in range(40))
    messages = render_reply(Reply(title="NVDA primer", lines=long_lines, image=image, actions=(Action("Primer", "primer", ("NVDA",)),)))
    assert messages[0].photo is image and telegram_length(messages[0].text) <= CAPTION_LIMIT
    assert all(m.photo is None for m in messages[1:]) and len(messages) >= 2
    assert messages[-1].keyboard and not messages[0].keyboard
    assert "\n".join(m.text for m in messages).count("fact ") == 40


def test_callback_data_round_trip_and_limit() -> None:
    data = encode_action(Action("Snooze 1 day", "snooze", ("12", "1")))
    assert data == "a:snooze:12:1"
    assert decode_action(data) == ("snooze", ("12", "1"))
    assert encode_action(Action("x", "primer", ("A" * 70,))) is None  # over 64 bytes: no button rather than a broken one
    assert encode_action(Action("x", "primer", ("a:b",))) is None
    for junk in (None, "", "a", "a:", "b:snooze:1", "a::1", "x" * 65, "a:" + "é" * 40):
        assert decode_action(junk) is None


def test_done_line_and_plain_fallback() -> None:
    assert done_line("snoozed", "Alice <3") == "<i>— snoozed by Alice &lt;3</i>"
    assert plain_fallback('📉 <b>NVDA &amp; co</b>\n<a href="tg://user?id=1">A</a>') == "📉 NVDA & co\nA"


@pytest.mark.parametrize("tone,emoji", [(Tone.UP, "📈"), (Tone.DOWN, "📉"), (Tone.WARNING, "⚠️"), (Tone.ERROR, "❗")])
def test_tone_emoji(tone: Tone, emoji: str) -> None:
    assert render_reply(Reply(title="x", tone=tone))[0].text == f"{emoji} <b>x</b>"
    assert render_reply(Reply(title="x"))[0].text == "<b>x</b>"


def test_grouped_message_for_a_group_chat() -> None:
    """One check's alerts for a chat: a headline, the parts, each alert without its own time,
    the member mentioned, and one keyboard with every alert's buttons (a repeated one once)."""
    member = UserRef("telegram", "4242", "Alice <A>")
    items = [
        alert(AlertKind.ANALYST_LEVEL, price=118.42, change_pct=-16.97, level=125.0, level_name="entry", direction="down", rule_id=1),
        alert(AlertKind.SELLOFF, ticker="^SOX", price=4968.06, change_pct=-7.0, threshold_pct=5.0, direction="down", rule_id=7),
        alert(AlertKind.PRICE_BELOW, price=118.42, change_pct=-16.97, level=120.0, direction="down", rule_id=12, mention=member),
    ]
    messages = render_alert(alert(AlertKind.GROUP, items=items), DESCRIBER, GROUP)
    check_golden("alert_group", messages)
    [message] = messages
    assert_balanced(message.text)
    assert [b.data for row in message.keyboard for b in row] == ["a:primer:NVDA", "a:primer:^SOX", "a:snooze:12:1", "a:unalert:12"]
