"""The Telegram adapter: python-telegram-bot (long polling) inside our own event loop.

Commands: one handler takes every command message (`/cmd`, `/cmd@ourbot`) and hands it to
the core's router, so every command in the table works, in private chats and groups, with
no list of commands here. `/start` is answered with `/help`. A command addressed to
another bot (`/cmd@otherbot`) is left alone. The menu (`setMyCommands`) is made from the
table at start-up.

Rights: the core decides; the adapter only says whether the sender manages the chat
(`is_chat_manager`): always in a private chat, in a group when `getChatMember` says
creator or administrator (cached about five minutes on the core's clock).

Delivery faults, as the outbox dispatcher expects them (see `bot.core.delivery`):

    RetryAfter (429)                         -> RetryLater(retry_after)
    Forbidden (403: blocked, kicked)         -> ChatUnavailable
    BadRequest "chat not found" and kin      -> ChatUnavailable
    ChatMigrated (group became supergroup)   -> ChatUnavailable (the new id is in the message)
    other BadRequest, NetworkError, TimedOut -> DeliveryError (retried with backoff)

Pacing: `PacedRateLimiter`, python-telegram-bot's `AIORateLimiter` (30 messages a second
overall, 20 a minute per group) plus about one a second per chat, with `max_retries=0` so a
429 is not slept on inside the library but reaches the dispatcher, which schedules the
resend `retry_after` seconds later on its own clock. The adapter also remembers the wait
per chat and answers further sends to that chat with `RetryLater` without calling Telegram.

Fairness: each chat's commands (and button presses) wait in a queue of their own
(`ChatLanes`), answered in order by one task per busy chat, so a chat waiting on its own
pacing never holds up another. At most `chat_queue_limit` (20) wait per chat: beyond that,
new commands are dropped, the chat gets one "slow down" reply, and one log line gives the
count once its queue has emptied. On stop, commands still waiting are dropped with a log line.

The token never reaches a log line: httpx (which logs request URLs, token included) is
raised to WARNING, and a log-record factory replaces the token in every record.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.adapters.telegram.render import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Keyboard,
    OutMessage,
    decode_action,
    done_line,
    plain_fallback,
    render_alert,
    render_reply,
    short,
    telegram_length,
)
from bot.adapters.telegram.webhook import WebhookEndpoint
from bot.config import ConfigError, TelegramConfig
from bot.core.clock import Clock
from bot.core.commands import Access
from bot.core.delivery import ChatUnavailable, DeliveryError, RetryLater
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert, Document, Reply, Tone, error_reply
from bot.core.models import ChatKind, ChatRef, UserRef, direct_user_id
from bot.core.router import CommandRouter, Invocation

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
REPLY_RETRY_LIMIT = 10.0  # a reply hit by flood control is re-sent once if the wait is this short
CHAT_QUEUE_LIMIT = 20  # commands that may wait in one chat's queue; more are dropped
LANE_STOP_GRACE = 0.5  # seconds a command being answered gets to finish when the adapter stops
MAX_DOCUMENT = 256 * 1024  # bytes of a file read with a command (an /import CSV)
SLOW_DOWN = ("Slow down, please: {limit} commands are already waiting in this chat, and they are answered about one a second. "
             "Newer ones were dropped; send them again once these are answered.")
# BadRequest descriptions that mean the bot cannot post in the chat any more.
_CHAT_GONE = (
    "chat not found",
    "bot was kicked",
    "bot is not a member",
    "user is deactivated",
    "group chat was deactivated",
    "have no rights to send",
    "not enough rights to send",
    "chat_write_forbidden",
    "peer_id_invalid",
)
_NUMERIC_ID = re.compile(r"^-?\d{1,20}$")


# -- keeping the token out of logs ---------------------------------------------------------------


class _Redactor:
    """A log-record factory that replaces secrets in every record, whatever logger made it.

    A `logging.Filter` only sees records of the logger (or handler) it is attached to;
    python-telegram-bot and httpx log through many child loggers, so the record factory is
    the one place that sees them all. Installed once; secrets are added per adapter.
    """

    MASK = "[telegram-token]"

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._previous: Any = None

    def add(self, token: str) -> None:
        self.secrets.add(token)
        _, _, secret = token.partition(":")
        if len(secret) >= 8:
            self.secrets.add(secret)
        if self._previous is None:
            self._previous = logging.getLogRecordFactory()
            logging.setLogRecordFactory(self._make)

    def clean(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, self.MASK)
        return text

    def _make(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self._previous(*args, **kwargs)
        if self.secrets:
            self._scrub(record)
        return record

    def _scrub(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = self.clean(text)
            if cleaned != text:
                record.exc_text = cleaned
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)


_REDACTOR = _Redactor()


class _DropHandledFloodLog(logging.Filter):
    """AIORateLimiter logs a 429 it re-raises (max_retries=0) as an ERROR with a traceback.
    We handle that 429 (RetryLater) and log it once, as a warning; drop the library's copy."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not record.getMessage().startswith("Rate limit hit after maximum of 0 retries")
        except Exception:
            return True


