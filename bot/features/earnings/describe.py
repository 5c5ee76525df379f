"""What the earnings alerts say."""

from __future__ import annotations

from bot.core.describe import day_name, money, pct, timing_words
from bot.core.feature import AlertKindSpec
from bot.core.messages import Alert, AlertKind, Tone


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


EARNINGS_KINDS = {
    AlertKind.EARNINGS_REMINDER: AlertKindSpec(_describe_earnings_reminder),
    AlertKind.EARNINGS_DAY: AlertKindSpec(_describe_earnings_day),
    AlertKind.EARNINGS_RECAP: AlertKindSpec(_describe_earnings_recap),
    AlertKind.EARNINGS_MOVED: AlertKindSpec(_describe_earnings_moved),
}
