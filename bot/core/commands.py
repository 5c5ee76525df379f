"""The command table: each command declared once (name, arguments and their types, help,
who may run it). Discord's slash commands, Telegram's menu, the console's completion and
`/help` are all made from it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.core.errors import UserError
from bot.core.models import parse_ticker

if TYPE_CHECKING:
    from bot.core.messages import Reply
    from bot.core.router import Context, Invocation

MAX_ARGUMENT_CHARS = 300  # one argument
MAX_LINE_CHARS = 600  # a whole command line
MAX_PRICE = 10_000_000.0


class ArgKind(StrEnum):
    TICKER = "ticker"
    NUMBER = "number"  # a price or a percent; the handler says which limits apply
    INTEGER = "integer"
    CHOICE = "choice"
    TEXT = "text"
    DATE = "date"
    FILE = "file"  # a file sent with the command (`Invocation.attachment`), never a typed word


class Access(StrEnum):
    ANYONE = "anyone"
    CHAT_MANAGER = "chat_manager"  # may change what the chat follows (group admin, Manage Channels)
    ADMIN = "admin"  # listed in [bot] admins


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: ArgKind
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()
    rest: bool = False  # takes every remaining word (a note)
    max_chars: int = MAX_ARGUMENT_CHARS
    only_with: tuple[str, tuple[str, ...]] | None = None  # given only after another argument's values: ("condition", ("move",))

    @property
    def placeholder(self) -> str:
        text = "|".join(self.choices) if self.choices else self.name.upper()
        return text if self.required else f"[{text}]"


Handler = Callable[["Context", "Invocation", dict[str, Any]], Awaitable["Reply | list[Reply]"]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str  # one line, under 100 characters (Discord's limit)
    handler: Handler
    args: tuple[Arg, ...] = ()
    examples: tuple[str, ...] = ()
    access: Access = Access.ANYONE
    details: str = ""
    # For commands an alert's button runs on that alert (snooze, remove): what it did, as a
    # past-tense verb. Adapters then mark the alert message ("snoozed by Alice") instead of
    # answering with a new message.
    done_verb: str | None = None

    @property
    def usage(self) -> str:
        return " ".join([f"/{self.name}", *(arg.placeholder for arg in self.args if arg.kind is not ArgKind.FILE)])

    def parse(self, words: Sequence[str]) -> dict[str, Any]:
        """Turn the words after the command into typed values, or raise a UserError that shows the usage."""
        values: dict[str, Any] = {}
        remaining = list(words)
        for arg in self.args:
            if arg.kind is ArgKind.FILE:
                continue  # not typed: the handler reads invocation.attachment
            if arg.rest:
                text = " ".join(remaining).strip()
                remaining = []
                if not text:
                    if arg.required:
                        raise self.usage_error(f"{arg.name.capitalize()} is missing.")
                    values[arg.name] = None
                    continue
                values[arg.name] = self._convert(arg, text)
                continue
            if not remaining:
                if arg.required:
                    raise self.usage_error(f"{arg.name.capitalize()} is missing.")
                values[arg.name] = None
                continue
            if arg.only_with is not None and values.get(arg.only_with[0]) not in arg.only_with[1]:
                allowed = arg.only_with[1]
                extra = " ".join(remaining)
                last = self.args[self.args.index(arg) - 1].name
                kinds = f" ({', '.join(arg.choices)})" if arg.choices else ""
                raise self.usage_error(
                    f"Unexpected extra input '{_echo(extra)}' after the {last}: only {' or '.join(allowed)} takes a {arg.name}{kinds}."
                )
            values[arg.name] = self._convert(arg, remaining.pop(0))
        if remaining:
            extra = " ".join(remaining)
            raise self.usage_error(f"Unexpected extra input '{_echo(extra)}'.")
        return values

    def usage_error(self, problem: str) -> UserError:
        example = f" For example: {self.examples[0]}" if self.examples else ""
        return UserError(f"{problem} Usage: {self.usage}.{example}")

    def _convert(self, arg: Arg, raw: str) -> Any:
        if len(raw) > arg.max_chars:
            raise self.usage_error(f"{arg.name.capitalize()} is too long ({len(raw)} characters; at most {arg.max_chars}).")
        try:
            return convert(arg, raw)
        except UserError as problem:
            raise self.usage_error(problem.message) from None


def convert(arg: Arg, raw: str) -> Any:
    if arg.kind is ArgKind.TICKER:
        return parse_ticker(raw)
    if arg.kind is ArgKind.NUMBER:
        return parse_number(raw, name=arg.name)
    if arg.kind is ArgKind.INTEGER:
        text = raw.strip().lstrip("#")
        if not re.fullmatch(r"\d{1,12}", text):
            raise UserError(f"{arg.name.capitalize()} must be a whole number, not '{_echo(raw)}'.")
        return int(text)
    if arg.kind is ArgKind.CHOICE:
        word = raw.strip().lower()
        if word not in arg.choices:
            raise UserError(f"{arg.name.capitalize()} must be one of {', '.join(arg.choices)}, not '{_echo(raw)}'.{did_you_mean(word, arg.choices)}")
        return word
    if arg.kind is ArgKind.DATE:
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            raise UserError(f"{arg.name.capitalize()} must be a date like 2025-01-29, not '{_echo(raw)}'.") from None
    text = "".join(ch for ch in raw if ch.isprintable()).strip()
    return text


def did_you_mean(word: str, known: Iterable[str], *, prefix: str = "") -> str:
    """' Did you mean above?' for a near miss ('abov'), or '' when nothing is close."""
    close = difflib.get_close_matches(word.lower(), list(known), n=1, cutoff=0.75)
    return f" Did you mean {prefix}{close[0]}?" if close else ""


_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[+-]?\.\d+$")


def parse_number(raw: str, *, name: str = "value") -> float:
    """A finite number such as 120, $1,200.50, 7.5% or -10. Limits are the handler's job."""
    text = raw.strip().replace("\u2212", "-")
    text = text.removesuffix("%").strip()
    if text.startswith(("$", "+$", "-$")):
        text = text.replace("$", "", 1)
    if not _NUMBER.match(text):
        raise UserError(f"{name.capitalize()} must be a number like 120 or 7.5, not '{_echo(raw)}'.")
    value = float(text.replace(",", ""))
    if not math.isfinite(value):
        raise UserError(f"{name.capitalize()} must be a finite number.")
    return value


def _echo(text: str, limit: int = 24) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass
class CommandTable:
    """Every command, in the order `/help` lists them."""

    _commands: dict[str, Command] = field(default_factory=dict)

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} declared twice")
        if len(command.summary) > 100:
            raise ValueError(f"/{command.name}: the summary must fit in 100 characters")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)

    def names(self) -> list[str]:
        return list(self._commands)


def split_command_line(text: str) -> tuple[str, list[str]]:
    """`/alert@tickerbell_bot NVDA below 120` -> ("alert", ["NVDA", "below", "120"]).

    Returns ("", []) when the text is not a command.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return "", []
    words = stripped[1:].split()
    if not words:
        return "", []
    name = words[0].split("@", 1)[0].lower()
    return name, words[1:]