def _quiet_library_logs() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _drop_handled_flood_log() -> None:
    limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if not any(isinstance(f, _DropHandledFloodLog) for f in limiter_log.filters):
        limiter_log.addFilter(_DropHandledFloodLog())


# -- pacing ----------------------------------------------------------------------------------------


class PacedRateLimiter(AIORateLimiter):
    """AIORateLimiter (about 30 messages a second overall, 20 a minute per group) plus about
    one message a second per chat (a burst of `per_chat_rate` within `per_chat_period`).

    `max_retries` is 0: a 429 is re-raised as `RetryAfter` instead of being slept on here,
    so that the outbox dispatcher schedules the resend and nothing else waits on it.
    """

    _SENDING = ("send", "edit", "copy", "forward")

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        group_max_rate: float = 20,
        group_time_period: float = 60,
        per_chat_rate: float = 3,
        per_chat_period: float = 3,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_max_rate,
            overall_time_period=1,
            group_max_rate=group_max_rate,
            group_time_period=group_time_period,
            max_retries=0,
        )
        _drop_handled_flood_log()
        self.per_chat_rate = per_chat_rate
        self.per_chat_period = per_chat_period
        self.chat_limiters: dict[str, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: object) -> AsyncLimiter:
        key = str(chat_id)
        if len(self.chat_limiters) > 1024:
            for other, idle in list(self.chat_limiters.items()):
                if other != key and idle.has_capacity(idle.max_rate):
                    del self.chat_limiters[other]
        limiter = self.chat_limiters.get(key)
        if limiter is None:
            limiter = self.chat_limiters[key] = AsyncLimiter(self.per_chat_rate, self.per_chat_period)
        return limiter

    async def process_request(
        self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any], rate_limit_args: int | None
    ) -> Any:
        chat_id = data.get("chat_id")
        if chat_id is None or not self.per_chat_rate or not endpoint.startswith(self._SENDING):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self._chat_limiter(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class SturdyBot(ExtBot[int]):  # int: AIORateLimiter's rate_limit_args
    """ExtBot that skips an update it cannot read instead of stalling on it.

    python-telegram-bot parses a whole getUpdates batch at once; one update it cannot parse
    (a missing field) fails the batch, the offset never moves, and the same batch is
    fetched again forever. Here each raw update is tried first; one that does not parse is
    logged and replaced by its bare update_id, so that polling moves past it.
    """

    async def _post(self, endpoint: str, data: Any = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            result = [readable for readable in (self._readable(item) for item in result) if readable is not None]
        return result

    def _readable(self, item: Any) -> Any:
        try:
            Update.de_json(copy.deepcopy(item), self)
            return item
        except Exception as problem:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            log.warning("telegram: skipped update %s that could not be read (%s: %s)", update_id, type(problem).__name__, problem)
            return {"update_id": update_id} if isinstance(update_id, int) else None


# The application as `_build` makes it: a SturdyBot; its context and data types are not spelled out.
_App = Application[SturdyBot, Any, Any, Any, Any, Any]


def retry_seconds(flood: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA; seconds either way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = flood.retry_after
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    return max(0.0, float(value))


# -- fairness: one bounded queue of commands per chat -----------------------------------------------

Job = Callable[[], Awaitable[None]]


@dataclass
class _Lane:
    """One chat's commands waiting to be answered, and the task answering them."""

    chat: ChatRef
    waiting: deque[tuple[Job, asyncio.Future[None]]] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    dropped: int = 0  # since the queue was last empty


class ChatLanes:
    """Each chat's commands in a queue of their own, answered in order by one task per busy chat.

    A chat waiting on its own pacing (about a message a second on Telegram) delays only itself.
    A queue holds at most `limit` waiting commands: more are dropped, the first drop calls
    `on_overflow` (the one "slow down" reply), and when the queue empties one log line gives
    the count. An idle chat holds no task and no memory.
    """

    def __init__(self, *, limit: int, on_overflow: Callable[[ChatRef], Coroutine[Any, Any, None]]) -> None:
        self.limit = limit
        self._on_overflow = on_overflow
        self._lanes: dict[str, _Lane] = {}
        self._side: set[asyncio.Task[None]] = set()  # the "slow down" replies being sent
        self._closed = False

    def submit(self, chat: ChatRef, job: Job) -> asyncio.Future[None] | None:
        """Queue `job` for `chat`: a future set once it has run (or was dropped at stop); None if dropped now."""
        if self._closed:
            return None
        lane = self._lanes.get(chat.key)
        if lane is None:
            lane = self._lanes[chat.key] = _Lane(chat)
        if len(lane.waiting) >= self.limit:
            self._drop(lane)
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiting.append((job, done))
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._serve(lane), name=f"telegram chat {chat.key}")
        return done

    def _drop(self, lane: _Lane) -> None:
        lane.dropped += 1
        if lane.dropped == 1:
            task: asyncio.Task[None] = asyncio.create_task(self._on_overflow(lane.chat), name=f"telegram slow down {lane.chat.key}")
            self._side.add(task)
            task.add_done_callback(self._side.discard)

    async def _serve(self, lane: _Lane) -> None:
        try:
            while lane.waiting:
                job, done = lane.waiting.popleft()
                try:
                    await job()
                except Exception:
                    log.exception("telegram: answering a command in chat %s failed", lane.chat.key)
                finally:
                    _settle(done)
        finally:
            lane.worker = None
            if not lane.waiting and self._lanes.get(lane.chat.key) is lane:
                del self._lanes[lane.chat.key]
            if lane.dropped:
                log.warning("telegram: chat %s sent commands faster than they could be answered; %d dropped", lane.chat.key, lane.dropped)
                lane.dropped = 0

    async def close(self, *, grace: float) -> None:
        """Take no more commands; drop those waiting (one log line); give those being answered
        `grace` seconds, then cancel them."""
        self._closed = True
        lanes = list(self._lanes.values())
        waiting = sum(len(lane.waiting) for lane in lanes)
        for lane in lanes:
            for _, done in lane.waiting:
                _settle(done)
            lane.waiting.clear()
        if waiting:
            log.warning("telegram: stopping; %d commands not answered yet were dropped", waiting)
        running = [lane.worker for lane in lanes if lane.worker is not None] + list(self._side)
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=0.1)


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _command_or_press(update: Update) -> bool:
    """An update `_on_command` or `_on_button` takes (a command message, a button press)."""
    if update.callback_query is not None:
        return True
    return (update.message or update.channel_post) is not None and bool(filters.COMMAND.check_update(update))


def _one_at_a_time(concurrent_updates: int | bool) -> bool:
    """Whether python-telegram-bot hands over one update at a time (False, or 1; True means 256)."""
    return concurrent_updates is False or (concurrent_updates is not True and int(concurrent_updates) <= 1)


# -- the adapter --------------------------------------------------------------------------------------


class TelegramAdapter:
    platform = PLATFORM

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        router: CommandRouter,
        *,
        describer: AlertDescriber,
        poll_timeout: int = 30,
        member_cache_seconds: float = 300.0,
        rate_limiter: AIORateLimiter | None = None,
        concurrent_updates: int | bool = 8,
        chat_queue_limit: int = CHAT_QUEUE_LIMIT,
        receive: bool = True,
        webhook_secret: str = "",
    ) -> None:
        """`concurrent_updates`: the library's updates handled at once; with False (tests), each
        update waits until its command is answered, so updates are handled strictly in order."""
        self.config = config
        self._token = token
        self.router = router
        self.describer = describer
        self.poll_timeout = poll_timeout
        self.member_cache = timedelta(seconds=member_cache_seconds)
        self.rate_limiter = rate_limiter or PacedRateLimiter()
        self.concurrent_updates = concurrent_updates
        self.chat_queue_limit = chat_queue_limit
        self.receive = receive  # False: send only (a delivery process; another process receives)
        self.webhook_secret = webhook_secret  # [telegram] mode = "webhook": the secret Telegram sends with each update
        self.webhook: WebhookEndpoint | None = None
        self.username = ""
        self._app: _App | None = None
        self._lanes: ChatLanes | None = None
        self._stopping = False
        self._managers: dict[tuple[str, str], tuple[bool, datetime]] = {}

    def __repr__(self) -> str:
        return f"TelegramAdapter(@{self.username or '?'}, api={self.config.api_base_url})"

    @property
    def clock(self) -> Clock:
        return self.router.clock

    @property
    def running(self) -> bool:
        return self._app is not None

    # -- Adapter protocol ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._app is not None:
            return
        _REDACTOR.add(self._token)
        _quiet_library_logs()
        app: _App | None = None
        try:
            app = self._build()
            await app.initialize()  # getMe: checks the token
        except InvalidToken:
            if app is not None:
                await _quietly(app.bot.shutdown())
            raise ConfigError(
                f"Telegram rejected the bot token in the environment variable {self.config.token_env}: "
                "set it to the token @BotFather gave you (or check [telegram] api_base_url if you run your own Bot API server)."
            ) from None
        except TelegramError as problem:
            if app is not None:
                await _quietly(app.bot.shutdown())
            raise ConfigError(
                f"could not reach the Telegram Bot API at {self.config.api_base_url} "
                f"({type(problem).__name__}: {_REDACTOR.clean(problem.message)}): check the network or [telegram] api_base_url."
            ) from None
        try:
            self.username = app.bot.username or ""
            await self._publish_commands(app)
            self._lanes = ChatLanes(limit=self.chat_queue_limit, on_overflow=self._slow_down)
            self._add_handlers(app)
            await app.start()
            assert app.updater is not None
            if not self.receive:
                self._app = app
                log.info("telegram: sending as @%s (another process receives updates)", self.username)
                return
            if self.config.mode == "webhook":
                self.webhook = WebhookEndpoint(app, self.config, self.webhook_secret, allowed_updates=list(ALLOWED_UPDATES))
                await self.webhook.start()
                self._app = app
                return
            await app.updater.start_polling(
                timeout=self.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
                error_callback=self._on_polling_error,
            )
        except BaseException:
            await self._shutdown(app)
            raise
        self._app = app
        log.info("telegram: polling as @%s", self.username)

    async def stop(self) -> None:
        app = self._app
        if app is None or self._stopping:
            return
        self._stopping = True
        try:
            await self._shutdown(app)  # lets handlers that are running finish their replies
        finally:
            self._app = None
            self._stopping = False

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        if self._app is None:
            raise DeliveryError("the Telegram adapter is not running")
        chats = self.router.chats  # the core's one record of who can be reached and who is held
        if not await chats.reachable(chat):
            raise ChatUnavailable(f"Telegram chat {chat.chat_id} refused the bot earlier and has not spoken since")
        held = chats.held_until(chat)
        if held is not None:
            raise RetryLater(f"Telegram flood control for chat {chat.chat_id}", retry_after=(held - self.clock.now()).total_seconds())
        try:
            for out in render_alert(alert, self.describer, chat, available=self._available()):
                await self._send(_chat_id(chat), out)
        except RetryAfter as flood:
            wait = retry_seconds(flood)
            raise RetryLater(f"Telegram flood control: retry after {wait:g} s", retry_after=wait) from None
        except Forbidden as problem:
            raise ChatUnavailable(f"Telegram: {problem.message}") from None
        except ChatMigrated as moved:
            raise ChatUnavailable(f"Telegram: the group became the supergroup {moved.new_chat_id}") from None
        except BadRequest as problem:
            if _chat_gone(problem.message):
                raise ChatUnavailable(f"Telegram: {problem.message}") from None
            raise DeliveryError(f"Telegram refused the message: {problem.message}") from None
        except TelegramError as problem:  # NetworkError, TimedOut, 5xx, ...
            raise DeliveryError(f"Telegram: {type(problem).__name__}: {_REDACTOR.clean(problem.message)}") from None

    # -- set-up ----------------------------------------------------------------------------------------------

    def _build(self) -> _App:
        base = self.config.api_base_url.rstrip("/")
        root = base[: -len("/bot")] if base.endswith("/bot") else base
        bot = SturdyBot(
            token=self._token,
            base_url=base,
            base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(connection_pool_size=64),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
            rate_limiter=self.rate_limiter,
        )
        return Application.builder().bot(bot).concurrent_updates(self.concurrent_updates).job_queue(None).build()

    async def _publish_commands(self, app: _App) -> None:
        commands = []
        for command in self.router.commands:
            if re.fullmatch(r"[a-z0-9_]{1,32}", command.name):
                commands.append(BotCommand(command.name, command.summary[:256]))
            else:
                log.warning("telegram: /%s cannot be in the menu (Telegram allows a-z, 0-9 and _)", command.name[:40])
        try:
            await app.bot.set_my_commands(commands)
        except TelegramError as problem:
            log.warning("telegram: could not set the command menu (%s); commands still work", problem.message)

    def _add_handlers(self, app: _App) -> None:
        app.add_handler(TypeHandler(Update, self._on_any_update), group=-1)
        app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(MessageHandler(filters.COMMAND & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST), self._on_command))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, self._on_chatter))
        app.add_handler(MessageHandler(filters.Document.ALL & filters.CaptionRegex(r"^/\w") & filters.UpdateType.MESSAGE, self._on_document))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_error_handler(self._on_error)

    async def _shutdown(self, app: _App) -> None:
        try:
            if self.webhook is not None:
                await self.webhook.stop()
                self.webhook = None
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if self._lanes is not None:
                await self._lanes.close(grace=LANE_STOP_GRACE)
            if app.running:
                await app.stop()
        finally:
            self._lanes = None
            await _quietly(app.shutdown())

    # -- updates ---------------------------------------------------------------------------------------------

    async def _on_any_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any update from a chat marked inactive (it blocked or removed us) brings it back."""
        if update.my_chat_member is not None:
            return  # _on_membership decides from the new status
        if _command_or_press(update):
            return  # their handlers do it, after queueing them: nothing awaited here can reorder a chat's commands
        chat = update.effective_chat
        if chat is None:
            return
        await self._set_active(self._chat_ref(chat), True)

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        status = change.new_chat_member.status
        chat = self._chat_ref(change.chat)
        if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
            await self._set_active(chat, False, reason=f"the bot's status became {status}")
        else:
            await self._set_active(chat, True)

    async def _set_active(self, chat: ChatRef, active: bool, *, reason: str = "") -> None:
        """Tell the core a chat is back (it spoke, or let the bot in) or gone (it removed the bot)."""
        try:
            if active:
                await self.router.chats.seen(chat)
            elif await self.router.chats.gone(chat, reason):
                log.info("telegram: chat %s is inactive (%s); its alerts stop", chat.key, reason)
        except Exception:
            log.exception("telegram: could not record whether chat %s is active", chat.key)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        where, message_id = self._chat_ref(chat), message.message_id
        parsed = self._parse_command(message) if message.text else None
        sender = _sender(message, chat)
        if parsed is None or sender is None:
            await self._set_active(where, True)  # the chat spoke, if not to us
            return
        name, rest = parsed
        user, anonymous_admin = sender

        async def answer() -> None:
            await self._set_active(where, True)
            manager = await self._is_manager(where, user, name, anonymous_admin=anonymous_admin)
            replies = await self.router.handle_text(f"/{name}{rest}", chat=where, user=user, is_chat_manager=manager)
            await self._send_replies(where, replies, reply_to=message_id)

        await self._queue(where, answer)

    async def _on_chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An ordinary message: answered only when a feature wants it in this chat (cashtags).
        In groups Telegram sends these only with the bot's privacy mode off, or to an admin bot."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not message.text:
            return
        where = self._chat_ref(chat)
        sender = _sender(message, chat)
        if sender is None or not self.router.hears(where, message.text):
            return
        user, text, message_id = sender[0], message.text, message.message_id

        async def answer() -> None:
            replies = await self.router.handle_chatter(text, chat=where, user=user)
            if replies:
                await self._send_replies(where, replies, reply_to=message_id)

        await self._queue(where, answer)

    async def _on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file whose caption is a command (/import with a CSV): the command runs with the file."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or message.document is None or not message.caption:
            return
        where, message_id = self._chat_ref(chat), message.message_id
        head, _, rest = message.caption.strip().partition(" ")
        name, _, target = head[1:].partition("@")
        sender = _sender(message, chat)
        if sender is None or (target and target.lower() != self.username.lower()) or self.router.commands.get(name.lower()) is None:
            return
        user, anonymous_admin = sender
        document = message.document

        async def answer() -> None:
            if (document.file_size or 0) > MAX_DOCUMENT:
                reply = error_reply(f"The file {(document.file_name or 'sent')[:40]} is too large (at most {MAX_DOCUMENT:,} bytes).")
                await self._send_replies(where, [reply], reply_to=message_id)
                return
            try:
                data = bytes(await (await document.get_file()).download_as_bytearray())
            except TelegramError as problem:
                log.warning("telegram: could not download a file in %s (%s)", where.key, problem.message)
                await self._send_replies(where, [error_reply("The file could not be read from Telegram; please send it again.")], reply_to=message_id)
                return
            manager = await self._is_manager(where, user, name.lower(), anonymous_admin=anonymous_admin)
            replies = await self.router.handle_text(f"/{name.lower()} {rest}", chat=where, user=user, is_chat_manager=manager,
                                                    attachment=Document(document.file_name or "file", data))
            await self._send_replies(where, replies, reply_to=message_id)

        await self._queue(where, answer)

    async def _queue(self, chat: ChatRef, job: Job) -> None:
        """Hand a command to its chat's queue; with one update at a time, wait until it is answered."""
        done = self._lanes.submit(chat, job) if self._lanes is not None else None
        if done is not None and _one_at_a_time(self.concurrent_updates):
            await done

    async def _slow_down(self, chat: ChatRef) -> None:
        """The one reply to a chat whose queue overflowed."""
        notice = Reply(title=SLOW_DOWN.format(limit=self.chat_queue_limit), tone=Tone.WARNING)
        await self._send_replies(chat, [notice], reply_to=None)

    def _parse_command(self, message: Message) -> tuple[str, str] | None:
        """("price", " NVDA") from "/price@ourbot NVDA"; None when it is not for us."""
        text = message.text or ""
        entity = message.entities[0] if message.entities else None
        if entity is None or entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
            return None
        try:
            head = message.parse_entity(entity)
        except Exception:
            head = ""
        if not head.startswith("/") or not text.startswith(head):
            head = text.split(maxsplit=1)[0] if text.split() else ""
            if not head.startswith("/"):
                return None
        name, _, target = head[1:].partition("@")
        if target and target.lower() != self.username.lower():
            return None  # addressed to another bot in the group
        name = name.lower()
        if not name:
            return None
        if not target and message.chat.type != ChatType.PRIVATE and self.router.commands.get(name) is None:
            return None  # a bare command we lack, in a group: likely another bot's; stay quiet
        if name == "start" and self.router.commands.get("start") is None:
            return "help", ""  # what a new user's first tap sends; deep-link payloads are ignored
        words = text[len(head) :].split()
        return name, (" " + " ".join(words)) if words else ""

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        decoded = decode_action(query.data)
        message = query.message
        if decoded is None or not isinstance(message, Message) or self.router.commands.get(decoded[0]) is None:
            if isinstance(message, Message):
                await self._set_active(self._chat_ref(message.chat), True)
            await self._answer(query, "This button no longer works.")
            return
        chat = self._chat_ref(message.chat)
        await self._queue(chat, lambda: self._press(query, message, chat, *decoded))

    async def _press(self, query: CallbackQuery, message: Message, chat: ChatRef, command: str, args: tuple[str, ...]) -> None:
        """Run a button's command as the member who pressed it, and answer the press (in the chat's queue)."""
        await self._set_active(chat, True)
        user = UserRef(PLATFORM, str(query.from_user.id), _display_name(query.from_user))
        manager = await self._is_manager(chat, user, command)
        replies = await self.router.handle(Invocation(chat=chat, user=user, command=command, args=args, is_chat_manager=manager))
        if not replies:
            await self._answer(query, "Done.")
            return
        head = replies[0]
        if head.tone is Tone.ERROR:
            await self._answer(query, head.title, alert=True)
            return
        # Buttons whose command has a done_verb (snooze, remove) mark the alert they sit on;
        # others (the primer) answer with a new message.
        spec = self.router.commands.get(command)
        verb = spec.done_verb if spec else None
        if verb is None:
            await self._answer(query, head.title)
            await self._send_replies(chat, replies, reply_to=message.message_id)
            return
        await self._answer(query, head.title)
        await self._mark_done(message, verb, user, removed_rule=args[0] if verb == "removed" and args else None)

    async def _answer(self, query: Any, text: str, *, alert: bool = False) -> None:
        try:
            await query.answer(text=short(text), show_alert=alert)
        except TelegramError as problem:  # too old to answer: nothing to do
            log.debug("telegram: could not answer a button press (%s)", problem.message)

    async def _mark_done(self, message: Message, verb: str, user: UserRef, *, removed_rule: str | None) -> None:
        """Edit the alert a button sits on: "— snoozed by Alice"; drop the buttons of a removed rule."""
        markup = message.reply_markup
        if removed_rule is not None and markup is not None:
            markup = _without_rule_buttons(markup, removed_rule, {c.name for c in self.router.commands if c.done_verb})
        line = done_line(verb, user.label)
        bot = self._bot()
        try:
            if message.text is not None:
                text = f"{message.text_html}\n{line}"
                if telegram_length(text) > MESSAGE_LIMIT:
                    return
                await bot.edit_message_text(
                    chat_id=message.chat.id, message_id=message.message_id, text=text,
                    parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW,
                )
            elif message.caption is not None:
                caption = f"{message.caption_html}\n{line}"
                if telegram_length(caption) > CAPTION_LIMIT:
                    return
                await bot.edit_message_caption(
                    chat_id=message.chat.id, message_id=message.message_id, caption=caption,
                    parse_mode=ParseMode.HTML, reply_markup=markup,
                )
        except TelegramError as problem:
            log.info("telegram: could not edit message %s in %s (%s)", message.message_id, message.chat.id, problem.message)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: handling update %s failed", update_id, exc_info=context.error)

    def _on_polling_error(self, problem: TelegramError) -> None:
        if isinstance(problem, Conflict):
            log.error("telegram: another process is polling with this bot's token (%s); stop it", problem.message)
        elif isinstance(problem, NetworkError):
            log.warning("telegram: polling failed (%s: %s); retrying", type(problem).__name__, _REDACTOR.clean(problem.message))
        else:
            log.error("telegram: polling failed (%s: %s)", type(problem).__name__, _REDACTOR.clean(problem.message))

    # -- rights ------------------------------------------------------------------------------------------------

    async def _is_manager(self, chat: ChatRef, user: UserRef, command: str, *, anonymous_admin: bool = False) -> bool:
        if chat.kind is ChatKind.PRIVATE or anonymous_admin:
            return True
        declared = self.router.commands.get(command)
        if declared is None or declared.access is not Access.CHAT_MANAGER:
            return False  # only ask Telegram when the answer matters
        if not user.user_id.isdigit():
            return False  # a channel speaking in a group is not one of its admins
        key = (chat.chat_id, user.user_id)
        now = self.clock.now()
        cached = self._managers.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self._bot().get_chat_member(chat_id=_chat_id(chat), user_id=int(user.user_id))
        except Exception as problem:
            log.warning("telegram: could not ask whether %s manages chat %s (%s); treating them as a member", user.key, chat.key, problem)
            return False
        allowed = member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
        if len(self._managers) > 10_000:
            self._managers = {k: v for k, v in self._managers.items() if v[1] > now}
        self._managers[key] = (allowed, now + self.member_cache)
        return allowed

    # -- sending -----------------------------------------------------------------------------------------------

    def _available(self) -> set[str]:
        return set(self.router.commands.names())

    def _bot(self) -> ExtBot[Any]:
        if self._app is None:
            raise DeliveryError("the Telegram adapter is not running")
        return self._app.bot

    async def _send_replies(self, chat: ChatRef, replies: list[Reply], *, reply_to: int | None) -> None:
        """Send replies to a command; the first message answers (quotes) the command."""
        target = _chat_id(chat)
        quote = reply_to
        for reply in replies:
            for out in render_reply(reply, available=self._available()):
                try:
                    await self._send(target, out, reply_to=quote)
                except RetryAfter as flood:
                    wait = retry_seconds(flood)
                    if wait > REPLY_RETRY_LIMIT:
                        log.warning("telegram: flood control on %s (retry after %g s); a reply was dropped", chat.key, wait)
                        return
                    await asyncio.sleep(wait)
                    try:
                        await self._send(target, out, reply_to=quote)
                    except TelegramError as problem:
                        log.warning("telegram: a reply to %s failed after waiting (%s)", chat.key, problem.message)
                        return
                except TelegramError as problem:
                    log.warning("telegram: a reply to %s failed (%s: %s)", chat.key, type(problem).__name__, _REDACTOR.clean(problem.message))
                    return
                quote = None
            if reply.document is not None:  # an /export file, after its message
                try:
                    await self._bot().send_document(chat_id=target, document=InputFile(reply.document.data, filename=reply.document.filename),
                                                    caption=reply.document.description[:1024] or None)
                except TelegramError as problem:
                    log.warning("telegram: a file for %s failed (%s: %s)", chat.key, type(problem).__name__, _REDACTOR.clean(problem.message))
                    return

    async def _send(self, chat_id: int | str, out: OutMessage, *, reply_to: int | None = None) -> Message:
        try:
            return await self._post(chat_id, out, out.text, ParseMode.HTML, reply_to)
        except BadRequest as problem:
            if "can't parse entities" not in problem.message.lower():
                raise
            log.warning("telegram: our HTML was refused (%s); sending it as plain text", problem.message)
            return await self._post(chat_id, out, plain_fallback(out.text), None, reply_to)

    async def _post(self, chat_id: int | str, out: OutMessage, text: str, parse_mode: str | None, reply_to: int | None) -> Message:
        bot = self._bot()
        markup = _markup(out.keyboard)
        quoting = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        if out.photo is not None:
            return await bot.send_photo(
                chat_id=chat_id,
                photo=InputFile(out.photo.data, filename=out.photo.filename),
                caption=text,
                parse_mode=parse_mode,
                reply_markup=markup,
                reply_parameters=quoting,
            )
        return await bot.send_message(
            chat_id=chat_id,
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_parameters=quoting,
            link_preview_options=NO_PREVIEW,
            disable_notification=out.silent or None,  # a silent alert (/settings, quiet hours)
        )

    @staticmethod
    def _chat_ref(chat: Chat) -> ChatRef:
        if chat.type == ChatType.PRIVATE:
            kind = ChatKind.PRIVATE
        elif chat.type == ChatType.CHANNEL:
            kind = ChatKind.CHANNEL
        else:
            kind = ChatKind.GROUP
        return ChatRef(PLATFORM, str(chat.id), kind)


