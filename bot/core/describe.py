"""Numbers into words every adapter shares: prices, percentages, times, and what an alert means.

No markup here: adapters style the title, lines and tone they get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from bot.core.feature import AlertKindSpec
from bot.core.messages import Action, Alert, AlertKind, Tone
from bot.core.routing import LEVELS, MARKET, MEMBERS, NEWS, SECTION_ORDER, section_of

# How a zone is named after a time ("10:31 ET"); others use their abbreviation ("CET").
ZONE_LABELS = {"America/New_York": "ET", "America/Chicago": "CT", "America/Los_Angeles": "PT"}


def money(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"${value:,.2f}"
    if abs(value) < 1:
        return f"${value:.4f}"
    return f"${value:.2f}"


def pct(value: float | None, *, signed: bool = True, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    text = f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"
    return text.replace("-", "\u2212")  # a true minus sign reads better in chat


def plain_pct(value: float, digits: int = 2) -> str:
    """A threshold such as 10 or 7.5, without trailing zeros."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def market_time(moment: datetime, zone: tzinfo) -> str:
    """'2025-01-27 09:31 ET': a moment in the exchange's time zone."""
    local = moment.astimezone(zone)
    label = ZONE_LABELS.get(str(zone)) or local.strftime("%Z")
    return local.strftime(f"%Y-%m-%d %H:%M {label}")


def big_number(value: float | None) -> str:
    if value is None:
        return "n/a"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if abs(value) >= size:
            return f"${value / size:,.2f}{unit}"
    return f"${value:,.0f}"


@dataclass(frozen=True, slots=True)
class AlertText:
    title: str
    lines: tuple[str, ...]
    tone: Tone
    footer: str

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines, self.footer))


class AlertDescriber:
    """What each kind of alert says, and the buttons it carries: the core's kinds, plus those
    the features declare. Adapters render its `AlertText` in their own idiom."""

    def __init__(self, zone: tzinfo, kinds: Mapping[AlertKind, AlertKindSpec] | None = None) -> None:
        self.zone = zone
        self.kinds: dict[AlertKind, AlertKindSpec] = {**CORE_KINDS, **(kinds or {})}

    def describe(self, alert: Alert) -> AlertText:
        """What an alert says, in words a reader understands at a glance (a group: the title of each of its alerts)."""
        if alert.kind is AlertKind.GROUP:
            titles = tuple(f"• {self.describe(item).title}" for item in alert.items)
            return AlertText(title=f"{len(alert.items)} alerts", lines=titles, tone=Tone.NEUTRAL, footer=market_time(alert.at, self.zone))
        spec = self.kinds.get(alert.kind)
        title, lines, tone = (spec.describe if spec else _describe_generic)(alert)
        footer = market_time(alert.at, self.zone)
        return AlertText(title=title, lines=tuple(line for line in lines if line), tone=tone, footer=footer)

    def actions(self, alert: Alert) -> tuple[Action, ...]:
        spec = self.kinds.get(alert.kind)
        if spec is not None and spec.actions is not None:
            return spec.actions(alert)
        return rule_actions(alert)

    def market_time(self, moment: datetime) -> str:
        return market_time(moment, self.zone)

    def group_title(self, alert: Alert) -> str:
        """The headline of a grouped message: '9 alerts · 2025-01-27 09:31 ET'."""
        return f"{len(alert.items)} alerts · {self.market_time(alert.at)}"


SECTION_TITLES = {LEVELS: "The analyst's levels", MARKET: "Sell-offs and drawdowns", MEMBERS: "Members' alerts", NEWS: "News"}


def sections(alert: Alert) -> list[tuple[str, list[Alert]]]:
    """A message's alerts by part (the analyst's levels; sell-offs and drawdowns; members'
    alerts; news), in the order the routing step put them (most severe first)."""
    parts: dict[str, list[Alert]] = {}
    for item in alert.alerts:
        parts.setdefault(section_of(item), []).append(item)
    return [(SECTION_TITLES[name], parts[name]) for name in sorted(parts, key=SECTION_ORDER.index)]


