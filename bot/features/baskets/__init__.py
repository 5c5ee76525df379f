"""Baskets: a named group of tickers followed as one equal-weight index; its sell-off and
drawdown said once, listing each member.

    desk.py      the baskets, their readings and the check of each price cycle's quotes
    commands.py  /basket, /setbasket, /clearbasket, /watchbasket, /unwatchbasket
    describe.py  what its alerts say
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.commands import Command
from bot.core.feature import AlertKindSpec, FeatureDefaults, QuoteListener
from bot.core.messages import AlertKind
from bot.core.router import Context
from bot.features.baskets.commands import basket_commands
from bot.features.baskets.describe import BASKET_KINDS
from bot.features.baskets.desk import BasketDesk, Reading, equal_weight_history, parse_basket_name


class BasketsFeature(FeatureDefaults):
    name = "baskets"

    def __init__(self, context: Context) -> None:
        self.desk = BasketDesk(
            store=context.store.baskets,
            market=context.market,
            routing=context.routing,
            settings=context.settings,
            on_queued=context.wake_dispatcher,
        )

    def commands(self) -> Sequence[Command]:
        return basket_commands(self.desk)

    def quote_listeners(self) -> Sequence[QuoteListener]:
        return (self.desk,)

    def alert_kinds(self) -> Mapping[AlertKind, AlertKindSpec]:
        return BASKET_KINDS

    async def start(self) -> None:
        await self.desk.load()


__all__ = ["BasketDesk", "BasketsFeature", "Reading", "equal_weight_history", "parse_basket_name"]
