"""What the catalyst alerts say."""

from __future__ import annotations

from bot.core.describe import day_name, money, pct
from bot.core.feature import AlertKindSpec
from bot.core.messages import Alert, AlertKind, Tone


def _reminder(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    trading_days, calendar_days = int(extra.get("trading_days", 0)), int(extra.get("calendar_days", 0))
    when = "tomorrow" if calendar_days == 1 else ("the next session" if trading_days == 1 else f"in {trading_days} trading days")
    return (
        f"{alert.ticker}: {extra.get('name')} {when}",
        [f"On {day_name(extra.get('event_day'))}. A recap of the move follows after the close of {day_name(extra.get('reaction_session'))}."],
        Tone.NEUTRAL,
    )


def _day(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    return (
        f"{alert.ticker}: {extra.get('name')} today",
        [f"A recap of the move follows after the close of {day_name(extra.get('reaction_session'))}."],
        Tone.NEUTRAL,
    )


def _recap(alert: Alert) -> tuple[str, list[str], Tone]:
    extra = alert.extra
    change = alert.change_pct
    lines = [
        f"{extra.get('name')} on {day_name(extra.get('event_day'))}; first session on the news: {day_name(extra.get('session'))}.",
        f"Opened {money(extra.get('open'))} ({pct(extra.get('gap_pct'))} gap from the previous close of {money(alert.prev_close)}); "
        f"closed {money(alert.price)}, {pct(change)}.",
    ]
    tone = Tone.NEUTRAL if not change else (Tone.UP if change > 0 else Tone.DOWN)
    return f"{alert.ticker} after {extra.get('name')}: {pct(change)}", lines, tone


CATALYST_KINDS = {
    AlertKind.CATALYST_REMINDER: AlertKindSpec(_reminder),
    AlertKind.CATALYST_DAY: AlertKindSpec(_day),
    AlertKind.CATALYST_RECAP: AlertKindSpec(_recap),
}