# -- helpers ---------------------------------------------------------------------------------------------------


def _chat_id(chat: ChatRef) -> int | str:
    """Telegram's chat id; a member's direct chat (`user:ID`) is their private chat, whose id is theirs."""
    chat_id = direct_user_id(chat) or chat.chat_id
    return int(chat_id) if _NUMERIC_ID.match(chat_id) else chat_id


def _chat_gone(description: str) -> bool:
    text = description.lower()
    return any(phrase in text for phrase in _CHAT_GONE)


def _display_name(user: User) -> str:
    name = " ".join((user.full_name or "").split())[:64]
    return name or (user.username or "") or str(user.id)


def _sender(message: Message, chat: Chat) -> tuple[UserRef, bool] | None:
    """Who sent a command, and whether that is the group itself (an anonymous admin)."""
    sender_chat = message.sender_chat
    if sender_chat is not None:  # an anonymous group admin, or a channel posting
        name = " ".join((sender_chat.title or sender_chat.username or "").split())[:64] or str(sender_chat.id)
        return UserRef(PLATFORM, str(sender_chat.id), name), sender_chat.id == chat.id
    user = message.from_user
    if user is None or user.is_bot:
        return None
    return UserRef(PLATFORM, str(user.id), _display_name(user)), False


def _markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])


def _without_rule_buttons(markup: InlineKeyboardMarkup, rule_id: str, rule_commands: set[str]) -> InlineKeyboardMarkup | None:
    """The keyboard without the buttons that act on a rule that is gone."""
    rows = []
    for row in markup.inline_keyboard:
        kept = []
        for button in row:
            decoded = decode_action(button.callback_data if isinstance(button.callback_data, str) else None)
            if decoded and decoded[0] in rule_commands and decoded[1][:1] == (rule_id,):
                continue
            kept.append(button)
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(rows) if rows else None


async def _quietly(step: Awaitable[object]) -> None:
    with contextlib.suppress(Exception):
        await step
