"""Renders: golden files for each message kind, and Discord's limits under hostile sizes.

Regenerate the golden files after an intended change with
`TICKERBELL_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/discord_adapter/test_render.py`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.discord.render import (
    COLOURS,
    CUSTOM_ID_LIMIT,
    ButtonSpec,
    Rendered,
    decode_custom_id,
    embed_size,
    encode_action,
    render_alert,
    render_reply,
)
from bot.core.handlers import core_commands
from bot.core.messages import Action, Alert, AlertKind, Field, Image, Reply, Tone, error_reply
from bot.core.models import UserRef
from tests.conftest import DESCRIBER

GOLDEN = Path(__file__).parent / "golden"
AT = datetime(2025, 1, 27, 21, 0, tzinfo=UTC)
COMMANDS = frozenset(core_commands().names()) | {"primer"}


def check_golden(name: str, rendered: list[Rendered] | Rendered) -> None:
    items = rendered if isinstance(rendered, list) else [rendered]
    text = json.dumps([r.to_golden() for r in items], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("TICKERBELL_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}; see the module docstring to create it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs; see the module docstring to regenerate"


def test_golden_daily_move_alert_for_a_member():
    alert = Alert(
        kind=AlertKind.DAILY_MOVE, ticker="NVDA", at=AT, price=118.42, change_pct=-16.97, threshold_pct=10.0, direction="down",
        rule_id=12, mention=UserRef("discord", "900000000000000302", "Member_302"), extra={"prev_close": 142.62},
    )
    rendered = render_alert(alert, DESCRIBER, commands=COMMANDS)
    check_golden("alert_daily_move", rendered)
    assert rendered.content == "<@900000000000000302>" and rendered.mention_user_ids == (900000000000000302,)
    assert [b.custom_id for b in rendered.buttons] == ["tb:primer:NVDA", "tb:snooze:12:1", "tb:unalert:12"]


def test_golden_analyst_level_alert_for_a_watching_channel():
    alert = Alert(
        kind=AlertKind.ANALYST_LEVEL, ticker="AVGO", at=AT, price=241.3, change_pct=3.1, level=240.0, level_name="exit",
        direction="up", rule_id=4, note="take *profits* into strength", extra={"prev_close": 234.04},
    )
    rendered = render_alert(alert, DESCRIBER, commands=COMMANDS)
    check_golden("alert_analyst_level", rendered)
    assert rendered.content is None and rendered.mention_user_ids == ()
    assert rendered.embeds[0].colour.value == COLOURS[Tone.UP]


def test_golden_price_reply_and_error_reply():
    price = Reply(
        title="NVDA $118.42, −16.97% (close of 2025-01-27)",
        fields=(Field("Previous close", "$142.62"), Field("Day range", "$116.70 – $128.40")),
        tone=Tone.DOWN,
        footer="Price as of 2025-01-27 21:00 UTC",
    )
    check_golden("reply_price", render_reply(price))
    error = render_reply(error_reply("'X_Y' is not a ticker: use letters, digits, '.', '-' or '^' (for example NVDA, BRK.B, ^SOX)."))
    check_golden("reply_error", error)
    assert error[0].ephemeral


def test_golden_reply_with_an_image_and_actions():
    reply = Reply(
        title="NVDA primer", lines=("AI accelerators.", "Entry $120 · Exit $160"), image=Image("NVDA primer.png", b"png", "NVDA closes"),
        actions=(Action("Watch NVDA", "watch", ("NVDA",)), Action("Not a command", "nope", ())),
    )
    [rendered] = render_reply(reply, commands=COMMANDS)
    check_golden("reply_image", rendered)
    assert rendered.image is not None and rendered.image.filename == "NVDA_primer.png"
    assert rendered.embeds[0].image.url == "attachment://NVDA_primer.png"
    assert [b.custom_id for b in rendered.buttons] == ["tb:watch:NVDA"]  # unknown commands get no button


# -- limits -----------------------------------------------------------------------------------


def _check_limits(messages: list[Rendered]) -> None:
    for message in messages:
        assert 1 <= len(message.embeds) <= 10
        assert sum(embed_size(e) for e in message.embeds) <= 6000
        assert len(message.content or "") <= 2000
        for embed in message.embeds:
            assert len(embed.title or "") <= 256
            assert len(embed.description or "") <= 4096
            assert len(embed.fields) <= 25
            for field in embed.fields:
                assert 1 <= len(field.name) <= 256 and 1 <= len(field.value) <= 1024
            assert len(embed.footer.text or "") <= 2048


def test_an_oversized_reply_is_split_within_discords_limits_and_keeps_its_text():
    lines = (*tuple(f"line {i:04d} " + "x" * 90 for i in range(400)), "y" * 10000)
    reply = Reply(
        title="T" * 10_000,
        lines=lines,
        fields=tuple(Field(f"name {i} " + "n" * 300, "v" * 2000) for i in range(40)),
        footer="f" * 5000,
    )
    messages = render_reply(reply)
    _check_limits(messages)
    assert len(messages) > 1
    description = "\n".join(e.description for m in messages for e in m.embeds if e.description)
    for line in lines[:-1]:
        assert line in description
    assert description.count("y") == 10_000
    assert sum(len(e.fields) for m in messages for e in m.embeds) == 40
    assert messages[-1].embeds[-1].footer.text.endswith("…")


def test_a_long_error_title_moves_into_the_description():
    problem = "word " * 120
    [message] = render_reply(error_reply(problem.strip()))
    embed = message.embeds[0]
    assert len(embed.title) <= 256 and embed.title.endswith("…")
    assert embed.description.startswith("…")
    assert (embed.title[:-1] + " " + embed.description[1:]).split() == problem.split()


def test_user_text_is_shown_as_text_not_markdown():
    [message] = render_reply(Reply(title="**bold** @everyone", lines=("[link](https://evil.example) _x_",)))
    embed = message.embeds[0]
    assert embed.title == "\\*\\*bold\\*\\* @everyone"
    assert "\\[link](" in embed.description and "\\_x\\_" in embed.description


@pytest.mark.parametrize(
    ("action", "custom_id"),
    [
        (Action("Snooze", "snooze", ("12", "1")), "tb:snooze:12:1"),
        (Action("Primer", "primer", ("^SOX",)), "tb:primer:%5ESOX"),
        (Action("Odd", "note", ("a:b c",)), "tb:note:a%3Ab%20c"),
        (Action("None", "alerts", ()), "tb:alerts"),
    ],
)
def test_custom_ids_round_trip(action, custom_id):
    assert encode_action(action) == custom_id
    assert decode_custom_id(custom_id) == (action.command, action.args)


def test_custom_ids_that_cannot_fit_or_are_not_ours():
    assert encode_action(Action("Long", "note", ("x" * CUSTOM_ID_LIMIT,))) is None
    assert encode_action(Action("Bad", "Not A Command", ())) is None
    assert decode_custom_id("someone-else:123") is None
    assert ButtonSpec("a", "tb:x").style == "secondary"


def test_golden_grouped_message_for_a_channel():
    """One check's alerts for a channel: one embed per alert, the parts' names as authors, the
    members mentioned once in the content, and the buttons of every alert (a repeated one once)."""
    from bot.adapters.discord.render import render_alert_messages

    member = UserRef("discord", "900000000000000302", "Member_302")
    items = [
        Alert(kind=AlertKind.ANALYST_LEVEL, ticker="NVDA", at=AT, price=118.42, change_pct=-16.97, level=125.0, level_name="entry", direction="down", rule_id=1),
        Alert(kind=AlertKind.SELLOFF, ticker="^SOX", at=AT, price=4968.06, change_pct=-7.0, threshold_pct=5.0, direction="down", rule_id=7),
        Alert(kind=AlertKind.PRICE_BELOW, ticker="NVDA", at=AT, price=118.42, change_pct=-16.97, level=120.0, direction="down", rule_id=12, mention=member),
    ]
    group = Alert(kind=AlertKind.GROUP, ticker="NVDA", at=AT, items=items)
    [rendered] = render_alert_messages(group, DESCRIBER, commands=COMMANDS)
    check_golden("alert_group", rendered)
    assert rendered.content == "**3 alerts · 2025-01-27 16:00 ET** <@900000000000000302>"
    assert [b.custom_id for b in rendered.buttons] == ["tb:primer:NVDA", "tb:primer:%5ESOX", "tb:snooze:12:1", "tb:unalert:12"]
    assert [e.author.name for e in rendered.embeds] == ["The analyst's levels", "Sell-offs and drawdowns", "Members' alerts"]
