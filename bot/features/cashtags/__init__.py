"""Cashtags: `$NVDA` in an ordinary message answers with a quote line; `/cashtags on|off` per chat.

    listener.py  finding cashtags, the 30 s quiet time per ticker and chat, the answer
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from bot.core.chatter import ChatterListener
from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.feature import AlertKindSpec, DailyJob, QuoteListener
from bot.core.messages import AlertKind, Reply
from bot.core.router import Context, Invocation
from bot.features.cashtags.listener import MAX_PER_MESSAGE, QUIET_SECONDS, CashtagListener, CashtagStore, cashtags

NEEDS = {
    "telegram": "In a Telegram group the bot sees ordinary messages only with its privacy mode off "
                "(@BotFather, /setprivacy, Disable) or when it is an admin of the group.",
    "discord": "On Discord the bot reads ordinary messages only with the message-content intent: "
               "turn it on in the Developer Portal and set [discord] message_content = true.",
}


async def cashtags_command(listener: CashtagListener, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    choice = values.get("choice")
    chat = invocation.chat
    if choice is None:
        state = "on" if listener.is_on(chat) else "off"
        return Reply(title=f"Cashtags are {state} in this chat.", lines=("/cashtags on answers $NVDA in ordinary messages with its price; /cashtags off stops it.",))
    await listener.set_on(chat, choice == "on")
    if choice == "off":
        return Reply(title="Cashtags are off in this chat.", lines=("$NVDA in a message gets no answer now.",))
    lines = [f"A message naming $NVDA gets its price and day change: up to {MAX_PER_MESSAGE} tickers a message, "
             f"each at most once every {QUIET_SECONDS:g} s in this chat; a cashtag that is not a ticker is ignored."]
    if chat.kind.value != "private" and chat.platform in NEEDS:
        lines.append(NEEDS[chat.platform])
    return Reply(title="Cashtags are on in this chat.", lines=tuple(lines))


class CashtagsFeature:
    name = "cashtags"

    def __init__(self, context: Context, *, store: CashtagStore) -> None:
        self.listener = CashtagListener(context, store)

    def commands(self) -> Sequence[Command]:
        return [
            Command("cashtags", "Answer $NVDA in ordinary messages with its price in this chat (off by default)",
                    partial(cashtags_command, self.listener), access=Access.CHAT_MANAGER,
                    args=(Arg("choice", ArgKind.CHOICE, "on or off; nothing to see the setting", required=False, choices=("on", "off")),),
                    examples=("/cashtags on", "/cashtags off", "/cashtags"),
                    details=f"With cashtags on, a message such as 'what about $NVDA and $AVGO?' gets one line per ticker "
                            f"(at most {MAX_PER_MESSAGE} a message, each at most once every {QUIET_SECONDS:g} s in a chat)."),
        ]

    def daily_jobs(self) -> Sequence[DailyJob]:
        return ()

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return ()

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return {}

    def chatter_listeners(self) -> list[ChatterListener]:
        return [self.listener]

    async def start(self) -> None:
        await self.listener.load()


__all__ = ["CashtagListener", "CashtagsFeature", "cashtags"]
