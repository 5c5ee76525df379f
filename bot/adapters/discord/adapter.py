"""The Discord adapter: slash commands made from the command table, embeds, buttons, alerts.

discord.py runs inside our event loop (`login()` here, `connect()` in a task; never
`client.run()`). Every command in `router.commands` becomes a slash command, synced in
`setup_hook` to the configured guilds (instant) or globally. Options are typed from the
table (tickers autocomplete from the tickers the bot knows, fixed words are choices) and
turned back into the list of words the core parses, in table order.

Interactions are answered exactly once. A command that answers within `answer_within`
seconds gets its reply as the interaction response, ephemeral when it is an error or
private; a slower one is deferred ("thinking…") and answered by a followup. Buttons carry
their action in the custom_id (`tb:snooze:12:1`), are `DynamicItem`s and so work after a
restart; a press runs the command as the member who pressed.

Delivery faults map onto the core's exceptions: 403/404 from a channel is
`ChatUnavailable`, a 429 that discord.py would wait out for too long is `RetryLater`,
5xx and network errors are `DeliveryError`. discord.py's own rate limiting is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.utils import MISSING

from bot.adapters.discord.render import (
    CUSTOM_ID_PATTERN,
    ButtonSpec,
    Rendered,
    cut,
    decode_custom_id,
    done_field,
    embed_size,
    is_acknowledgement,
    render_alert_messages,
    render_replies,
    render_reply,
    safe_filename,
)
from bot.config import ConfigError, DiscordConfig
from bot.core.commands import Arg, ArgKind, Command
from bot.core.delivery import ChatUnavailable, DeliveryError, RetryLater
from bot.core.describe import AlertDescriber
from bot.core.messages import Alert, Document, Reply, error_reply
from bot.core.models import ChatKind, ChatRef, UserRef, direct_user_id
from bot.core.router import CommandRouter, Invocation

log = logging.getLogger(__name__)

DISCORD_API = "https://discord.com/api/v10"
DESCRIPTION_LIMIT = 100  # command and option descriptions
MAX_STRING_OPTION = 6000  # Discord's largest max_length for a string option
MAX_CHOICES = 25
AUTOCOMPLETE_LIMIT = 25
MAX_INTEGER_DIGITS = 12  # the core reads at most 12 digits
MAX_ATTACHMENT = 256 * 1024  # bytes of a file option read (an /import CSV)

_STYLES = {"primary": discord.ButtonStyle.primary, "secondary": discord.ButtonStyle.secondary, "danger": discord.ButtonStyle.danger}
_STYLE_NAMES = {value: key for key, value in _STYLES.items()}
_OPTION_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID_PATTERN):  # type: ignore[type-arg]
    """A persistent button whose custom_id says what to run: `tb:<command>:<arg>:<arg>`."""

    def __init__(self, spec: ButtonSpec) -> None:
        super().__init__(
            discord.ui.Button(label=spec.label, custom_id=spec.custom_id, style=_STYLES.get(spec.style, discord.ButtonStyle.secondary), disabled=spec.disabled)
        )
        self.spec = spec

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /) -> ActionButton:
        button = item if isinstance(item, discord.ui.Button) else None
        label = (button.label if button else None) or match.group("command")
        style = _STYLE_NAMES.get(button.style, "secondary") if button else "secondary"
        return cls(ButtonSpec(label=label, custom_id=match.group(0), style=style, disabled=bool(button and button.disabled)))

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter = getattr(interaction.client, "tickerbell", None)
        if isinstance(adapter, DiscordAdapter):
            await adapter.on_button(interaction, self.spec.custom_id)


class _TickerbellHooks:
    tickerbell: DiscordAdapter

    async def setup_hook(self) -> None:
        await self.tickerbell._setup(self)  # type: ignore[arg-type]

    async def on_message(self, message: discord.Message) -> None:
        """Only with [discord] message_content: ordinary messages, for cashtags."""
        await self.tickerbell.on_message(message)


class TickerbellClient(_TickerbellHooks, discord.Client):
    """One gateway connection."""


class TickerbellShardedClient(_TickerbellHooks, discord.AutoShardedClient):
    """discord.py's automatic sharding, for large deployments (`shard_count > 0`)."""


