"""A fake Discord: the REST API and the WebSocket gateway on 127.0.0.1 (aiohttp), for tests
that run the real discord.py against it.

It records every REST request (`requests`), answers what discord.py needs for login,
command sync, messages, interaction callbacks and followups, and lets a test:

- wait for a request (`await fake.wait_for(...)`), never sleeping as an assertion,
- dispatch gateway events (`await fake.dispatch("INTERACTION_CREATE", ...)`) built with
  `slash()`, `autocomplete()` and `press()`,
- make the next channel message fail (`fail_next_message(403, 50001, "Missing Access")`).

Responses carry `Content-Type: application/json` exactly: with aiohttp's default
`; charset=utf-8`, discord.py reads the body as text.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_ID = APP_ID
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200
OTHER_CHANNEL_ID = 900000000000000201
MANAGER_ID = 900000000000000301  # has Manage Channels
MEMBER_ID = 900000000000000302  # a plain member
TOKEN = "fake.bot-token.for-tests"

# Permission bits as Discord sends them (strings of the integer).
VIEW_SEND = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15)  # view, send, embed links, attach files
MANAGER_PERMISSIONS = str(VIEW_SEND | (1 << 4))  # + manage channels
MEMBER_PERMISSIONS = str(VIEW_SEND)


@dataclass
class Recorded:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # the JSON body, or multipart's payload_json
    files: list[dict[str, Any]] = field(default_factory=list)  # multipart file parts: name, filename, size, content_type

    @property
    def authorization(self) -> str:
        return self.headers.get("Authorization", "")


RECORDED = web.RequestKey("recorded", Recorded)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def user_object(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.capitalize(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def channel_object(channel_id: int = CHANNEL_ID, name: str = "stocks") -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


class FakeDiscord:
    def __init__(self, *, token: str = TOKEN, heartbeat_interval_ms: int = 41250) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.requests: list[Recorded] = []
        self.gateway_log: list[dict[str, Any]] = []  # frames the client sent
        self.messages: dict[int, dict[str, Any]] = {}  # message id -> message object we returned
        self.nonces: dict[tuple[int, str], int] = {}  # (channel, enforced nonce) -> the message it created
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" / guild id -> last PUT body
        self._failures: list[tuple[int | None, int, int, str]] = []  # (channel or any, status, code, message)
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(910000000000000000)
        self.dm_channels: dict[int, int] = {}  # member id -> their DM channel
        self.cdn_files: dict[str, bytes] = {}  # attachment id -> the file a file option carries
        self._changed = asyncio.Condition()
        self.identified = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.bot_user = user_object(BOT_ID, "tickerbell", bot=True)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- test controls -----------------------------------------------------------------------

    def fail_next_message(self, status: int, code: int, message: str, *, channel_id: int | None = None) -> None:
        """The next POST /channels/{id}/messages (to that channel, or any) answers with this error."""
        self._failures.append((channel_id, status, code, message))

    async def wait_for(self, predicate: Callable[[Recorded], bool], *, timeout: float = 5.0, after: int = 0) -> Recorded:
        """The first recorded request (from index `after`) that matches, waiting for it if needed."""

        def find() -> Recorded | None:
            return next((r for r in self.requests[after:] if predicate(r)), None)

        async with self._changed:
            found = await asyncio.wait_for(self._changed.wait_for(find), timeout)
        assert found is not None
        return found

    def find(self, method: str, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        frame = json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data})
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_str(frame)

    def message(self, content: str, *, user_id: int = MEMBER_ID, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        """An ordinary message in the guild's channel, for a MESSAGE_CREATE dispatch."""
        return {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "author": user_object(user_id, f"member{str(user_id)[-3:]}"),
            "member": {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0},
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }

    # -- interaction payloads ----------------------------------------------------------------

    def _base_interaction(self, kind: int, user_id: int, permissions: str, channel_id: int, guild: bool) -> dict[str, Any]:
        interaction_id = next(self._ids)
        user = user_object(user_id, "manager" if user_id == MANAGER_ID else f"member{str(user_id)[-3:]}")
        data: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"itoken-{interaction_id}",
            "version": 1,
            "channel_id": str(channel_id),
            "locale": "en-US",
            "app_permissions": str(VIEW_SEND),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)} if guild else {"1": str(user_id)},
            "context": 0 if guild else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild:
            data["guild_id"] = str(GUILD_ID)
            data["guild_locale"] = "en-US"
            data["channel"] = channel_object(channel_id)
            data["member"] = {
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "permissions": permissions,
            }
        else:
            data["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user], "last_message_id": None, "flags": 0}
            data["user"] = user
        return data

    def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int = MANAGER_ID,
        permissions: str = MANAGER_PERMISSIONS,
        channel_id: int = CHANNEL_ID,
        guild: bool = True,
        types: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for `/name option=value ...` (types from the synced command)."""
        data = self._base_interaction(2, user_id, permissions, channel_id, guild)
        declared = {o["name"]: o["type"] for o in self._declared(name).get("options", [])}
        declared.update(types or {})
        data["data"] = {
            "id": self._declared(name).get("id", str(next(self._ids))),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": declared.get(k, 3), "value": v} for k, v in (options or {}).items()],
        }
        if guild:
            data["data"]["guild_id"] = str(GUILD_ID)
        return data

    def slash_with_file(self, name: str, options: dict[str, Any], file_option: str, filename: str, data: bytes, **kwargs: Any) -> dict[str, Any]:
        """A slash command with a file option: the file is served from the fake's CDN route."""
        attachment_id = str(next(self._ids))
        self.cdn_files[attachment_id] = data
        payload = self.slash(name, {**options, file_option: attachment_id}, types={file_option: 11}, **kwargs)
        url = f"http://127.0.0.1:{self.port}/cdn/{attachment_id}"
        payload["data"]["resolved"] = {"attachments": {attachment_id: {
            "id": attachment_id, "filename": filename, "size": len(data), "url": url, "proxy_url": url, "content_type": "text/csv"}}}
        return payload

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        data = self.cdn_files.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    def autocomplete(self, name: str, options: dict[str, Any], focused: str, **kwargs: Any) -> dict[str, Any]:
        data = self.slash(name, options, **kwargs)
        data["type"] = 4
        for option in data["data"]["options"]:
            if option["name"] == focused:
                option["focused"] = True
        return data

    def press(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user_id: int = MANAGER_ID,
        permissions: str = MANAGER_PERMISSIONS,
        channel_id: int = CHANNEL_ID,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a press on a button of a message we returned."""
        data = self._base_interaction(3, user_id, permissions, channel_id, True)
        data["message"] = message
        data["data"] = {"custom_id": custom_id, "component_type": 2}
        return data

    def _declared(self, name: str) -> dict[str, Any]:
        for body in self.commands.values():
            for command in body:
                if command.get("name") == name:
                    return command
        return {}

    # -- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith("/api/v10/"):
            return await handler(request)
        body: Any = None
        files: list[dict[str, Any]] = []
        if request.content_type == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw else None
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                content = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(content)
                else:
                    files.append(
                        {
                            "name": part.name,  # type: ignore[union-attr]
                            "filename": part.filename,  # type: ignore[union-attr]
                            "size": len(content),
                            "content_type": part.headers.get("Content-Type", ""),  # type: ignore[union-attr]
                        }
                    )
        recorded = Recorded(
            method=request.method,
            path=request.path.removeprefix("/api/v10"),
            query=dict(request.query),
            headers=dict(request.headers.items()),
            json=body,
            files=files,
        )
        request[RECORDED] = recorded
        response = await handler(request)
        async with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        return response

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status=status)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        recorded: Recorded = request[RECORDED]
        path, method = recorded.path, recorded.method
        if recorded.authorization != f"Bot {self.token}" and not path.startswith(("/interactions/", "/webhooks/")):
            return self._error(401, 0, "401: Unauthorized")
        parts = path.strip("/").split("/")

        if method == "GET" and path == "/users/@me":
            return self._json(self.bot_user)
        if method == "GET" and len(parts) == 2 and parts[0] == "users" and parts[1].isdigit():
            return self._json(user_object(int(parts[1]), f"member{parts[1]}"))
        if method == "POST" and path == "/users/@me/channels":  # open a DM channel with a member
            recipient = int((recorded.json or {}).get("recipient_id", 0))
            channel_id = self.dm_channels.setdefault(recipient, next(self._ids))
            return self._json({"id": str(channel_id), "type": 1, "last_message_id": None, "recipients": [user_object(recipient, f"member{recipient}")]})
        if method == "GET" and path == "/oauth2/applications/@me":
            return self._json(self._application())
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return self._json(
                {"url": self.gateway_url, "shards": 1, "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}
            )
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            scope = parts[3] if len(parts) == 5 else "global"
            saved = []
            for command in recorded.json or []:
                saved.append({**command, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1", "default_member_permissions": None})
            self.commands[scope] = saved
            return self._json(saved)
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages" and method == "POST":
            channel_id = int(parts[1])
            for index, (target, status, code, message) in enumerate(self._failures):
                if target in (None, channel_id):
                    del self._failures[index]
                    return self._error(status, code, message)
            nonce = (recorded.json or {}).get("nonce") if isinstance(recorded.json, dict) else None
            enforced = isinstance(recorded.json, dict) and recorded.json.get("enforce_nonce")
            if nonce and enforced and (channel_id, nonce) in self.nonces:  # as Discord does: the first message, not a new one
                return self._json(self.messages[self.nonces[(channel_id, nonce)]])
            message = self._message(channel_id, recorded)
            if nonce and enforced:
                self.nonces[(channel_id, nonce)] = int(message["id"])
            return self._json(message)
        if parts[0] == "channels" and len(parts) == 4 and method == "PATCH":
            return self._json(self._edit(int(parts[3]), recorded))
        if parts[0] == "interactions" and parts[-1] == "callback":
            kind = (recorded.json or {}).get("type")
            response: dict[str, Any] = {"interaction": {"id": parts[1], "type": 2, "response_message_loading": kind == 5}}
            if kind in (4, 5):
                flags = ((recorded.json or {}).get("data") or {}).get("flags", 0) or 0
                response["interaction"]["response_message_ephemeral"] = bool(flags & 64)
                message = self._message(CHANNEL_ID, recorded, data=(recorded.json or {}).get("data") or {})
                response["interaction"]["response_message_id"] = message["id"]
                response["resource"] = {"type": kind, "message": message}
            return self._json(response)
        if parts[0] == "webhooks":
            if method == "POST" and len(parts) == 3:
                return self._json(self._message(CHANNEL_ID, recorded, webhook=True))
            if method == "PATCH":
                return self._json(self._message(CHANNEL_ID, recorded, webhook=True))
            if method == "DELETE":
                return web.Response(status=204)
            if method == "GET":
                return self._json(self._message(CHANNEL_ID, recorded, webhook=True))
        return self._error(404, 0, f"404: Not Found ({method} {path})")

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "tickerbell",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_object(1, "owner"),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "bot": self.bot_user,
        }

    def _message(self, channel_id: int, recorded: Recorded, *, webhook: bool = False, data: dict[str, Any] | None = None) -> dict[str, Any]:
        body = data if data is not None else (recorded.json or {})
        message_id = next(self._ids)
        attachments = [
            {"id": str(next(self._ids)), "filename": f["filename"], "size": f["size"], "url": f"https://cdn.invalid/{f['filename']}", "proxy_url": f"https://cdn.invalid/{f['filename']}"}
            for f in recorded.files
        ]
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "author": self.bot_user,
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0 if not webhook else 20,
            "flags": body.get("flags") or 0,
        }
        if webhook:
            message["webhook_id"] = str(APP_ID)
            message["application_id"] = str(APP_ID)
        self.messages[message_id] = message
        return message

    def _edit(self, message_id: int, recorded: Recorded) -> dict[str, Any]:
        message = dict(self.messages.get(message_id) or self._message(CHANNEL_ID, recorded))
        body = recorded.json or {}
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key]
        message["edited_timestamp"] = _now()
        self.messages[message_id] = message
        return message

    # -- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.gateway_log.append(frame)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    await self._identify(ws, frame["d"])
                elif op == 6:
                    await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}}))
        finally:
            self._sockets.remove(ws)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        if identify.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = identify.get("shard") or [0, 1]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "session_id": f"session-{shard[0]}",
            "resume_gateway_url": self.gateway_url,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}] if shard[0] == 0 else [],
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": shard,
            "private_channels": [],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        if shard[0] == 0:
            guild = {
                "id": str(GUILD_ID),
                "name": "Tickerbell test server",
                "icon": None,
                "owner_id": str(MANAGER_ID),
                "roles": [{"id": str(GUILD_ID), "name": "@everyone", "permissions": MEMBER_PERMISSIONS, "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
                "emojis": [],
                "stickers": [],
                "features": [],
                "member_count": 3,
                "channels": [channel_object(CHANNEL_ID, "stocks"), channel_object(OTHER_CHANNEL_ID, "locked")],
                "threads": [],
                "members": [],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "unavailable": False,
                "large": False,
                "joined_at": "2024-01-01T00:00:00+00:00",
            }
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))
        self.identified.set()


# -- a running bot against the fake ----------------------------------------------------------

SHARED_PRICES = "/work/shared/data/prices"


def write_tiny_prices(folder: Any) -> str:
    """A one-ticker CSV folder for tests that need a market but not real data."""
    from pathlib import Path

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / "NVDA.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2025-01-23,145.05,147.23,143.72,147.22,155915500\n"
        "2025-01-24,148.37,148.97,141.88,142.62,234657600\n"
        "2025-01-27,124.80,128.40,116.70,118.42,818830900\n",
        encoding="utf-8",
    )
    return str(path)


@dataclass
class Bot:
    fake: FakeDiscord
    app: Any  # bot.app.App
    adapter: Any  # DiscordAdapter

    @property
    def storage(self) -> Any:
        return self.app.storage

    async def interact(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Dispatch an INTERACTION_CREATE and wait for its callback; returns the payload."""
        start = len(self.fake.requests)
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        await self.fake.wait_for(lambda r: r.path.startswith(f"/interactions/{payload['id']}/"), after=start)
        return payload

    def callback(self, payload: dict[str, Any]) -> Recorded:
        return next(r for r in self.fake.requests if r.path.startswith(f"/interactions/{payload['id']}/"))

    async def followup(self, payload: dict[str, Any], *, method: str = "POST", timeout: float = 5.0) -> Recorded:
        token = payload["token"]
        return await self.fake.wait_for(lambda r: r.method == method and r.path.startswith(f"/webhooks/{APP_ID}/{token}"), timeout=timeout)

    async def answer(self, payload: dict[str, Any]) -> tuple[Recorded, Recorded | None]:
        """Dispatch an interaction; return its callback and, if it was deferred, the followup."""
        await self.interact(payload)
        callback = self.callback(payload)
        if callback.json["type"] == 5:
            return callback, await self.followup(payload)
        return callback, None


def answer_body(callback: Recorded, followup: Recorded | None) -> dict[str, Any]:
    """The message an interaction was answered with, whichever way it went."""
    if followup is not None:
        return followup.json
    return callback.json.get("data") or {}


@asynccontextmanager
async def running_bot(
    tmp_path: Any,
    *,
    prices: str | None = None,
    now: datetime | None = None,
    guild_ids: tuple[int, ...] = (GUILD_ID,),
    admins: tuple[str, ...] = (),
    shard_count: int = 0,
    answer_within: float = 1.5,
    fake: FakeDiscord | None = None,
    commands: Any = None,
    message_content: bool = False,
) -> AsyncIterator[Bot]:
    from bot.adapters.discord import DiscordAdapter
    from bot.app import App
    from bot.config import BotConfig, Config, DiscordConfig, MarketConfig
    from bot.core.clock import ReplayClock

    fake = fake or FakeDiscord()
    await fake.start()
    app = adapter = None
    try:
        data_dir = prices or write_tiny_prices(tmp_path / "prices")
        config = Config(
            bot=BotConfig(admins=frozenset(admins)),
            market=MarketConfig(provider="csv", data_dir=data_dir),
            discord=DiscordConfig(enabled=True, api_base_url=fake.api_base_url, guild_ids=guild_ids, shard_count=shard_count,
                                  message_content=message_content),
        )
        clock = ReplayClock(now or datetime(2025, 1, 27, 21, 30, tzinfo=UTC))
        app = await App.create(config, clock=clock, storage_path=tmp_path / "tickerbell.sqlite3", commands=commands)
        adapter = DiscordAdapter(
            config.discord, fake.token, app.router, describer=app.describer(), guild_ready_timeout=0.05, answer_within=answer_within
        )
        await adapter.start()
        app.add_adapter(adapter)
        yield Bot(fake, app, adapter)
    finally:
        if adapter is not None:
            await adapter.stop()
        if app is not None:
            await app.close()
        await fake.close()
