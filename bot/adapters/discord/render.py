"""Replies and alerts as Discord messages: embeds, attachments and button specs. Pure: no I/O.

The core's messages are plain text (numbers and words, never markup), so every text is
markdown-escaped here and cut to Discord's limits: a long reply is split over several
embeds and messages rather than rejected by the API, and nothing the core said is lost
except where a single field must be shortened.

Buttons are described as `ButtonSpec`s; the adapter turns them into persistent
`discord.ui` items. A button's custom_id encodes the action (`tb:snooze:12:1`) so that a
press can be served after a restart, from the id alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import discord
from discord.utils import escape_markdown

from bot.core.describe import AlertDescriber, command_text, group_action_label, money, pct, plain_pct, sections
from bot.core.messages import Action, Alert, AlertKind, Field, Image, Reply, Tone

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_PER_EMBED = 25
FOOTER_LIMIT = 2048
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000  # all embeds of one message together
BUTTON_LABEL_LIMIT = 80
BUTTONS_PER_MESSAGE = 25
CUSTOM_ID_LIMIT = 100

COLOURS = {
    Tone.UP: 0x2ECC71,  # green
    Tone.DOWN: 0xE74C3C,  # red
    Tone.WARNING: 0xF5A623,  # amber
    Tone.NEUTRAL: 0x95A5A6,  # grey
    Tone.ERROR: 0x992D22,  # dark red
}

CUSTOM_ID_PREFIX = "tb"
CUSTOM_ID_PATTERN = r"tb:(?P<command>[a-z0-9_\-]{1,32})(?P<args>(?::[^:]*)*)"
_CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)
_DANGER_COMMANDS = frozenset({"unalert", "unwatch", "clearlevel"})
ZERO_WIDTH_SPACE = "\u200b"  # Discord rejects empty field values


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: str = "secondary"  # "primary" | "secondary" | "danger"
    disabled: bool = False


@dataclass(frozen=True)
class Rendered:
    """One Discord message: what `Messageable.send` / a followup needs."""

    embeds: tuple[discord.Embed, ...]
    content: str | None = None
    image: Image | None = None  # attached as discord.File; filename already made safe
    buttons: tuple[ButtonSpec, ...] = ()
    ephemeral: bool = False
    mention_user_ids: tuple[int, ...] = ()  # the only users this message may ping
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_golden(self) -> dict[str, Any]:
        """A JSON-friendly view for golden files and assertions."""
        return {
            "content": self.content,
            "embeds": [embed.to_dict() for embed in self.embeds],
            "image": None if self.image is None else {"filename": self.image.filename, "bytes": len(self.image.data), "description": self.image.description},
            "buttons": [{"label": b.label, "custom_id": b.custom_id, "style": b.style, "disabled": b.disabled} for b in self.buttons],
            "ephemeral": self.ephemeral,
            "mention_user_ids": list(self.mention_user_ids),
        }


# -- colours and text --------------------------------------------------------------------


def tone_colour(tone: Tone) -> discord.Colour:
    return discord.Colour(COLOURS.get(tone, COLOURS[Tone.NEUTRAL]))


def plain(text: str) -> str:
    """Core text shown as-is: markdown escaped, control characters dropped."""
    cleaned = "".join(ch for ch in str(text) if ch.isprintable() or ch == "\n")
    return escape_markdown(cleaned)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    head = _no_dangling_escape(text[: limit - 1].rstrip())
    return head + "…"


def _no_dangling_escape(text: str) -> str:
    """Drop a trailing odd backslash left by cutting through an escape sequence."""
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text


def split_title(title: str) -> tuple[str, str]:
    """A title within 256 characters, and the rest of it (to open the description)."""
    if len(title) <= TITLE_LIMIT:
        return title, ""
    head = title[: TITLE_LIMIT - 1]
    space = head.rfind(" ")
    if space > TITLE_LIMIT // 2:
        head = head[:space]
    head = _no_dangling_escape(head)
    return head + "…", "…" + title[len(head) :].lstrip()


def chunk_lines(lines: Iterable[str], limit: int = DESCRIPTION_LIMIT) -> list[str]:
    """Join lines into texts of at most `limit` characters, breaking between lines where possible."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        pieces = [line] if len(line) <= limit else _hard_split(line, limit)
        for piece in pieces:
            candidate = piece if not current else current + "\n" + piece
            if len(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def _hard_split(text: str, limit: int) -> list[str]:
    pieces = []
    while len(text) > limit:
        piece = _no_dangling_escape(text[:limit])
        pieces.append(piece)
        text = text[len(piece) :]
    pieces.append(text)
    return pieces


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards Discord's 6000 per message."""
    size = len(embed.title or "") + len(embed.description or "")
    size += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    size += len(embed.footer.text or "") if embed.footer else 0
    size += len(embed.author.name or "") if embed.author else 0
    return size


# -- buttons -------------------------------------------------------------------------------


def encode_action(action: Action) -> str | None:
    """`Action("Snooze", "snooze", ("12", "1"))` -> "tb:snooze:12:1"; None if it cannot fit."""
    if not re.fullmatch(r"[a-z0-9_\-]{1,32}", action.command):
        return None
    custom_id = ":".join([CUSTOM_ID_PREFIX, action.command, *(quote(arg, safe="") for arg in action.args)])
    return custom_id if len(custom_id) <= CUSTOM_ID_LIMIT else None


def decode_custom_id(custom_id: str) -> tuple[str, tuple[str, ...]] | None:
    """"tb:snooze:12:1" -> ("snooze", ("12", "1")); None if it is not one of ours."""
    match = _CUSTOM_ID.fullmatch(custom_id)
    if match is None:
        return None
    raw = match.group("args")
    args = tuple(unquote(part) for part in raw.split(":")[1:]) if raw else ()
    return match.group("command"), args


def button_specs(actions: Iterable[Action], commands: Collection[str] | None = None) -> tuple[ButtonSpec, ...]:
    """Buttons for actions the bot can run (unknown commands and ids too long are left out)."""
    specs: list[ButtonSpec] = []
    for action in actions:
        if commands is not None and action.command not in commands:
            continue
        custom_id = encode_action(action)
        if custom_id is None or any(s.custom_id == custom_id for s in specs):
            continue
        style = "danger" if action.command in _DANGER_COMMANDS else "secondary"
        specs.append(ButtonSpec(label=cut(action.label, BUTTON_LABEL_LIMIT) or action.command, custom_id=custom_id, style=style))
        if len(specs) == BUTTONS_PER_MESSAGE:
            break
    return tuple(specs)


# -- replies -------------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "image.png"
    if "." not in cleaned:
        cleaned += ".png"
    return cleaned[-100:]


def _field(f: Field) -> tuple[str, str, bool]:
    name = cut(plain(f.name), FIELD_NAME_LIMIT) or ZERO_WIDTH_SPACE
    value = cut(plain(f.value), FIELD_VALUE_LIMIT) or ZERO_WIDTH_SPACE
    return name, value, f.inline


def is_private(reply: Reply) -> bool:
    return reply.private or reply.tone is Tone.ERROR


def render_reply(reply: Reply, *, commands: Collection[str] | None = None) -> list[Rendered]:
    """One reply as one or more messages (more only when it exceeds Discord's limits)."""
    colour = tone_colour(reply.tone)
    title, title_rest = split_title(plain(reply.title))
    lines = [plain(line) for line in reply.lines]
    if title_rest:
        lines.insert(0, title_rest)
    chunks = chunk_lines(lines)
    embeds = [discord.Embed(title=title, description=chunks[0] if chunks else None, colour=colour)]
    embeds.extend(discord.Embed(description=chunk, colour=colour) for chunk in chunks[1:])
    footer = cut(plain(reply.footer), FOOTER_LIMIT) if reply.footer else ""
    cap = EMBED_TOTAL_LIMIT - len(footer)
    for name, value, inline in (_field(f) for f in reply.fields):
        target = embeds[-1]
        if len(target.fields) >= FIELDS_PER_EMBED or embed_size(target) + len(name) + len(value) > cap:
            target = discord.Embed(colour=colour)
            embeds.append(target)
        target.add_field(name=name, value=value, inline=inline)
    image = None
    if reply.image is not None:
        image = Image(safe_filename(reply.image.filename), reply.image.data, reply.image.description)
        embeds[0].set_image(url=f"attachment://{image.filename}")
    if footer:
        if embed_size(embeds[-1]) + len(footer) > EMBED_TOTAL_LIMIT:
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].set_footer(text=footer)
    messages = _pack(embeds)
    private = is_private(reply)
    buttons = button_specs(reply.actions, commands)
    rendered = []
    for index, group in enumerate(messages):
        first, last = index == 0, index == len(messages) - 1
        rendered.append(
            Rendered(
                embeds=tuple(group),
                image=image if first else None,
                buttons=buttons if last else (),
                ephemeral=private,
            )
        )
    return rendered


