"""What the basket alerts say, and their button (the basket, not a primer)."""

from __future__ import annotations

from bot.core.describe import pct, plain_pct
from bot.core.feature import AlertKindSpec
from bot.core.messages import Action, Alert, AlertKind, Tone


def _describe_basket(alert: Alert) -> tuple[str, list[str], Tone]:
    members = ", ".join(f"{ticker} {pct(change)}" for ticker, change in alert.extra.get("members", []))
    lines = []
    if alert.kind is AlertKind.BASKET_SELLOFF:
        title = f"Sell-off: the {alert.ticker} basket is down {abs(alert.change_pct or 0):.2f}% today"
    else:
        title = f"The {alert.ticker} basket is {alert.drawdown_pct or 0:.1f}% below its 52-week high"
        lines.append(f"Today: {pct(alert.change_pct)} (equal-weight).")
    if alert.kind is AlertKind.BASKET_SELLOFF and alert.drawdown_pct is not None:
        lines.append(f"That is {alert.drawdown_pct:.1f}% below its 52-week high.")
    lines.append(members)
    lines.append(f"This chat watches the {alert.ticker} basket for falls of {plain_pct(alert.threshold_pct or 0)} or more.")
    return title, lines, Tone.DOWN


def _basket_actions(alert: Alert) -> tuple[Action, ...]:
    return (Action("Basket", "basket", (alert.ticker,)),)


BASKET_KINDS = {
    AlertKind.BASKET_SELLOFF: AlertKindSpec(_describe_basket, _basket_actions),
    AlertKind.BASKET_DRAWDOWN: AlertKindSpec(_describe_basket, _basket_actions),
}
