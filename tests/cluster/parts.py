"""Real parts for the cluster tests: a fresh PostgreSQL database per test, a price folder whose
quote is the same every day, a fake Telegram that takes a little while per send, and real
`tickerbell run` processes."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import os
import random
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from bot.core.messages import Alert
from storage.postgres.cluster import MARKET_TIMER_LOCK
from tests.conftest import ROOT
from tests.telegram.fake_bot_api import FakeBotApi, Request

SERVER = "postgresql://postgres@127.0.0.1:5432"
TOKEN = "123456:cluster-test-token"
ALERT_ID = re.compile(r"Alert #(\d+)")


DB_PREFIX = os.environ.get("TICKERBELL_TEST_PG_PREFIX", "tb12a_") + "c_"  # another prefix for parallel checkouts


@asynccontextmanager
async def fresh_database(name: str) -> AsyncIterator[str]:
    """A new database `<prefix>c_<name>_<pid>` for the test, dropped after it; skipped without a server."""
    database = f"{DB_PREFIX}{name}_{os.getpid()}"
    try:
        admin = await asyncpg.connect(f"{SERVER}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError) as problem:
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432 ({problem})")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
        yield f"{SERVER}/{database}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def flat_prices(folder: Path, tickers: list[str], price: float = 100.0) -> Path:
    """Daily bars at `price` from 60 days ago to 30 days ahead (whatever today is, a quote is fresh)."""
    folder.mkdir(parents=True, exist_ok=True)
    today = date.today()
    days = [today + timedelta(days=n) for n in range(-60, 31)]
    rows = "".join(f"{d.isoformat()},{price},{price},{price},{price},1000\n" for d in days)
    for ticker in tickers:
        (folder / f"{ticker}.csv").write_text("Date,Open,High,Low,Close,Volume\n" + rows)
    return folder


class SlowBotApi(FakeBotApi):
    """The fake Bot API, taking 2 ms to `slowest` seconds per send (so a kill lands mid-delivery),
    and enforcing Telegram's limits like Telegram: more than `bot_rate` sends in any one second,
    or two sends to one chat less than `1 / chat_rate` seconds apart, is answered 429."""

    def __init__(self, *, token: str, slowest: float = 0.02, bot_rate: int | None = None, chat_rate: float | None = None) -> None:
        super().__init__(token=token)
        self.slowest = slowest
        self.bot_rate = bot_rate
        self.chat_rate = chat_rate
        self.accepted_at: list[float] = []
        self.chat_last: dict[int, float] = {}
        self.flooded = 0  # 429 answers given
        self.flood_log: list[str] = []
        self._tickets = itertools.count()
        self._answering: set[int] = set()  # the sends being answered now (each takes 2 ms to `slowest`)

    def _over_limit(self, chat_id: int | None) -> bool:
        now = time.monotonic()
        if self.bot_rate is not None:
            recent = bisect.bisect_left(self.accepted_at, now - 1.0)
            if len(self.accepted_at) - recent >= self.bot_rate:
                self.flood_log.append(f"bot-wide: {len(self.accepted_at) - recent} in the last second")
                return True
        if self.chat_rate is not None and chat_id is not None:
            last = self.chat_last.get(chat_id)
            if last is not None and now - last < 1.0 / self.chat_rate:
                self.flood_log.append(f"chat {chat_id}: {now - last:.3f} s after the last")
                return True
        return False

    async def _api_sendMessage(self, request: Request) -> Any:
        if self._over_limit(request.chat_id):
            self.flooded += 1
            body = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}
            raise web.HTTPTooManyRequests(text=json.dumps(body), content_type="application/json")
        now = time.monotonic()
        self.accepted_at.append(now)
        if request.chat_id is not None:
            self.chat_last[request.chat_id] = now
        ticket = next(self._tickets)
        self._answering.add(ticket)
        try:
            await asyncio.sleep(random.uniform(0.002, self.slowest))
            return await super()._api_sendMessage(request)
        finally:
            self._answering.discard(ticket)

    async def answered(self) -> None:
        """Wait until every send being answered now has its answer: one whose sender was just
        killed is still accepted (as Telegram accepts a message whose sender's connection drops)."""
        waiting = set(self._answering)
        while waiting & self._answering:
            await asyncio.sleep(0.005)

    async def _api_setWebhook(self, request: Request) -> Any:
        return True

    def throughput(self) -> float:
        """Accepted sends a second, from the first to the last."""
        if len(self.accepted_at) < 2:
            return 0.0
        return (len(self.accepted_at) - 1) / (self.accepted_at[-1] - self.accepted_at[0])

    def sends(self) -> list[tuple[int, int]]:
        """(chat id, alert number) of every alert the platform accepted, in order: a message that
        groups several alerts (one check's alerts to one chat) gives each of them, in its order."""
        found = []
        for request in self.calls("sendMessage", lambda r: r.result is not None):
            if request.chat_id is not None:
                found.extend((request.chat_id, int(number)) for number in ALERT_ID.findall(request.text or ""))
        return found

    def messages(self) -> list[tuple[int, tuple[int, ...]]]:
        """(chat id, the alert numbers it carries) of every message the platform accepted, in order
        (a grouped message once, with all its alerts)."""
        found = []
        for request in self.calls("sendMessage", lambda r: r.result is not None):
            numbers = tuple(int(number) for number in ALERT_ID.findall(request.text or ""))
            if numbers and request.chat_id is not None:
                found.append((request.chat_id, numbers))
        return found


def cluster_config(folder: Path, url: str, api: FakeBotApi, *, role: str = "checker,delivery", extra: str = "") -> Path:
    config = folder / f"cluster-{role.replace(',', '-')}.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n'
        f'[market]\nprovider = "csv"\ndata_dir = "{folder / "prices"}"\npoll_seconds = 15\ntimeout_seconds = 5\n'
        f'[telegram]\nenabled = true\napi_base_url = "{api.base_url}"\n'
        f'[cluster]\nrole = "{role}"\nlease_seconds = 0.2\nclaim_seconds = 3\n'
        + extra
    )
    return config