def render_replies(replies: Iterable[Reply], *, commands: Collection[str] | None = None) -> list[Rendered]:
    out: list[Rendered] = []
    for reply in replies:
        out.extend(render_reply(reply, commands=commands))
    return out


def _pack(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages of at most 10 embeds and 6000 characters."""
    messages: list[list[discord.Embed]] = [[]]
    total = 0
    for embed in embeds:
        size = embed_size(embed)
        if messages[-1] and (len(messages[-1]) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT):
            messages.append([])
            total = 0
        messages[-1].append(embed)
        total += size
    return messages


# -- alerts --------------------------------------------------------------------------------


def mention_id(alert: Alert) -> int | None:
    """The Discord user an alert is for, if it is a member's own alert made on Discord."""
    who = alert.mention
    if who is None or who.platform != "discord" or not who.user_id.isdigit():
        return None
    return int(who.user_id)


def alert_fields(alert: Alert) -> list[Field]:
    """The figures of an alert, each in a field a reader can scan."""
    fields: list[Field] = []
    if alert.price is not None:
        fields.append(Field("Price", money(alert.price)))
    if alert.change_pct is not None:
        fields.append(Field("Change today", pct(alert.change_pct)))
    if alert.level is not None:
        name = f"{alert.level_name.capitalize()} level" if alert.level_name else "Level"
        fields.append(Field(name, money(alert.level)))
    if alert.peak is not None:
        fields.append(Field("Peak", money(alert.peak)))
    if alert.drawdown_pct is not None:
        fields.append(Field("From peak", pct(-abs(alert.drawdown_pct))))
    if alert.threshold_pct is not None and alert.kind.value in ("daily_move", "selloff", "drawdown"):
        fields.append(Field("Threshold", plain_pct(alert.threshold_pct)))
    return fields


def render_alert(alert: Alert, describer: AlertDescriber, *, commands: Collection[str] | None = None) -> Rendered:
    """An alert as one message: an embed with its figures, a mention for a member's own alert,
    and buttons for its actions (only those whose command exists)."""
    text = describer.describe(alert)
    title, title_rest = split_title(plain(text.title))
    lines = [plain(line) for line in text.lines]
    if title_rest:
        lines.insert(0, title_rest)
    fields = [_field(f) for f in alert_fields(alert)]
    footer = cut(plain(f"Data as of {text.footer}"), FOOTER_LIMIT)
    budget = EMBED_TOTAL_LIMIT - len(title) - len(footer) - sum(len(n) + len(v) for n, v, _ in fields)
    description = cut("\n".join(lines), max(1, min(DESCRIPTION_LIMIT, budget))) if lines else None
    embed = discord.Embed(title=title, description=description, colour=tone_colour(text.tone), timestamp=alert.at)
    for name, value, inline in fields[:FIELDS_PER_EMBED]:
        embed.add_field(name=name, value=value, inline=inline)
    embed.set_footer(text=footer)
    user_id = mention_id(alert)
    return Rendered(
        embeds=(embed,),
        content=f"<@{user_id}>" if user_id is not None else None,
        buttons=button_specs(describer.actions(alert), commands),
        mention_user_ids=(user_id,) if user_id is not None else (),
    )


COMPONENTS_PER_MESSAGE = 25  # buttons in one message (five rows of five)
_COMMANDS_FIELD_ROOM = 200  # kept free in each message for an alert's commands, when its buttons do not fit


def render_alert_messages(alert: Alert, describer: AlertDescriber, *, commands: Collection[str] | None = None) -> list[Rendered]:
    """What a delivery sends: an alert as one message, or a group (one check's alerts for the
    channel) as one embed per alert in as few messages as Discord allows (10 embeds and 6,000
    characters each). Each alert keeps its actions: as buttons while 25 fit, else as commands."""
    if alert.kind is not AlertKind.GROUP:
        return [render_alert(alert, describer, commands=commands)]
    parts: list[list[tuple[Alert, Rendered]]] = [[]]
    total = 0
    for title, items in sections(alert):
        for index, item in enumerate(items):
            single = render_alert(item, describer, commands=commands)
            embed = single.embeds[0]
            if index == 0:
                embed.set_author(name=cut(title, 256))
            size = embed_size(embed) + _COMMANDS_FIELD_ROOM
            if parts[-1] and (len(parts[-1]) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT):
                parts.append([])
                total = 0
            parts[-1].append((item, single))
            total += size
    header = describer.group_title(alert)
    return [_group_message(header if n == 0 else f"{header} (continued)", part, describer, commands) for n, part in enumerate(parts)]


def _group_message(header: str, part: list[tuple[Alert, Rendered]], describer: AlertDescriber, commands: Collection[str] | None) -> Rendered:
    """One message of a group: its embeds, the header and mentions as content, and the buttons
    of its alerts (repeated ones once; an alert whose buttons no longer fit lists its commands)."""
    buttons: list[ButtonSpec] = []
    seen: set[str] = set()
    for item, single in part:
        actions = [Action(group_action_label(item, a), a.command, a.args) for a in describer.actions(item)]
        specs = [spec for spec in button_specs(actions, commands) if spec.custom_id not in seen]
        if len(buttons) + len(specs) > COMPONENTS_PER_MESSAGE:
            typed = " · ".join(command_text(a) for a in actions if commands is None or a.command in commands)
            single.embeds[0].add_field(name="Commands", value=cut(plain(typed), FIELD_VALUE_LIMIT) or ZERO_WIDTH_SPACE, inline=False)
            continue
        seen.update(spec.custom_id for spec in specs)
        buttons.extend(specs)
    mentions = tuple(dict.fromkeys(i for _, single in part for i in single.mention_user_ids))
    content = " ".join([f"**{plain(header)}**", *(f"<@{i}>" for i in mentions)])
    return Rendered(embeds=tuple(single.embeds[0] for _, single in part), content=cut(content, CONTENT_LIMIT), buttons=tuple(buttons), mention_user_ids=mentions)


def done_field(presser: str, reply: Reply) -> tuple[str, str]:
    """What an alert message shows after a button did its work."""
    name = cut(plain(f"✓ {presser}"), FIELD_NAME_LIMIT)
    value = cut("\n".join(plain(t) for t in (reply.title, *reply.lines)), FIELD_VALUE_LIMIT)
    return name, value or ZERO_WIDTH_SPACE


def is_acknowledgement(reply: Reply) -> bool:
    """A short 'done' reply (snoozed, removed) rather than a card to read (a primer)."""
    return reply.image is None and not reply.fields and not reply.actions and len(reply.lines) <= 2 and not is_private(reply)


__all__ = [
    "COLOURS",
    "CUSTOM_ID_PATTERN",
    "ButtonSpec",
    "Rendered",
    "alert_fields",
    "button_specs",
    "chunk_lines",
    "cut",
    "decode_custom_id",
    "done_field",
    "embed_size",
    "encode_action",
    "is_acknowledgement",
    "is_private",
    "mention_id",
    "plain",
    "render_alert",
    "render_alert_messages",
    "render_replies",
    "render_reply",
    "safe_filename",
    "split_title",
    "tone_colour",
]