def group_action_label(alert: Alert, action: Action) -> str:
    """A button's label where several alerts share one message: 'NVDA primer', 'Snooze 1 day #15'."""
    if alert.rule_id is None or alert.mention is None or action.command == "primer":
        return f"{alert.ticker} {action.label.lower()}"
    return f"{action.label} #{alert.rule_id}"


def command_text(action: Action) -> str:
    """An action as the command a member can type: '/snooze 12 1'."""
    return "/" + " ".join((action.command, *action.args))


def rule_actions(alert: Alert) -> tuple[Action, ...]:
    """The buttons an alert carries by default: the primer, and for a rule, snooze and remove."""
    actions = [Action("Primer", "primer", (alert.ticker,))]
    if alert.rule_id is not None and alert.mention is not None:
        actions.append(Action("Snooze 1 day", "snooze", (str(alert.rule_id), "1")))
        actions.append(Action("Remove alert", "unalert", (str(alert.rule_id),)))
    return tuple(actions)


def today_line(alert: Alert) -> str:
    prev = alert.prev_close or alert.extra.get("prev_close")
    if alert.change_pct is None:
        return f"Now {money(alert.price)}."
    if prev:
        return f"Now {money(alert.price)}, {pct(alert.change_pct)} today (previous close {money(prev)})."
    return f"Now {money(alert.price)}, {pct(alert.change_pct)} today."


def _whose(alert: Alert) -> str:
    return f"Alert #{alert.rule_id} for {alert.mention.label}" if alert.mention else f"Alert #{alert.rule_id}"


def _describe_price(alert: Alert) -> tuple[str, list[str], Tone]:
    above = alert.kind is AlertKind.PRICE_ABOVE
    verb = "rose above" if above else "fell below"
    return (
        f"{alert.ticker} {verb} {money(alert.level)}",
        [today_line(alert), f"{_whose(alert)}: {alert.ticker} {'above' if above else 'below'} {money(alert.level)}."],
        Tone.UP if above else Tone.DOWN,
    )


def _describe_level(alert: Alert) -> tuple[str, list[str], Tone]:
    rising = alert.direction == "up"
    name = alert.level_name or "level"
    lines = [today_line(alert)]
    if through := level_distance(alert.price, alert.level, name):
        lines.append(f"It is {through}.")
    if alert.note:
        lines.append(f"Analyst's note: {alert.note}")
    return (
        f"{alert.ticker} {'rose to' if rising else 'fell to'} the analyst's {name} level of {money(alert.level)}",
        lines,
        Tone.UP if rising else Tone.DOWN,
    )


def level_distance(price: float | None, level: float | None, name: str) -> str:
    """'6.7% below the $108.00 entry': how far a price is past (or short of) a level."""
    if price is None or not level:
        return ""
    gap = (price / level - 1) * 100
    if abs(gap) < 0.05:
        return f"at the {money(level)} {name}"
    return f"{abs(gap):.1f}% {'above' if gap > 0 else 'below'} the {money(level)} {name}"


def nearest_level_line(alert: Alert) -> str:
    """On a sell-off: where the analyst's nearest level is."""
    near = alert.extra.get("nearest_level")
    if not near:
        return ""
    name, level = str(near[0]), float(near[1])
    return f"Nearest analyst level: {level_distance(alert.price, level, name)}."


def _describe_move(alert: Alert) -> tuple[str, list[str], Tone]:
    up = alert.direction == "up"
    size = abs(alert.change_pct or 0.0)
    rule = f"{_whose(alert)}: a daily move of {plain_pct(alert.threshold_pct or 0)} or more."
    return (
        f"{alert.ticker} {'up' if up else 'down'} {size:.2f}% today",
        [today_line(alert), rule],
        Tone.UP if up else Tone.DOWN,
    )


def _describe_selloff(alert: Alert) -> tuple[str, list[str], Tone]:
    size = abs(alert.change_pct or 0.0)
    lines = [today_line(alert)]
    if alert.drawdown_pct is not None:
        lines.append(f"That is {alert.drawdown_pct:.1f}% below its peak close of {money(alert.peak)}.")
    lines.append(nearest_level_line(alert))
    lines.append(f"This chat watches {alert.ticker} for daily falls of {plain_pct(alert.threshold_pct or 0)} or more.")
    return (f"Sell-off: {alert.ticker} down {size:.2f}% today", lines, Tone.DOWN)


