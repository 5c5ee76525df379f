"""Telegram renderings: pure functions from core messages to HTML text and inline keyboards.

Telegram's HTML parse mode is strict: every string that comes from a user or from data is
passed through `html.escape`, and every tag opens and closes on the same line, so that a
long message can be cut on any line boundary and each part still parses.

Limits (Bot API): a message holds 4096 characters, a photo caption 1024, callback data 64
bytes. Telegram counts characters in UTF-16 code units after parsing the markup; we measure
the markup itself in UTF-16 units, which is never less, so a part we send is never too long.
"""

from __future__ import annotations

import html
import re
from collections.abc import Container
from dataclasses import dataclass, replace

from bot.core.describe import AlertDescriber, group_action_label, sections
from bot.core.messages import Action, Alert, AlertKind, Image, Reply, Tone
from bot.core.models import ChatKind, ChatRef, UserRef

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
ACTION_PREFIX = "a"
BUTTONS_PER_ROW = 3

TONE_EMOJI = {
    Tone.NEUTRAL: "",
    Tone.UP: "📈",
    Tone.DOWN: "📉",
    Tone.WARNING: "⚠️",
    Tone.ERROR: "❗",
}


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # callback_data, at most 64 bytes


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One Bot API call: a text message, or a photo whose caption is `text`."""

    text: str  # Telegram HTML
    keyboard: Keyboard = ()
    photo: Image | None = None
    silent: bool = False  # sent with disable_notification


@dataclass(frozen=True, slots=True)
class _Line:
    """One physical line: `prefix` (markup, kept whole) + `raw` (user text, escaped and wrapped)."""

    raw: str
    open: str = ""
    close: str = ""
    prefix: str = ""

    def html(self) -> str:
        return f"{self.prefix}{self.open}{html.escape(self.raw, quote=False)}{self.close}" if self.raw else self.prefix


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# -- the pieces ------------------------------------------------------------------------------


def _physical(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _styled(text: str, tag: str, *, prefix: str = "") -> list[_Line]:
    lines = []
    for index, part in enumerate(_physical(text)):
        first = prefix if index == 0 else ""
        lines.append(_Line(part, f"<{tag}>" if tag and part else "", f"</{tag}>" if tag and part else "", first))
    return lines


def _plain(text: str) -> list[_Line]:
    return [_Line(part) for part in _physical(text)]


def _title(title: str, tone: Tone) -> list[_Line]:
    emoji = TONE_EMOJI.get(tone, "")
    return _styled(title, "b", prefix=f"{emoji} " if emoji else "")


def mention_html(user: UserRef) -> str:
    """A mention that notifies the member: `<a href="tg://user?id=ID">name</a>`."""
    name = html.escape(user.label, quote=False)
    if user.user_id.isdigit():
        return f'<a href="tg://user?id={user.user_id}">{name}</a>'
    return name


def _mention_line(user: UserRef) -> _Line:
    if user.user_id.isdigit():
        return _Line(" ".join(user.label.split()) or user.user_id, f'<a href="tg://user?id={user.user_id}">', "</a>", "🔔 ")
    return _Line(" ".join(user.label.split()), prefix="🔔 ")


def reply_lines(reply: Reply) -> list[_Line]:
    lines = _title(reply.title, reply.tone)
    for line in reply.lines:
        lines.extend(_plain(line))
    for field in reply.fields:
        lines.extend(_plain(f"{field.name}: {field.value}"))
    if reply.footer:
        lines.extend(_styled(reply.footer, "i"))
    return lines


def alert_lines(alert: Alert, describer: AlertDescriber, chat: ChatRef | None = None, *, footer: bool = True) -> list[_Line]:
    text = describer.describe(alert)
    lines = _title(text.title, text.tone)
    mention = alert.mention
    if mention is not None and chat is not None and chat.kind is not ChatKind.PRIVATE and mention.platform == "telegram":
        lines.append(_mention_line(mention))
    for line in text.lines:
        lines.extend(_plain(line))
    if text.footer and footer:
        lines.extend(_styled(text.footer, "i"))
    return lines


# -- buttons -------------------------------------------------------------------------------


def encode_action(action: Action) -> str | None:
    """`Action("Snooze 1 day", "snooze", ("12", "1"))` -> "a:snooze:12:1", or None if it cannot fit."""
    parts = (action.command, *action.args)
    if any(not part or ":" in part for part in parts):
        return None
    data = ":".join((ACTION_PREFIX, *parts))
    if len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
        return None
    return data


def decode_action(data: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The command and arguments a button carries; None for data we did not make."""
    if not data or len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
        return None
    prefix, *parts = data.split(":")
    if prefix != ACTION_PREFIX or not parts or not all(parts):
        return None
    return parts[0].lower(), tuple(parts[1:])


