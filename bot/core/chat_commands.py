"""`/settings`: how this chat hears from the bot: each alert kind on, silent or off, quiet
hours, and its own `/watch` sell-off and drawdown percentages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.chat_settings import SETTABLE_KINDS, ChatSettings, Mode, parse_clock
from bot.core.commands import Access, Arg, ArgKind, Command, parse_number
from bot.core.describe import plain_pct
from bot.core.errors import UserError
from bot.core.handlers import MAX_PLAUSIBLE_DRAWDOWN, MAX_PLAUSIBLE_MOVE, sync_watch_rules
from bot.core.messages import Reply
from bot.core.router import Context, Invocation

MODES = tuple(m.value for m in Mode)


def settings_lines(context: Context, settings: ChatSettings) -> tuple[str, ...]:
    kinds = " · ".join(f"{name} {settings.kinds.get(name, Mode.ON).value}" for name in SETTABLE_KINDS if name != "digest")
    zone = context.calendar.tz
    quiet = (f"{settings.quiet_from:%H:%M}–{settings.quiet_to:%H:%M} ({zone}): alerts then come without a sound"
             if settings.quiet_from and settings.quiet_to else "none")
    defaults = context.settings
    selloff = settings.watch_pct("move", defaults.selloff_pct)
    drawdown = settings.watch_pct("drawdown", defaults.drawdown_pct)
    own = "this chat's own" if settings.selloff_pct is not None or settings.drawdown_pct is not None else "the bot's defaults"
    digest = f"on, brief at {settings.digest_at:%H:%M}" if settings.digest and settings.digest_at else ("on" if settings.digest else "off")
    if settings.kinds.get("digest", Mode.ON) is not Mode.ON:
        digest += f" (delivery {settings.kinds['digest'].value})"
    return (
        f"Alerts: {kinds}",
        f"Quiet hours: {quiet}",
        f"Watch: sell-offs of {plain_pct(selloff)} in a day, drawdowns of {plain_pct(drawdown)} from the high ({own})",
        f"Digest: {digest}",
    )


async def settings_command(context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    store = context.store.chat_settings
    chat = invocation.chat
    current = await store.get(chat)
    setting: str | None = values.get("setting")
    value: str = (values.get("value") or "").strip()
    if setting is None:
        return Reply(title="Settings for this chat", lines=settings_lines(context, current),
                     footer="Change one: /settings selloffs silent · /settings quiet 22:00-07:00 · /settings watch 7 25")
    if setting in SETTABLE_KINDS:
        updated, said = _kind(current, setting, value)
    elif setting == "quiet":
        updated, said = _quiet(current, value)
    else:
        updated, said = _watch(current, value, context)
    await store.put(chat, updated, now=context.clock.now())
    if setting == "watch":
        for ticker in await context.store.watches.of_chat(chat):
            await sync_watch_rules(context, ticker)
    return Reply(title=said, lines=settings_lines(context, updated))


def _kind(current: ChatSettings, name: str, value: str) -> tuple[ChatSettings, str]:
    word = value.lower()
    if word not in MODES:
        raise UserError(f"Say on, silent or off, like /settings {name} silent.")
    kinds = {k: v for k, v in current.kinds.items() if k != name}
    if word != Mode.ON.value:
        kinds[name] = Mode(word)
    words = {"on": "with a notification", "silent": "without a sound", "off": "no more"}
    return replace(current, kinds=kinds), f"This chat now gets {name} {words[word]}."


def _quiet(current: ChatSettings, value: str) -> tuple[ChatSettings, str]:
    if value.lower() in ("off", "none"):
        return replace(current, quiet_from=None, quiet_to=None), "No quiet hours: alerts come with a notification."
    start, sep, end = value.replace("–", "-").partition("-")
    if not sep:
        raise UserError("Quiet hours are a range like 22:00-07:00 (exchange time), or off.")
    begin, finish = parse_clock(start, "The start"), parse_clock(end, "The end")
    if begin == finish:
        raise UserError("Quiet hours need a start and an end that differ, like 22:00-07:00.")
    return replace(current, quiet_from=begin, quiet_to=finish), f"Quiet hours {begin:%H:%M}–{finish:%H:%M}: alerts then come without a sound."


def _watch(current: ChatSettings, value: str, context: Context) -> tuple[ChatSettings, str]:
    if value.lower() in ("default", "defaults", "reset"):
        return replace(current, selloff_pct=None, drawdown_pct=None), "This chat's watches use the bot's percentages again."
    words = value.replace("%", " ").split()
    if len(words) != 2:
        raise UserError("Give the sell-off and the drawdown percentages, like /settings watch 7 25 (or /settings watch default).")
    selloff = abs(parse_number(words[0], name="the sell-off percentage"))
    drawdown = abs(parse_number(words[1], name="the drawdown percentage"))
    if not 0 < selloff <= MAX_PLAUSIBLE_MOVE:
        raise UserError(f"The sell-off percentage must be above 0 and at most {plain_pct(MAX_PLAUSIBLE_MOVE)}, like 7.")
    if not 0 < drawdown <= MAX_PLAUSIBLE_DRAWDOWN:
        raise UserError(f"The drawdown percentage must be above 0 and at most {plain_pct(MAX_PLAUSIBLE_DRAWDOWN)}, like 25.")
    said = f"This chat's watches now say a sell-off of {plain_pct(selloff)} in a day and a drawdown of {plain_pct(drawdown)} from the high."
    return replace(current, selloff_pct=selloff, drawdown_pct=drawdown), said


def chat_commands() -> list[Command]:
    return [
        Command("settings", "How this chat hears from the bot: kinds on/silent/off, quiet hours, watch percentages", settings_command,
                args=(Arg("setting", ArgKind.CHOICE, "What to change", required=False, choices=(*SETTABLE_KINDS, "quiet", "watch")),
                      Arg("value", ArgKind.TEXT, "on, silent or off; a range like 22:00-07:00; two percentages like 7 25", required=False, rest=True, max_chars=40)),
                access=Access.CHAT_MANAGER,
                examples=("/settings", "/settings selloffs silent", "/settings members off", "/settings quiet 22:00-07:00", "/settings watch 7 25"),
                details="Silent alerts arrive without a notification sound (Telegram's disable_notification, Discord's silent flag); "
                        "alerts in quiet hours (exchange time) come silently too. Off drops that kind for this chat. "
                        "watch sets this chat's sell-off and drawdown percentages for /watch (the bot's defaults otherwise)."),
    ]
