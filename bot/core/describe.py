"""Numbers into words every adapter shares: prices, percentages, times, and what an alert means.

No markup here: adapters style the title, lines and tone they get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.core.messages import Action, Alert, AlertKind, Tone

NEW_YORK = ZoneInfo("America/New_York")


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


def market_time(moment: datetime) -> str:
    local = moment.astimezone(NEW_YORK)
    return local.strftime("%Y-%m-%d %H:%M ET")


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


def describe_alert(alert: Alert) -> AlertText:
    """What an alert says, in words a reader understands at a glance."""
    describe = _DESCRIBERS.get(alert.kind, _describe_generic)
    title, lines, tone = describe(alert)
    footer = market_time(alert.at)
    return AlertText(title=title, lines=tuple(line for line in lines if line), tone=tone, footer=footer)


def alert_actions(alert: Alert) -> tuple[Action, ...]:
    """The buttons an alert carries: the primer, and for a rule, snooze and remove."""
    if alert.kind in (AlertKind.BASKET_SELLOFF, AlertKind.BASKET_DRAWDOWN):
        return (Action("Basket", "basket", (alert.ticker,)),)
    actions = [Action("Primer", "primer", (alert.ticker,))]
    if alert.rule_id is not None and alert.mention is not None:
        actions.append(Action("Snooze 1 day", "snooze", (str(alert.rule_id), "1")))
        actions.append(Action("Remove alert", "unalert", (str(alert.rule_id),)))
    return tuple(actions)


def _today(alert: Alert) -> str:
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
        [_today(alert), f"{_whose(alert)}: {alert.ticker} {'above' if above else 'below'} {money(alert.level)}."],
        Tone.UP if above else Tone.DOWN,
    )


def _describe_level(alert: Alert) -> tuple[str, list[str], Tone]:
    rising = alert.direction == "up"
    name = alert.level_name or "level"
    lines = [_today(alert)]
    if alert.note:
        lines.append(f"Analyst's note: {alert.note}")
    return (
        f"{alert.ticker} {'rose to' if rising else 'fell to'} the analyst's {name} level of {money(alert.level)}",
        lines,
        Tone.UP if rising else Tone.DOWN,
    )


def _describe_move(alert: Alert) -> tuple[str, list[str], Tone]:
    up = alert.direction == "up"
    size = abs(alert.change_pct or 0.0)
    rule = f"{_whose(alert)}: a daily move of {plain_pct(alert.threshold_pct or 0)} or more."
    return (
        f"{alert.ticker} {'up' if up else 'down'} {size:.2f}% today",
        [_today(alert), rule],
        Tone.UP if up else Tone.DOWN,
    )


def _describe_selloff(alert: Alert) -> tuple[str, list[str], Tone]:
    size = abs(alert.change_pct or 0.0)
    lines = [_today(alert)]
    if alert.drawdown_pct is not None:
        lines.append(f"That is {alert.drawdown_pct:.1f}% below its peak close of {money(alert.peak)}.")
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
        [f"{_today(alert)[:-1]}; the peak close was {money(alert.peak)}.", who],
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


def _describe_earnings_reminder(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    timing = str(extra.get("timing", "unknown"))
    trading_days = int(extra.get("trading_days", 0))
    calendar_days = int(extra.get("calendar_days", 0))
    day = day_name(extra.get("report_day"))
    if calendar_days == 1:
        when = "tomorrow"
    elif trading_days == 1:
        when = f"on {day[:3]}, the next session"
    else:
        when = f"in {trading_days} trading days"
    title = f"{alert.ticker} reports earnings {when}" + ("" if timing == "unknown" else f", {timing_words(timing)}")
    reaction = day_name(extra.get("reaction_session"))
    if timing == "bmo":
        react = f"it trades on the news that day; a recap follows after the close of {reaction}."
    elif timing == "amc":
        react = f"the market reacts on {reaction}; a recap follows after that session's close."
    else:
        react = f"the time is not announced, so the recap covers the next session, {reaction}."
    lines = [f"Report: {day}, {timing_words(timing)}: {react}"]
    if extra.get("source") == "admin":
        lines.append("The date was set by the analyst.")
    return title, lines, Tone.NEUTRAL


def _describe_earnings_day(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    timing = str(extra.get("timing", "unknown"))
    reaction = day_name(extra.get("reaction_session"))
    if timing == "bmo":
        return (
            f"{alert.ticker} reports earnings today, before the open",
            ["It trades on the news today; a recap follows after today's close."],
            Tone.NEUTRAL,
        )
    if timing == "amc":
        return (
            f"{alert.ticker} reports earnings today, after the close",
            [f"The market reacts on {reaction}; a recap follows after that session's close."],
            Tone.NEUTRAL,
        )
    return (
        f"{alert.ticker} reports earnings today (time not announced)",
        [f"A recap follows after the close of the next session, {reaction}."],
        Tone.NEUTRAL,
    )


def _describe_earnings_recap(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    timing = str(extra.get("timing", "unknown"))
    change = alert.change_pct
    gap = extra.get("gap_pct")
    session = day_name(extra.get("session"))
    lines = [f"Reported {day_name(extra.get('report_day'))}, {timing_words(timing)}; first session on the news: {session}."]
    lines.append(
        f"Opened {money(extra.get('open'))} ({pct(gap)} gap from the previous close of {money(extra.get('prev_close'))}); "
        f"closed {money(alert.price)}, {pct(change)}."
    )
    if timing == "unknown":
        day_change = extra.get("report_day_change_pct")
        tail = f"; on the report day itself it closed {pct(day_change)}." if day_change is not None else "."
        lines.append(f"The report's time was not announced, so this is the session after the report day{tail}")
    tone = Tone.NEUTRAL if not change else (Tone.UP if change > 0 else Tone.DOWN)
    return f"{alert.ticker} after earnings: {pct(change)} on {session}", lines, tone


def _describe_earnings_moved(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    new_day, old_day = extra.get("report_day"), extra.get("old_day")
    new_timing, old_timing = str(extra.get("timing", "unknown")), str(extra.get("old_timing", "unknown"))
    if new_day == old_day:
        title = f"{alert.ticker} earnings time changed: {timing_words(old_timing)} → {timing_words(new_timing)}"
    else:
        title = f"{alert.ticker} earnings date moved: {day_name(old_day)} → {day_name(new_day)}"
    who = "the analyst" if extra.get("source") == "admin" else "the data provider"
    lines = [
        f"Now {day_name(new_day)}, {timing_words(new_timing)} (was {day_name(old_day)}, {timing_words(old_timing)}), per {who}.",
        "Reminders and the recap follow the new date.",
    ]
    return title, lines, Tone.WARNING


def _describe_generic(alert: Alert) -> tuple[str, list[str], Tone]:
    title = alert.extra.get("title") or f"{alert.ticker}: {alert.kind.value.replace('_', ' ')}"
    lines = list(alert.extra.get("lines", []))
    tone = Tone(alert.extra.get("tone", Tone.NEUTRAL.value))
    return str(title), [str(line) for line in lines], tone


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


_DESCRIBERS = {
    AlertKind.PRICE_ABOVE: _describe_price,
    AlertKind.PRICE_BELOW: _describe_price,
    AlertKind.ANALYST_LEVEL: _describe_level,
    AlertKind.DAILY_MOVE: _describe_move,
    AlertKind.SELLOFF: _describe_selloff,
    AlertKind.DRAWDOWN: _describe_drawdown,
    AlertKind.SPLIT: _describe_split,
    AlertKind.EARNINGS_REMINDER: _describe_earnings_reminder,
    AlertKind.EARNINGS_DAY: _describe_earnings_day,
    AlertKind.EARNINGS_RECAP: _describe_earnings_recap,
    AlertKind.EARNINGS_MOVED: _describe_earnings_moved,
    AlertKind.BASKET_SELLOFF: _describe_basket,
    AlertKind.BASKET_DRAWDOWN: _describe_basket,
}
