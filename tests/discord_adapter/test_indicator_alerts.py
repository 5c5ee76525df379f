"""The new /alert conditions (moving average, RSI, change over sessions) through the real
discord.py against the fake Discord: `value` is a text option, the RSI level an option word."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.models import Direction, RuleKind, UserRef
from tests.discord_adapter.fake_discord import MEMBER_ID, SHARED_PRICES, answer_body, running_bot

PRICES = SHARED_PRICES if Path(SHARED_PRICES, "NVDA.csv").exists() else None


@pytest.mark.skipif(PRICES is None, reason=f"real price data not found at {SHARED_PRICES}")
async def test_moving_average_rsi_and_change_alerts_from_slash_commands(tmp_path):
    async with running_bot(tmp_path, prices=PRICES) as bot:
        titles = []
        for options in ({"condition": "below", "value": "sma200"}, {"condition": "rsi", "value": "below", "options": "30"},
                        {"condition": "move", "value": "-10", "options": "over 5d"}):
            payload = bot.fake.slash("alert", {"ticker": "NVDA", **options}, user_id=MEMBER_ID)
            callback, followup = await bot.answer(payload)
            [embed] = answer_body(callback, followup)["embeds"]
            titles.append(embed["title"])
        assert titles == ["Alert #1 set: NVDA below its SMA200", "Alert #2 set: NVDA RSI(14) below 30", "Alert #3 set: NVDA moves down 10% over 5 sessions"]
        rules = await bot.storage.rules.of_member(UserRef("discord", str(MEMBER_ID)))
        assert [(r.kind, r.indicator, r.period, r.direction) for r in rules] == [
            (RuleKind.MA, "sma", 200, Direction.DOWN), (RuleKind.RSI, "rsi", 14, Direction.DOWN), (RuleKind.CHANGE, None, 5, Direction.DOWN)]