def keyboard(actions: tuple[Action, ...] | list[Action], available: Container[str] | None = None) -> Keyboard:
    """Rows of up to three buttons; `available` drops buttons for commands the bot lacks."""
    buttons = []
    for action in actions:
        if available is not None and action.command not in available:
            continue
        data = encode_action(action)
        if data is not None:
            buttons.append(Button(action.label[:64], data))
    return tuple(tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW))


# -- packing into messages ---------------------------------------------------------------------


def _cut(line: _Line, limit: int) -> list[str]:
    """A line too long for one message, cut into pieces that each fit (tags closed in each)."""
    pieces: list[str] = []
    budget_fixed = telegram_length(line.open) + telegram_length(line.close)
    prefix = line.prefix
    current: list[str] = []
    size = telegram_length(prefix) + budget_fixed
    for char in line.raw:
        width = telegram_length(html.escape(char, quote=False))
        if current and size + width > limit:
            pieces.append(f"{prefix}{line.open}{html.escape(''.join(current), quote=False)}{line.close}")
            prefix, current, size = "", [], budget_fixed
        current.append(char)
        size += width
    if current or not pieces:
        pieces.append(f"{prefix}{line.open}{html.escape(''.join(current), quote=False)}{line.close}" if current else prefix)
    return pieces


def pack(lines: list[_Line], limit: int = MESSAGE_LIMIT, *, first_limit: int | None = None) -> list[str]:
    """Join lines into as few texts as fit; cut only between lines (or inside a line longer than a message)."""
    texts: list[str] = []
    current: list[str] = []
    size = 0

    def cap() -> int:
        return first_limit if (first_limit is not None and not texts) else limit

    def flush() -> None:
        nonlocal current, size
        text = "\n".join(current).strip("\n")
        if text.strip():
            texts.append(text)
        current, size = [], 0

    for line in lines:
        rendered = line.html()
        width = telegram_length(rendered)
        if width > cap():
            if current:
                flush()
            for piece in _cut(line, cap()):
                current, size = [piece], telegram_length(piece)
                flush()
            continue
        extra = width + (1 if current else 0)
        if current and size + extra > cap():
            flush()
            extra = width
        current.append(rendered)
        size += extra
    if current:
        flush()
    return texts


def _messages(lines: list[_Line], buttons: Keyboard, image: Image | None) -> list[OutMessage]:
    if image is not None:
        caption, *rest = pack(lines, MESSAGE_LIMIT, first_limit=CAPTION_LIMIT) or [""]
        out = [OutMessage(caption, (), image)]
        out.extend(OutMessage(text) for text in rest)
    else:
        out = [OutMessage(text) for text in pack(lines, MESSAGE_LIMIT)] or [OutMessage("…")]
    if buttons:
        last = out[-1]
        out[-1] = OutMessage(last.text, buttons, last.photo)
    return out


def render_reply(reply: Reply, *, available: Container[str] | None = None) -> list[OutMessage]:
    """A reply as the Bot API calls that send it: text messages, or a photo with its card as caption."""
    return _messages(reply_lines(reply), keyboard(reply.actions, available), reply.image)