class DiscordAdapter:
    platform = "discord"

    def __init__(
        self,
        config: DiscordConfig,
        token: str,
        router: CommandRouter,
        *,
        describer: AlertDescriber,
        answer_within: float = 1.5,
        ready_timeout: float = 60.0,
        guild_ready_timeout: float = 2.0,
        max_ratelimit_timeout: float = 30.0,
        receive: bool = True,
    ) -> None:
        self.config = config
        self.receive = receive  # False: send over HTTP only, no gateway session (a delivery process; others hold the shards)
        self._token = token
        self.router = router
        self.describer = describer
        self.answer_within = answer_within  # reply directly if the core answers this fast, else defer
        self.ready_timeout = ready_timeout
        self.guild_ready_timeout = guild_ready_timeout
        self.max_ratelimit_timeout = max_ratelimit_timeout
        self.client: discord.Client | None = None
        self.tree: app_commands.CommandTree[Any] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self.synced: dict[str, int] = {}  # "global" or guild id -> how many commands were synced

    def __repr__(self) -> str:  # never show the token
        return f"<DiscordAdapter api={self.config.api_base_url!r} guilds={list(self.config.guild_ids)} shards={self.config.shard_count}>"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, sync the slash commands and connect; returns once the gateway is READY."""
        if self.client is not None:
            return
        self._set_endpoints()
        client = self._make_client()
        self.client = client
        try:
            try:
                await client.login(self._token)
            except discord.LoginFailure:
                raise ConfigError(
                    f"Discord rejected the bot token in the environment variable {self.config.token_env} (401 Unauthorized): "
                    f"copy the token from the Developer Portal (Bot → Reset Token) into {self.config.token_env}."
                ) from None
            if not self.receive:
                log.info("discord: sending as %s over HTTP only (other processes hold the gateway)", client.user)
                return
            await self._discover_gateway(client)
            self._runner = asyncio.create_task(self._connect(client), name="discord-gateway")
            await self._wait_ready(client)
        except BaseException:
            await self.stop()
            raise
        user = client.user
        log.info("discord: connected as %s (id %s) to %d guild(s)", user, user.id if user else "?", len(client.guilds))

    async def stop(self) -> None:
        """Close the gateway and the HTTP session. Safe to call twice."""
        client, self.client = self.client, None
        runner, self._runner = self._runner, None
        if client is not None:
            try:
                await client.close()
            except Exception:
                log.exception("discord: closing the client failed")
        if runner is not None:
            try:
                await asyncio.wait_for(runner, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                runner.cancel()
            except Exception:
                pass
        self._restore_endpoints()

    def _set_endpoints(self) -> None:
        """Point discord.py at `api_base_url` (class-level settings: one Discord client per process)."""
        if self._saved_endpoints is None:
            self._saved_endpoints = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self.config.api_base_url.rstrip("/")

    def _restore_endpoints(self) -> None:
        if self._saved_endpoints is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    async def _discover_gateway(self, client: discord.Client) -> None:
        """A Discord-compatible server other than discord.com names its own gateway (GET /gateway/bot)."""
        if self.config.api_base_url.rstrip("/") == DISCORD_API:
            return
        _, url, _ = await client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    def _make_client(self) -> discord.Client:
        # The bot never joins voice: skip discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        if self.config.message_content:  # cashtags: ordinary messages, a privileged intent
            intents.guild_messages = intents.dm_messages = intents.message_content = True
        options: dict[str, Any] = {
            "intents": intents,
            "guild_ready_timeout": self.guild_ready_timeout,
            "allowed_mentions": discord.AllowedMentions.none(),
            "max_ratelimit_timeout": self.max_ratelimit_timeout,
        }
        client: discord.Client
        if self.config.shard_count > 0:
            if self.config.shard_ids:  # this process holds some shards; other processes hold the rest
                options["shard_ids"] = list(self.config.shard_ids)
            client = TickerbellShardedClient(shard_count=self.config.shard_count, **options)
        else:
            client = TickerbellClient(**options)
        client.tickerbell = self
        return client

    async def _connect(self, client: discord.Client) -> None:
        try:
            await client.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception as problem:
            if client.is_ready():
                log.error("discord: the gateway connection ended: %s", _describe(problem))
            raise

    async def _wait_ready(self, client: discord.Client) -> None:
        ready = asyncio.ensure_future(client.wait_until_ready())
        runner = self._runner
        assert runner is not None
        try:
            done, _ = await asyncio.wait({ready, runner}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not ready.done():
                ready.cancel()
        if ready in done:
            return
        if runner in done:
            problem = runner.exception() if not runner.cancelled() else None
            if isinstance(problem, discord.LoginFailure):
                raise ConfigError(f"Discord's gateway rejected the bot token in {self.config.token_env}: set it to the bot's token.") from None
            raise ConnectionError(f"Discord's gateway closed before READY: {_describe(problem)}") from problem
        raise TimeoutError(f"Discord's gateway was not READY within {self.ready_timeout:g} s")

    # -- slash commands --------------------------------------------------------------------

    async def _setup(self, client: discord.Client) -> None:
        """discord.py's setup_hook: build the slash commands from the table and sync them."""
        tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
        self.tree = tree
        tree.error(self._on_tree_error)
        client.add_dynamic_items(ActionButton)
        guilds = [discord.Object(id=g) for g in self.config.guild_ids]
        for command in self.router.commands:
            try:
                app_command = self.app_command(command)
            except (TypeError, ValueError) as problem:
                log.error("discord: /%s cannot be a slash command (%s); it is left out", command.name, problem)
                continue
            tree.add_command(app_command, guilds=guilds or MISSING)
        targets: list[discord.Object | None] = list(guilds) or [None]
        for guild in targets:
            where = "globally" if guild is None else f"to guild {guild.id}"
            try:
                synced = await tree.sync(guild=guild)
            except discord.HTTPException as problem:
                log.error(
                    "discord: syncing slash commands %s failed (%s). Is the bot in that server, invited with the "
                    "applications.commands scope?",
                    where,
                    _describe(problem),
                )
                continue
            self.synced["global" if guild is None else str(guild.id)] = len(synced)
            log.info("discord: synced %d slash commands %s", len(synced), where)

    def app_command(self, command: Command) -> app_commands.Command[Any, ..., None]:
        """The slash command for one entry of the command table."""
        adapter = self
        parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
        renames: dict[str, str] = {}
        descriptions: dict[str, str] = {}
        completers: dict[str, Callable[..., Coroutine[Any, Any, list[app_commands.Choice[str]]]]] = {}
        for index, arg in enumerate(command.args):
            if not _OPTION_NAME.match(arg.name):
                raise ValueError(f"option name {arg.name!r} is not a valid Discord option name")
            key = f"arg{index}"  # any table name works, even a Python keyword; renamed below
            annotation, completer = self._option_type(arg)
            default = inspect.Parameter.empty if arg.required else None
            parameters.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
            renames[key] = arg.name
            descriptions[key] = cut(arg.help, DESCRIPTION_LIMIT) or arg.name
            if completer is not None:
                completers[key] = completer

        async def callback(interaction: discord.Interaction, **values: Any) -> None:
            await adapter.on_command(interaction, command, values)

        callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        callback.__name__ = callback.__qualname__ = f"slash_{command.name}"
        if descriptions:
            app_commands.describe(**descriptions)(callback)
            app_commands.rename(**renames)(callback)
        if completers:
            app_commands.autocomplete(**completers)(callback)
        return app_commands.Command(name=command.name, description=cut(command.summary, DESCRIPTION_LIMIT) or command.name, callback=callback)

    def _option_type(self, arg: Arg) -> tuple[Any, Any]:
        """An option's annotation for discord.py, and its autocomplete callback if it has one."""
        longest = max(1, min(arg.max_chars, MAX_STRING_OPTION))
        if arg.kind is ArgKind.FILE:
            return discord.Attachment, None
        if arg.kind is ArgKind.TICKER:
            return app_commands.Range[str, None, longest], self._ticker_completer()
        if arg.kind is ArgKind.NUMBER:
            return float, None
        if arg.kind is ArgKind.INTEGER:
            return app_commands.Range[int, 0, 10**MAX_INTEGER_DIGITS - 1], None
        if arg.kind is ArgKind.CHOICE and arg.choices:
            if len(arg.choices) <= MAX_CHOICES:
                return Literal[tuple(arg.choices)], None
            return app_commands.Range[str, None, longest], self._words_completer(arg.choices)
        return app_commands.Range[str, None, longest], None

    def _ticker_completer(self) -> Callable[..., Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
        adapter = self

        async def complete_ticker(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=t, value=t) for t in await adapter.ticker_suggestions(current)]

        return complete_ticker

    @staticmethod
    def _words_completer(words: tuple[str, ...]) -> Callable[..., Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
        async def complete_word(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            typed = current.strip().lower()
            return [app_commands.Choice(name=w, value=w) for w in words if typed in w][:AUTOCOMPLETE_LIMIT]

        return complete_word

    async def ticker_suggestions(self, current: str) -> list[str]:
        """Up to 25 tickers the bot knows, those starting with what was typed first."""
        known: set[str] = set()
        try:
            known = await self.router.known_tickers()
        except Exception:
            log.exception("discord: listing tickers for autocomplete failed")
        typed = "".join(ch for ch in current.strip().lstrip("$").upper() if ch.isprintable())[:12]
        starts = sorted(t for t in known if t.startswith(typed))
        contains = sorted(t for t in known if typed and typed in t and not t.startswith(typed))
        return (starts + contains)[:AUTOCOMPLETE_LIMIT]

    # -- interactions ----------------------------------------------------------------------

    async def on_command(self, interaction: discord.Interaction, command: Command, values: dict[str, Any]) -> None:
        """A slash command: typed options back into the words the core parses, in table order."""
        words: list[str] = []
        skipped: Arg | None = None
        attachment: Document | None = None
        for index, arg in enumerate(command.args):
            value = values.get(f"arg{index}")
            if arg.kind is ArgKind.FILE:  # a file option: its bytes go with the invocation, not as a word
                if isinstance(value, discord.Attachment):
                    attachment = await self._read_attachment(interaction, value)
                    if attachment is None:
                        return
                continue
            if value is None:
                skipped = skipped or arg
                continue
            if skipped is not None:
                problem = f"/{command.name}: give {skipped.name} as well when you give {arg.name}. Usage: {command.usage}."
                await self._answer(interaction, [error_reply(problem)], deferred=False)
                return
            words.append(option_word(value))
        await self.serve(interaction, command.name, tuple(words), attachment=attachment)

    async def _read_attachment(self, interaction: discord.Interaction, attachment: discord.Attachment) -> Document | None:
        """A file option's bytes (at most MAX_ATTACHMENT); None after answering why it cannot be read."""
        if attachment.size > MAX_ATTACHMENT:
            problem = f"The file {attachment.filename[:40]} is too large ({attachment.size:,} bytes; at most {MAX_ATTACHMENT:,})."
        else:
            try:
                return Document(attachment.filename, await attachment.read())
            except (discord.HTTPException, aiohttp.ClientError, OSError) as failure:
                log.warning("discord: reading an attached file failed (%s)", _describe(failure))
                problem = "The attached file could not be read from Discord; please send it again."
        await self._answer(interaction, [error_reply(problem)], deferred=False)
        return None

    async def serve(self, interaction: discord.Interaction, name: str, args: tuple[str, ...], *, attachment: Document | None = None) -> None:
        """Run one command for an interaction and answer it exactly once."""
        invocation = replace(self.invocation(interaction, name, args), attachment=attachment)
        await self._note_chat_alive(invocation.chat)
        task = asyncio.ensure_future(self.router.handle(invocation))
        deferred = False
        if self.answer_within <= 0 or not (await asyncio.wait({task}, timeout=self.answer_within))[0]:
            try:
                await interaction.response.defer(thinking=True)
                deferred = True
            except discord.HTTPException as problem:
                log.warning("discord: could not defer /%s (%s)", name, _describe(problem))
        replies = await task
        await self._answer(interaction, replies, deferred=deferred)

    def invocation(self, interaction: discord.Interaction, name: str, args: tuple[str, ...]) -> Invocation:
        return Invocation(
            chat=chat_of(interaction),
            user=user_of(interaction),
            command=name,
            args=args,
            is_chat_manager=is_chat_manager(interaction),
        )

    async def _answer(self, interaction: discord.Interaction, replies: list[Reply], *, deferred: bool) -> None:
        messages = render_replies(replies, commands=self._command_names())
        if not messages:
            messages = render_reply(Reply(title="Done."))
        for index, message in enumerate(messages):
            try:
                if index == 0 and not deferred and not interaction.response.is_done():
                    await interaction.response.send_message(ephemeral=message.ephemeral, **self._message_options(message))
                elif index == 0 and deferred and message.ephemeral:
                    # The deferred "thinking" message is public; an error must not be: replace it.
                    await interaction.delete_original_response()
                    await interaction.followup.send(ephemeral=True, **self._message_options(message))
                else:
                    await interaction.followup.send(ephemeral=message.ephemeral, **self._message_options(message))
            except discord.HTTPException as problem:
                log.warning("discord: answering an interaction failed (%s)", _describe(problem))
                return
        for reply in replies:
            if reply.document is None:
                continue
            document = reply.document  # an /export file, as a followup of its own
            try:
                await interaction.followup.send(file=discord.File(io.BytesIO(document.data), filename=safe_filename(document.filename),
                                                                  description=document.description[:1024] or None),
                                                ephemeral=reply.private)
            except discord.HTTPException as problem:
                log.warning("discord: sending a file failed (%s)", _describe(problem))

    async def on_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        """A button press: run its action as the member who pressed it; answer once."""
        decoded = decode_custom_id(custom_id)
        if decoded is None:
            return
        name, args = decoded
        invocation = self.invocation(interaction, name, args)
        try:
            await interaction.response.defer()  # "deferred update": no visible loading state
        except discord.HTTPException as problem:
            log.warning("discord: could not acknowledge a button press (%s)", _describe(problem))
            return
        await self._note_chat_alive(invocation.chat)
        replies = await self.router.handle(invocation)
        if not replies:
            return
        try:
            if len(replies) == 1 and is_acknowledgement(replies[0]) and self._acts_on_an_item(name) and interaction.message is not None:
                embeds, view = self._marked_done(interaction, custom_id, replies[0])
                await interaction.edit_original_response(embeds=embeds, view=view)
                return
            for message in render_replies(replies, commands=self._command_names()):
                await interaction.followup.send(ephemeral=True, **self._message_options(message))
        except discord.HTTPException as problem:
            log.warning("discord: answering a button press failed (%s)", _describe(problem))

    def _acts_on_an_item(self, name: str) -> bool:
        """Snooze and remove act on the alert (their command has a done_verb): their result
        belongs on the alert message. Others (primer, levels) show their card to the presser."""
        command = self.router.commands.get(name)
        return bool(command and command.done_verb)

    def _marked_done(self, interaction: discord.Interaction, pressed: str, reply: Reply) -> tuple[list[discord.Embed], discord.ui.View]:
        """The pressed message's embeds with a "✓ who: what" field, and its buttons with the pressed one disabled."""
        message = interaction.message
        assert message is not None
        embeds = [embed.copy() for embed in message.embeds] or [discord.Embed()]
        name, value = done_field(interaction.user.display_name, reply)
        target = embeds[0]
        if len(target.fields) >= 25:
            target.remove_field(-1)
        if sum(embed_size(e) for e in embeds) + len(name) + len(value) <= 6000:
            target.add_field(name=name, value=value, inline=False)
        view = discord.ui.View(timeout=None)
        for row in message.components:
            for component in getattr(row, "children", [row]):
                custom_id = getattr(component, "custom_id", None)
                if not isinstance(component, discord.Button) or not custom_id or decode_custom_id(custom_id) is None:
                    continue
                spec = ButtonSpec(
                    label=component.label or "",
                    custom_id=custom_id,
                    style=_STYLE_NAMES.get(component.style, "secondary"),
                    disabled=component.disabled or custom_id == pressed,
                )
                view.add_item(ActionButton(spec))
        return embeds, view

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Options discord.py could not read go to the core as text, so the core words the problem."""
        if interaction.type is discord.InteractionType.autocomplete:
            log.warning("discord: autocomplete failed: %s", _describe(error))
            return
        data: Mapping[str, object] = interaction.data or {}  # discord.py's payload TypedDicts, read as a plain mapping
        name = interaction.command.name if interaction.command else data.get("name", "")
        if isinstance(error, (app_commands.TransformerError, app_commands.CommandSignatureMismatch, app_commands.CommandNotFound)):
            command = self.router.commands.get(str(name))
            args = raw_option_words(interaction, command) if command else ()
            if not interaction.response.is_done():
                await self.serve(interaction, str(name), args)
            return
        log.error("discord: /%s failed: %s", str(name)[:32], _describe(getattr(error, "original", error)), exc_info=getattr(error, "original", error))
        replies = [error_reply("Sorry, something went wrong on our side. The error was logged; please try again in a moment.")]
        await self._answer(interaction, replies, deferred=interaction.response.is_done())

    async def _note_chat_alive(self, chat: ChatRef) -> None:
        """A chat that talks to the bot can receive again (it may have been marked unavailable)."""
        try:
            await self.router.chats.seen(chat)
        except Exception:
            log.exception("discord: could not update the state of channel %s", chat.chat_id)

    async def on_message(self, message: discord.Message) -> None:
        """An ordinary message (the message-content intent is on): answered only when a feature
        wants it in this channel (cashtags); the answer goes to the channel, quoting the message."""
        if message.author.bot or not message.content or message.content.startswith("/"):
            return
        kind = ChatKind.GROUP if message.guild is not None else ChatKind.PRIVATE
        chat = ChatRef("discord", str(message.channel.id), kind)
        if not self.router.hears(chat, message.content):
            return
        user = UserRef("discord", str(message.author.id), message.author.display_name)
        replies = await self.router.handle_chatter(message.content, chat=chat, user=user)
        for rendered in render_replies(replies, commands=self._command_names()):
            try:
                await message.channel.send(**self._message_options(rendered), reference=message, mention_author=False)
            except discord.HTTPException as problem:
                log.warning("discord: answering a cashtag in %s failed (%s)", chat.chat_id, _describe(problem))
                return

    # -- alerts ----------------------------------------------------------------------------

    async def send_alert(self, chat: ChatRef, alert: Alert) -> None:
        client = self.client
        if client is None or client.is_closed():
            raise DeliveryError("Discord is not connected")
        member_id = direct_user_id(chat)  # the member asked for direct messages (/dm on)
        target = member_id or chat.chat_id
        if chat.platform != self.platform or not target.isdigit():
            raise ChatUnavailable(f"{chat.key} is not a Discord channel or member")
        messages = render_alert_messages(alert, self.describer, commands=self._command_names())
        try:
            if member_id is not None:
                user = client.get_user(int(member_id)) or await client.fetch_user(int(member_id))
                channel: Any = user.dm_channel or await user.create_dm()
            else:
                channel = client.get_partial_messageable(int(chat.chat_id))
            # The same delivery always carries the same nonce (one per part of a long group), and
            # discord.py sends it with enforce_nonce: if a crash made us send it again, Discord
            # returns the first message.
            written = alert.to_json()  # once, not per part: a storm's group of thousands of alerts has hundreds of parts
            for part, message in enumerate(messages):
                await channel.send(**self._message_options(message), nonce=delivery_nonce(chat, written, part), silent=alert.silent)
        except (discord.Forbidden, discord.NotFound) as problem:
            log.warning("discord: channel %s is unavailable: %s", chat.chat_id, _describe(problem))
            raise ChatUnavailable(f"Discord channel {chat.chat_id}: {_describe(problem)}") from None
        except discord.RateLimited as limited:
            raise RetryLater(f"Discord rate limit on channel {chat.chat_id}", retry_after=limited.retry_after) from None
        except discord.HTTPException as problem:
            raise DeliveryError(f"Discord channel {chat.chat_id}: {_describe(problem)}") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as problem:
            raise DeliveryError(f"Discord channel {chat.chat_id}: {type(problem).__name__}: {problem}") from None

    # -- helpers ---------------------------------------------------------------------------

    def _command_names(self) -> frozenset[str]:
        return frozenset(self.router.commands.names())

    def _message_options(self, message: Rendered) -> dict[str, Any]:
        options: dict[str, Any] = {"embeds": list(message.embeds)}
        if message.content:
            options["content"] = message.content
        if message.image is not None:
            image = message.image
            options["file"] = discord.File(io.BytesIO(image.data), filename=image.filename, description=image.description or None)
        if message.buttons:
            view = discord.ui.View(timeout=None)
            for spec in message.buttons:
                view.add_item(ActionButton(spec))
            options["view"] = view
        options["allowed_mentions"] = discord.AllowedMentions(
            everyone=False, roles=False, replied_user=False, users=[discord.Object(id=i) for i in message.mention_user_ids]
        )
        return options


# -- interaction facts ---------------------------------------------------------------------


def chat_of(interaction: discord.Interaction) -> ChatRef:
    kind = ChatKind.GROUP if interaction.guild_id is not None else ChatKind.PRIVATE
    return ChatRef("discord", str(interaction.channel_id), kind)


def user_of(interaction: discord.Interaction) -> UserRef:
    user = interaction.user
    return UserRef("discord", str(user.id), user.display_name)


def is_chat_manager(interaction: discord.Interaction) -> bool:
    """Manage Channels in this channel; everyone manages their own DMs."""
    if interaction.guild_id is None:
        return True
    return bool(interaction.permissions.manage_channels)


def option_word(value: Any) -> str:
    """An option's value as the text the core parses (numbers without float noise)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        if "e" in text or "E" in text:
            text = f"{value:.12f}".rstrip("0").rstrip(".")
        return text
    return str(value)


def raw_option_words(interaction: discord.Interaction, command: Command) -> tuple[str, ...]:
    """The options as sent, in table order (for values discord.py could not convert)."""
    data: Any = interaction.data or {}
    given = {str(o.get("name")): o.get("value") for o in data.get("options", []) if isinstance(o, dict)}
    return tuple(option_word(given[arg.name]) for arg in command.args if given.get(arg.name) is not None)


def _describe(problem: BaseException | None) -> str:
    if problem is None:
        return "no error"
    if isinstance(problem, discord.HTTPException):
        return f"{problem.status} {problem.response.reason if problem.response is not None else ''} (code {problem.code}: {problem.text})".replace("  ", " ")
    return f"{type(problem).__name__}: {problem}"


__all__ = ["ActionButton", "DiscordAdapter", "chat_of", "is_chat_manager", "option_word", "user_of"]


def delivery_nonce(chat: ChatRef, written: str, part: int = 0) -> str:
    """A nonce that is the same each time this alert (`written`: its `to_json()`), or this part of
    a group, is sent to this chat (Discord allows 25 characters)."""
    extra = f"\n{part}" if part else ""
    return hashlib.sha256(f"{chat.key}\n{written}{extra}".encode()).hexdigest()[:25]
