"""A fake Telegram Bot API on 127.0.0.1 (random port), for driving the real python-telegram-bot.

It answers what the adapter calls (getMe, getUpdates with long polling, sendMessage,
sendPhoto, editMessageText, editMessageCaption, answerCallbackQuery, setMyCommands,
getChatMember, deleteWebhook), records every request, and can be told to fail the next
call of a method (429 with retry_after, 403, 400, 502).

    api = FakeBotApi(token=TOKEN)
    await api.start()                    # api.base_url -> TelegramConfig(api_base_url=...)
    api.push_command("/price NVDA", chat_id=777, user_id=777)
    sent = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 777)
    await api.stop()                     # after the bot: it sends one last getUpdates on stop
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7_000_000_001
BOT_USERNAME = "tickerbell_bot"
LONG_POLL_CAP = 0.5  # seconds a getUpdates waits for an update when none is queued

ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


@dataclass
class Request:
    method: str
    params: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    content_type: str = ""
    result: Any = None  # what the fake answered (the sent Message, for a send)

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None

    @property
    def text(self) -> str:
        return self.params.get("text") or self.params.get("caption") or ""

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        if "reply_markup" not in self.params:
            return []
        return self.json("reply_markup").get("inline_keyboard", [])

    @property
    def reply_to(self) -> int | None:
        if "reply_parameters" not in self.params:
            return None
        return self.json("reply_parameters").get("message_id")


class FakeBotApi:
    def __init__(self, *, token: str, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.username = username
        self.requests: list[Request] = []
        self.chat_types: dict[int, str] = {}
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> status
        self.blocked: set[int] = set()  # chats whose every send/edit answers 403
        self.documents: dict[str, bytes] = {}  # file_id -> a document members sent (getFile, then the download)
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/documents/{file_id}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._closing = True
        await self._notify()  # let a waiting long poll answer now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what tests do ---------------------------------------------------------------------------

    def fail_next(self, method: str, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self._failures.setdefault(method, []).append((status, body))

    def flood_next(self, method: str = "sendMessage", retry_after: int = 3) -> None:
        self.fail_next(method, 429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def forbid_next(self, method: str = "sendMessage", description: str = "Forbidden: bot was blocked by the user") -> None:
        self.fail_next(method, 403, description)

    def push_update(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    def push_message(self, text: str, *, chat_id: int, user_id: int | None = None, chat_type: str | None = None,
                     first_name: str = "Member", entities: list[dict[str, Any]] | None = None, **extra: Any) -> int:
        """Queue a message; returns its message_id."""
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
        self.chat_types[chat_id] = chat_type
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = f"Group {chat_id}"
        message_id = next(self._message_ids)
        message: dict[str, Any] = {"message_id": message_id, "date": 1737990000, "chat": chat, "text": text}
        if user_id is not None:
            message["from"] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if entities is not None:
            message["entities"] = entities
        if "document" in extra:
            del message["text"]  # a file with a caption has no text
        message.update(extra)
        self.push_update({"message": message})
        return message_id

    def push_command(self, text: str, *, chat_id: int, user_id: int, chat_type: str | None = None, first_name: str = "Member") -> int:
        """A command as Telegram sends it: a bot_command entity over the first word."""
        head = text.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": len(head.encode("utf-16-le")) // 2}
        return self.push_message(text, chat_id=chat_id, user_id=user_id, chat_type=chat_type, first_name=first_name, entities=[entity])

    def push_document(self, caption: str, data: bytes, *, filename: str, chat_id: int, user_id: int) -> int:
        """A file sent with a caption (a command in the caption, as Telegram marks it)."""
        file_id = f"doc-{len(self.documents) + 1}"
        self.documents[file_id] = data
        head = caption.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": len(head)}
        document = {"file_id": file_id, "file_unique_id": file_id, "file_name": filename, "mime_type": "text/csv", "file_size": len(data)}
        return self.push_message("", chat_id=chat_id, user_id=user_id, caption=caption, caption_entities=[entity], document=document)

    async def _download(self, request: web.Request) -> web.Response:
        data = self.documents.get(request.match_info["file_id"])
        if request.match_info["token"] != self.token or data is None:
            return web.Response(status=404)
        return web.Response(body=data)

    async def _api_getFile(self, request: Request) -> Any:
        file_id = request.params.get("file_id", "")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.documents.get(file_id, b"")), "file_path": f"documents/{file_id}"}

    def push_button(self, data: str, *, chat_id: int, user_id: int, message_id: int, message_text: str,
                    first_name: str = "Member", keyboard: list[list[dict[str, Any]]] | None = None) -> str:
        """A press on an inline button of a message the bot sent; returns the callback query id."""
        chat_type = self.chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = f"Group {chat_id}"
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": 1737990000,
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "tickerbell", "username": self.username},
            "text": message_text,
        }
        if keyboard:
            message["reply_markup"] = {"inline_keyboard": keyboard}
        query_id = f"cq{next(self._update_ids)}"
        self.push_update({
            "callback_query": {
                "id": query_id,
                "from": {"id": user_id, "is_bot": False, "first_name": first_name},
                "chat_instance": f"ci{chat_id}",
                "message": message,
                "data": data,
            }
        })
        return query_id

    def calls(self, method: str, where: Callable[[Request], bool] | None = None) -> list[Request]:
        return [r for r in self.requests if r.method == method and (where is None or where(r))]

    async def wait_for(self, method: str | tuple[str, ...], *, where: Callable[[Request], bool] | None = None, after: int = 0,
                       timeout: float = 5.0) -> Request:
        """The first `method` request (or one of several methods) at index >= `after` that matches;
        fails after `timeout` s."""
        methods = (method,) if isinstance(method, str) else method

        def found() -> Request | None:
            for request in self.requests[after:]:
                if request.method in methods and (where is None or where(request)):
                    return request
            return None

        async def waiting() -> Request:
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None)
            result = found()
            assert result is not None
            return result

        try:
            return await asyncio.wait_for(waiting(), timeout)
        except TimeoutError:
            seen = [f"{r.method} {r.params.get('chat_id', '')} {r.text[:60]!r}" for r in self.requests[after:] if r.method != "getUpdates"]
            raise AssertionError(f"no {method} request within {timeout} s; saw: {seen}") from None

    def mark(self) -> int:
        """The index to pass as `after=` to wait only for requests made from now on."""
        return len(self.requests)

    # -- the server ---------------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, str] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                data = await part.read()
                if part.filename:
                    files[part.name] = bytes(data)
                else:
                    params[part.name] = data.decode("utf-8")
        elif request.can_read_body:
            form = await request.post()
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        recorded = Request(method, params, files, request.content_type)
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        if method != "getUpdates":
            self.requests.append(recorded)
            await self._notify()
        failures = self._failures.get(method)
        if failures:
            status, body = failures.pop(0)
            return web.Response(status=status, text=json.dumps(body), content_type="application/json")
        if recorded.chat_id in self.blocked and method.startswith(("send", "edit")):
            return self._error(403, "Forbidden: bot was blocked by the user")
        answer = getattr(self, f"_api_{method}", None)
        if answer is None:
            return self._error(404, "Not Found: method not found")
        recorded.result = await answer(recorded)
        if method == "getUpdates":
            self.requests.append(recorded)
        return self._ok(recorded.result)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.Response(text=json.dumps({"ok": True, "result": result}), content_type="application/json")

    @staticmethod
    def _error(status: int, description: str) -> web.Response:
        body = {"ok": False, "error_code": status, "description": description}
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "tickerbell", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _chat(self, request: Request) -> dict[str, Any]:
        chat_id = request.chat_id or 0
        kind = self.chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = f"Group {chat_id}"
        return chat

    def _message(self, request: Request, **content: Any) -> dict[str, Any]:
        message = {"message_id": next(self._message_ids), "date": 1737990000, "chat": self._chat(request),
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "tickerbell", "username": self.username}}
        message.update(content)
        if "reply_markup" in request.params:
            message["reply_markup"] = request.json("reply_markup")
        return message

    async def _api_getMe(self, request: Request) -> Any:
        return self._bot_user()

    async def _api_deleteWebhook(self, request: Request) -> Any:
        return True

    async def _api_setMyCommands(self, request: Request) -> Any:
        return True

    async def _api_answerCallbackQuery(self, request: Request) -> Any:
        return True

    async def _api_getUpdates(self, request: Request) -> Any:
        offset = int(request.params.get("offset", "0") or 0)
        timeout = float(request.params.get("timeout", "0") or 0)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= offset]

        if not pending() and timeout > 0:
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait_for(lambda: self._closing or bool(pending())), min(timeout, LONG_POLL_CAP))
            except TimeoutError:
                pass
        return pending()[:100]

    async def _api_sendMessage(self, request: Request) -> Any:
        return self._message(request, text=request.params.get("text", ""))

    async def _api_sendPhoto(self, request: Request) -> Any:
        photo = [{"file_id": "photo-1", "file_unique_id": "u1", "width": 800, "height": 450, "file_size": len(request.files.get("photo", b""))}]
        content: dict[str, Any] = {"photo": photo}
        if "caption" in request.params:
            content["caption"] = request.params["caption"]
        return self._message(request, **content)

    async def _api_sendDocument(self, request: Request) -> Any:
        data = request.files.get("document", b"")
        content: dict[str, Any] = {"document": {"file_id": "document-1", "file_unique_id": "d1", "file_size": len(data)}}
        if "caption" in request.params:
            content["caption"] = request.params["caption"]
        return self._message(request, **content)

    async def _api_editMessageText(self, request: Request) -> Any:
        message = self._message(request, text=request.params.get("text", ""))
        message["message_id"] = int(request.params.get("message_id", "0"))
        return message

    async def _api_editMessageCaption(self, request: Request) -> Any:
        message = self._message(request, caption=request.params.get("caption", ""))
        message["message_id"] = int(request.params.get("message_id", "0"))
        return message

    async def _api_getChatMember(self, request: Request) -> Any:
        chat_id = request.chat_id or 0
        user_id = int(request.params.get("user_id", "0"))
        status = self.members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "Member"}}
        if status == "administrator":
            member.update(ADMIN_RIGHTS)
        elif status == "creator":
            member["is_anonymous"] = False
        return member
