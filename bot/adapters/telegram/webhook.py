"""Telegram updates by webhook: an aiohttp endpoint any tickerbell process with the gateway role can
serve (behind a load balancer), instead of one process polling.

Telegram POSTs each update as JSON with the header `X-Telegram-Bot-Api-Secret-Token` carrying the
secret given to `setWebhook`; a request without the right secret is refused (403) and never reaches
the bot. An accepted update goes into python-telegram-bot's update queue, exactly where polling
puts it, so the same handlers answer it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.config import ConfigError, TelegramConfig

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookEndpoint:
    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any], config: TelegramConfig, secret: str, *, allowed_updates: list[str]) -> None:
        self.app = app
        self.config = config
        self._secret = secret
        self.allowed_updates = allowed_updates
        self._runner: web.AppRunner | None = None
        self.port = 0  # the port it listens on (config.webhook_port, or the one picked for 0)
        self.refused = 0  # requests without the right secret

    async def start(self) -> None:
        server = web.Application(client_max_size=1024 * 1024)
        server.router.add_post(self.config.webhook_path, self._receive)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.webhook_host, self.config.webhook_port)
        try:
            await site.start()
        except OSError as problem:
            await runner.cleanup()
            where = f"{self.config.webhook_host}:{self.config.webhook_port}"
            why = os.strerror(problem.errno).lower() if problem.errno else str(problem)
            raise ConfigError(f"[telegram] webhook_port: cannot listen on {where} ({why})") from None
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.webhook_port
        if self.config.webhook_url:
            await self.app.bot.set_webhook(url=self.config.webhook_url, secret_token=self._secret, allowed_updates=self.allowed_updates)
        log.info("telegram: taking updates by webhook on %s:%d%s", self.config.webhook_host, self.port, self.config.webhook_path)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("telegram webhook: %d requests without the right secret token refused", self.refused)
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.text())
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        if update is None:
            return web.Response(status=400, text="not an update")
        await self.app.update_queue.put(update)
        return web.Response(text="ok")
