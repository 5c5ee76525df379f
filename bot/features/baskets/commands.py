"""Basket commands: /basket, /setbasket, /clearbasket, /watchbasket, /unwatchbasket."""

from __future__ import annotations

from functools import partial
from typing import Any

from bot.core.commands import Access, Arg, ArgKind, Command
from bot.core.describe import pct, plain_pct
from bot.core.errors import UserError
from bot.core.handlers import fetch_quotes, look_up
from bot.core.market import Quote
from bot.core.messages import Reply, Tone
from bot.core.models import parse_ticker
from bot.core.router import Context, Invocation
from bot.features.baskets.desk import MAX_MEMBERS, MIN_MEMBERS, BasketDesk, parse_basket_name

NAME_ARG = Arg("name", ArgKind.TEXT, "A basket name such as ai-semis", max_chars=20)


def _members_line(members: list[str], quotes: dict[str, Quote]) -> str:
    return " · ".join(f"{t} {pct(quotes[t].change_pct)}" if t in quotes and quotes[t].change_pct is not None else t for t in members)


async def basket_command(desk: BasketDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    if not values.get("name"):
        if not desk.baskets:
            return Reply(title="No baskets yet.", lines=("Admins make one with /setbasket ai-semis NVDA AVGO TSM ANET CRDO.",))
        here = set(await context.store.baskets.watched(invocation.chat))
        listing = tuple(f"{name}: {' '.join(members)}{' · followed here' if name in here else ''}" for name, members in desk.baskets.items())
        return Reply(title=f"Baskets ({len(desk.baskets)})", lines=listing, footer="/basket NAME shows one; /watchbasket NAME follows it here.")
    name = parse_basket_name(values["name"])
    members = desk.baskets.get(name)
    if members is None:
        raise UserError(f"There is no basket {name}. /basket lists them.")
    quotes = await fetch_quotes(context, members)
    session = context.calendar.last_closed_or_open_session(context.clock.now())
    reading = await desk.read(name, quotes, session)
    lines = [_members_line(members, quotes)]
    if reading is not None:
        lines.insert(0, f"Equal-weight move today: {pct(reading.change_pct)}; {reading.drawdown_pct:.1f}% below its 52-week high.")
    else:
        lines.insert(0, "Not every member has a price from today's session yet.")
    alerts = context.settings
    lines.append(f"Chats that /watchbasket {name} hear when it falls {plain_pct(alerts.selloff_pct)} in a day or {plain_pct(alerts.drawdown_pct)} from its high.")
    tone = Tone.NEUTRAL if reading is None else (Tone.UP if reading.change_pct > 0 else Tone.DOWN)
    return Reply(title=f"Basket {name}: {len(members)} tickers", lines=tuple(lines), tone=tone)


async def setbasket_command(desk: BasketDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    name = parse_basket_name(values["name"])
    tickers = list(dict.fromkeys(parse_ticker(word) for word in values["tickers"].split()))
    if not MIN_MEMBERS <= len(tickers) <= MAX_MEMBERS:
        raise UserError(f"A basket holds {MIN_MEMBERS} to {MAX_MEMBERS} different tickers, like /setbasket {name} NVDA AVGO TSM.")
    lookup = await look_up(context, tickers)  # unknown tickers are refused; while data is down, saved unverified
    new = await context.store.baskets.set(name, tickers, by=invocation.user.key, now=context.clock.now())
    desk.baskets[name] = tickers
    desk.forget_history(name)
    verb = "made" if new else "changed"
    lines = []
    if lookup.outage is not None:
        lines.append(lookup.saved_unverified(", ".join(tickers)))
        lines.append(f"When data returns: /basket {name} shows each member's move and the basket's distance from its 52-week high.")
    lines.append(f"Chats follow it with /watchbasket {name}.")
    return Reply(title=f"Basket {name} {verb}: {' '.join(tickers)}", lines=tuple(lines))


async def clearbasket_command(desk: BasketDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    name = parse_basket_name(values["name"])
    if not await context.store.baskets.delete(name):
        raise UserError(f"There is no basket {name}. /basket lists them.")
    desk.baskets.pop(name, None)
    desk.watched.discard(name)
    return Reply(title=f"Basket {name} removed, and every chat stopped following it.")


async def watchbasket_command(desk: BasketDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    name = parse_basket_name(values["name"])
    if name not in desk.baskets:
        raise UserError(f"There is no basket {name}. /basket lists them.")
    added = await context.store.baskets.watch(invocation.chat, name, now=context.clock.now())
    desk.watched.add(name)
    alerts = context.settings
    return Reply(
        title=f"This chat {'now follows' if added else 'already follows'} the basket {name}.",
        lines=(f"{' '.join(desk.baskets[name])}: you'll hear, once, when the basket falls {plain_pct(alerts.selloff_pct)} in a day or {plain_pct(alerts.drawdown_pct)} from its 52-week high.",),
    )


async def unwatchbasket_command(desk: BasketDesk, context: Context, invocation: Invocation, values: dict[str, Any]) -> Reply:
    name = parse_basket_name(values["name"])
    if not await context.store.baskets.unwatch(invocation.chat, name):
        raise UserError(f"This chat does not follow the basket {name}.")
    desk.watched = set(await context.store.baskets.watched())
    return Reply(title=f"This chat no longer follows the basket {name}.")


def basket_commands(desk: BasketDesk) -> list[Command]:
    return [
        Command("basket", "List the baskets, or show one with today's moves", partial(basket_command, desk),
                args=(Arg("name", ArgKind.TEXT, "A basket name (all if omitted)", required=False, max_chars=20),), examples=("/basket", "/basket ai-semis")),
        Command("setbasket", "Make or change a basket: a name and 2 to 20 tickers", partial(setbasket_command, desk), access=Access.ADMIN,
                args=(NAME_ARG, Arg("tickers", ArgKind.TEXT, "The tickers, separated by spaces", rest=True, max_chars=260)),
                examples=("/setbasket ai-semis NVDA AVGO TSM ANET CRDO",)),
        Command("clearbasket", "Remove a basket", partial(clearbasket_command, desk), access=Access.ADMIN, args=(NAME_ARG,), examples=("/clearbasket ai-semis",)),
        Command("watchbasket", "Follow a basket in this chat: its sell-offs and drawdowns", partial(watchbasket_command, desk), access=Access.CHAT_MANAGER,
                args=(NAME_ARG,), examples=("/watchbasket ai-semis",)),
        Command("unwatchbasket", "Stop following a basket in this chat", partial(unwatchbasket_command, desk), access=Access.CHAT_MANAGER,
                args=(NAME_ARG,), examples=("/unwatchbasket ai-semis",)),
    ]