def render_alert(
    alert: Alert, describer: AlertDescriber, chat: ChatRef | None = None, *, available: Container[str] | None = None
) -> list[OutMessage]:
    """An alert, with the member mentioned in groups and its buttons (primer, snooze, remove).
    `available`: the command names the bot has; a button for any other command is left out.
    A group (one check's alerts for the chat) is one message, or as few as the limits allow."""
    if alert.kind is AlertKind.GROUP:
        out = _group_messages(alert, describer, chat, available)
    else:
        out = _messages(alert_lines(alert, describer, chat), keyboard(describer.actions(alert), available), None)
    return [replace(message, silent=True) for message in out] if alert.silent else out


KEYBOARD_BUTTON_LIMIT = 100  # buttons in one inline keyboard
ALERTS_PER_MESSAGE = KEYBOARD_BUTTON_LIMIT // 4  # room for each alert's buttons (at most three, and a spare)


def _group_blocks(
    alert: Alert, describer: AlertDescriber, chat: ChatRef | None, available: Container[str] | None
) -> list[tuple[list[_Line], list[Button]]]:
    """Each alert of a group as its lines (a part's heading before its first) and its buttons
    (named by ticker or alert id, as several alerts share one keyboard; repeated ones once)."""
    blocks: list[tuple[list[_Line], list[Button]]] = []
    seen: set[str] = set()
    for title, items in sections(alert):
        for index, item in enumerate(items):
            lines = [_Line("")] + (_styled(f"— {title}", "i") if index == 0 else [])
            lines += alert_lines(item, describer, chat, footer=False)
            buttons = []
            for action in describer.actions(item):
                data = encode_action(action) if available is None or action.command in available else None
                if data is not None and data not in seen:
                    seen.add(data)
                    buttons.append(Button(group_action_label(item, action)[:64], data))
            blocks.append((lines, buttons))
    return blocks


def _group_messages(alert: Alert, describer: AlertDescriber, chat: ChatRef | None, available: Container[str] | None) -> list[OutMessage]:
    """A check's alerts for a chat as few messages as Telegram allows (4,096 characters and 100
    buttons each), cut only between alerts; each message carries its alerts' buttons."""
    title = describer.group_title(alert)
    parts: list[tuple[list[_Line], list[Button]]] = [(_title(f"🔔 {title}", Tone.NEUTRAL), [])]
    count = 0
    for lines, buttons in _group_blocks(alert, describer, chat, available):
        current, keys = parts[-1]
        size = telegram_length("\n".join(line.html() for line in current + lines))
        if count and (size > MESSAGE_LIMIT or count >= ALERTS_PER_MESSAGE):
            parts.append((_title(f"🔔 {title} (continued)", Tone.NEUTRAL), []))
            current, keys = parts[-1]
            count = 0
        current.extend(lines)
        keys.extend(buttons)
        count += 1
    out: list[OutMessage] = []
    for lines, buttons in parts:
        rows = tuple(tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW))
        out.extend(_messages(lines, rows, None))
    return out


def plain_fallback(text: str) -> str:
    """The visible text of our HTML, for the rare message Telegram refuses to parse."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def done_line(verb: str, who: str) -> str:
    """The line a pressed button adds to its message: "— snoozed by Alice"."""
    return f"<i>— {html.escape(verb, quote=False)} by {html.escape(' '.join(who.split()) or 'someone', quote=False)}</i>"


def short(text: str, limit: int = CALLBACK_ANSWER_LIMIT) -> str:
    """Text for a callback answer (a toast): one line, at most 200 characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "Button",
    "Keyboard",
    "OutMessage",
    "decode_action",
    "done_line",
    "encode_action",
    "keyboard",
    "mention_html",
    "pack",
    "plain_fallback",
    "render_alert",
    "render_reply",
    "short",
    "telegram_length",
]