def _describe_drawdown(alert: Alert) -> tuple[str, list[str], Tone]:
    depth = alert.drawdown_pct or 0.0
    who = (
        f"{_whose(alert)}: a drawdown of {plain_pct(alert.threshold_pct or 0)} from the peak."
        if alert.mention
        else f"This chat watches {alert.ticker} for drawdowns of {plain_pct(alert.threshold_pct or 0)} from the peak."
    )
    return (
        f"{alert.ticker} is {depth:.1f}% below its peak",
        [f"{today_line(alert)[:-1]}; the peak close was {money(alert.peak)}.", who],
        Tone.DOWN,
    )


def _describe_split(alert: Alert) -> tuple[str, list[str], Tone]:
    ratio = float(alert.extra.get("ratio", 1.0))
    changes = alert.extra.get("changes", [])
    lines = [f"{alert.ticker} now trades {ratio:g}-for-1. Price levels and alerts were divided by {ratio:g}; percent alerts are unchanged."]
    lines.extend(str(change) for change in changes[:10])
    if len(changes) > 10:
        lines.append(f"… and {len(changes) - 10} more.")
    return (f"{alert.ticker} split {ratio:g}-for-1", lines, Tone.NEUTRAL)


TIMINGS = {"bmo": "before the open", "amc": "after the close", "unknown": "time not announced"}


def day_name(value: date | str | None) -> str:
    """'Wed 2025-01-29' from a date or an ISO date string."""
    if value is None:
        return "n/a"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day:%a} {day.isoformat()}"


def timing_words(timing: str | None) -> str:
    return TIMINGS.get(timing or "unknown", TIMINGS["unknown"])


def _describe_generic(alert: Alert) -> tuple[str, list[str], Tone]:
    title = alert.extra.get("title") or f"{alert.ticker}: {alert.kind.value.replace('_', ' ')}"
    lines = list(alert.extra.get("lines", []))
    tone = Tone(alert.extra.get("tone", Tone.NEUTRAL.value))
    return str(title), [str(line) for line in lines], tone


def _describe_indicator(alert: Alert) -> tuple[str, list[str], Tone]:
    """A moving average crossed, the RSI at a level, or a change over several sessions."""
    name = str(alert.extra.get("condition", ""))
    value = float(alert.extra.get("value", 0.0))
    up = alert.direction == "up"
    kind = alert.extra.get("kind")
    if kind == "ma":
        title = f"{alert.ticker} {'rose above' if up else 'fell below'} its {name.upper()} ({money(value)})"
        rule = f"{_whose(alert)}: {alert.ticker} {'above' if up else 'below'} its {name.upper()}."
    elif kind == "rsi":
        title = f"{alert.ticker}'s RSI({name[3:]}) is {value:.1f}, {'above' if up else 'below'} {alert.level or 0:g}"
        rule = f"{_whose(alert)}: RSI {'above' if up else 'below'} {alert.level or 0:g}."
    else:
        title = f"{alert.ticker} {'up' if up else 'down'} {abs(value):.2f}% over {name[:-1]} sessions"
        rule = f"{_whose(alert)}: a move of {plain_pct(alert.threshold_pct or 0)} or more over {name[:-1]} sessions."
    return title, [today_line(alert), rule], Tone.UP if up else Tone.DOWN


CORE_KINDS: dict[AlertKind, AlertKindSpec] = {
    AlertKind.INDICATOR: AlertKindSpec(_describe_indicator),
    AlertKind.PRICE_ABOVE: AlertKindSpec(_describe_price),
    AlertKind.PRICE_BELOW: AlertKindSpec(_describe_price),
    AlertKind.ANALYST_LEVEL: AlertKindSpec(_describe_level),
    AlertKind.DAILY_MOVE: AlertKindSpec(_describe_move),
    AlertKind.SELLOFF: AlertKindSpec(_describe_selloff),
    AlertKind.DRAWDOWN: AlertKindSpec(_describe_drawdown),
    AlertKind.SPLIT: AlertKindSpec(_describe_split),
}