async def start_tickerbell(config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TICKERBELL_")}
    env.update({"TICKERBELL_TELEGRAM_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost"})
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "--log-level", "INFO", "run", "--config", str(config),
                                                    cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle)
    finally:
        handle.close()


LEADER = f"""
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {MARKET_TIMER_LOCK >> 32} AND l.objid = {MARKET_TIMER_LOCK & 0xFFFFFFFF}
  AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def leader_pid(conn: asyncpg.Connection) -> int | None:
    """The OS process id of the tickerbell holding the market-timer lease (from its application name)."""
    name = await conn.fetchval(LEADER)
    match = re.match(r"tickerbell-(\d+)", name or "")
    return int(match.group(1)) if match else None


# Alerts queued in the outbox: a grouped message (kind 'group') carries its items, any other one alert.
ALERTS_QUEUED = "SELECT COALESCE(SUM(CASE WHEN kind = 'group' THEN jsonb_array_length(payload::jsonb -> 'items') ELSE 1 END), 0) FROM outbox"


async def alerts_queued(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(ALERTS_QUEUED))


async def queued_alerts(conn: asyncpg.Connection, where: str = "TRUE", *args: object) -> list[tuple[int, int, list[int]]]:
    """(delivery id, chat id, the numbers of the alerts it carries, in their order) of each outbox row
    matching `where`, in queue order: `Alert.alerts` is a group's items, or the alert itself."""
    rows = await conn.fetch(f"SELECT id, chat_id, payload FROM outbox WHERE {where} ORDER BY id", *args)
    return [(int(r["id"]), int(r["chat_id"]), [int(a.rule_id or 0) for a in Alert.from_json(r["payload"]).alerts]) for r in rows]
