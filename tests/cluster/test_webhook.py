"""Telegram by webhook, through the real python-telegram-bot: two gateway processes (two apps on one
PostgreSQL database, each with its own endpoint, as behind a load balancer) take updates; the
secret token header is checked; an alert set through one is listed through the other."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.telegram import TelegramAdapter
from bot.app import App
from bot.config import BotConfig, Config, StorageConfig, TelegramConfig
from bot.core.clock import ReplayClock
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from tests.cluster.parts import TOKEN, SlowBotApi, flat_prices, fresh_database

SECRET = "s3cret-Token_for-webhooks"
UPDATES = itertools.count(1)


def command(text: str, *, chat_id: int) -> dict[str, Any]:
    head = text.split()[0]
    return {
        "update_id": next(UPDATES),
        "message": {
            "message_id": 500 + next(UPDATES), "date": 1737990000, "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": "Member"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Member"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(head)}],
        },
    }


@pytest.fixture
async def api() -> AsyncIterator[SlowBotApi]:
    fake = SlowBotApi(token=TOKEN, slowest=0.003)
    await fake.start()
    yield fake
    await fake.stop()


async def test_any_gateway_process_serves_the_webhook_and_a_wrong_secret_is_refused(tmp_path: Path, api: SlowBotApi, calendar: MarketCalendar) -> None:
    async with fresh_database("webhook") as url:
        prices = flat_prices(tmp_path / "prices", ["TBX"])
        telegram = TelegramConfig(enabled=True, api_base_url=api.base_url, mode="webhook", webhook_host="127.0.0.1", webhook_port=0,
                                  webhook_url="https://bot.example.org/telegram")
        config = Config(bot=BotConfig(), storage=StorageConfig(url=url), telegram=telegram)
        clock = ReplayClock(datetime.now(UTC))
        apps: list[App] = []
        endpoints: list[str] = []
        try:
            for _ in range(2):
                app = await App.create(config, clock=clock, market=CsvMarket(prices, clock=clock, calendar=calendar), calendar=calendar, features=())
                apps.append(app)
                adapter = TelegramAdapter(config.telegram, TOKEN, app.router, describer=app.describer(), webhook_secret=SECRET)
                await adapter.start()
                app.add_adapter(adapter)
                assert adapter.webhook is not None
                endpoints.append(f"http://127.0.0.1:{adapter.webhook.port}/telegram")
            hooks = api.calls("setWebhook")
            assert hooks and all(h.params["secret_token"] == SECRET and h.params["url"] == "https://bot.example.org/telegram" for h in hooks)
            assert not api.calls("getUpdates")  # nobody polls
            async with aiohttp.ClientSession() as http:
                mark = api.mark()
                async with http.post(endpoints[0], json=command("/alert TBX below 90", chat_id=701), headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as refused:
                    assert refused.status == 403
                async with http.post(endpoints[0], json=command("/alert TBX below 90", chat_id=701)) as missing:
                    assert missing.status == 403
                async with http.post(endpoints[0], json=command("/alert TBX below 90", chat_id=701), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as ok:
                    assert ok.status == 200
                reply = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 701, after=mark)
                assert "TBX below $90.00" in reply.text
                assert len(api.calls("sendMessage", lambda r: r.chat_id == 701)) == 1  # the refused ones did nothing
                mark = api.mark()
                async with http.post(endpoints[1], json=command("/alerts", chat_id=701), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as ok:
                    assert ok.status == 200
                listed = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 701, after=mark)
                assert "TBX below $90.00" in listed.text  # set through the first process, listed by the second
        finally:
            for app in apps:
                await app.close()
