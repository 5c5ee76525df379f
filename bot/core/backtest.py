"""Before you save it: how often an alert would have fired over the last three years of daily bars.

A private `RuleEngine` (the reference engine, the same code the price check runs) is fed each
daily bar as the quotes a day of checks would have seen: the open, the day's two extremes (the low
first on a day that closed up, the high first on one that closed down) and the close. The rule
starts as a rule set on the first day does (`prepare` at that day's open) and the drawdown peak
starts from the year before, as `RuleBook.seed_peak` does. What fires is what the live engine
would have said at those prices; what happens between them within a day is not known, so a
price that crossed and came back twice in one day counts once.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from bot.core.engine import RuleEngine
from bot.core.indicators import Basis, IndicatorIndex, is_indicator_rule
from bot.core.market import Bar, Quote
from bot.core.models import Rule

LOOKBACK_DAYS = 3 * 365 + 1
PEAK_WARMUP_DAYS = 365
SHOWN_DATES = 12


@dataclass(frozen=True, slots=True)
class Backtest:
    first_day: date | None  # the first bar looked at (None: no bars)
    fired: tuple[date, ...]  # the day of each firing, oldest first
    milliseconds: float  # the replay alone, without fetching the bars

    def sentence(self, *, since: date) -> str:
        """'Over the last three years of daily bars it would have fired 4 times since 2023-01: 2024-04-19, ...'."""
        if self.first_day is None:
            return "There are no daily bars to tell how often it would have fired."
        start = self.first_day.strftime("%Y-%m") if self.first_day <= since + timedelta(days=7) else self.first_day.isoformat()
        where = "Over the last three years of daily bars" if self.first_day <= since + timedelta(days=7) else "Over the daily bars the data provider has"
        count = len(self.fired)
        if count == 0:
            return f"{where} it would not have fired (since {start})."
        shown = ", ".join(day.isoformat() for day in self.fired[-SHOWN_DATES:])
        more = f" (the last {SHOWN_DATES}: {shown})" if count > SHOWN_DATES else f": {shown}"
        return f"{where} it would have fired {count} time{'s' if count != 1 else ''} since {start}{more}."


def _quotes(ticker: str, bar: Bar, prev_close: float | None, zone: tzinfo) -> list[Quote]:
    """The quotes a day of checks would have seen, in the order the day most likely took."""
    extremes = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
    path = [bar.open, *extremes, bar.close]
    quotes = []
    high = low = bar.open
    for step, price in enumerate(path):
        high, low = max(high, price), min(low, price)
        at = datetime.combine(bar.day, time(9, 30), zone) + timedelta(minutes=130 * step)
        quotes.append(Quote(ticker=ticker, price=price, prev_close=prev_close, session=bar.day, at=at,
                            day_high=high, day_low=low, day_open=bar.open, final=step == len(path) - 1))
    return quotes


def backtest(rule: Rule, bars: list[Bar], *, start: date, zone: tzinfo, rearm_band_pct: float) -> Backtest:
    """Replay `bars` from `start` through a private engine holding only a copy of `rule`."""
    began = clock.perf_counter()
    bars = sorted((b for b in bars if b.close > 0 and b.open > 0 and b.high > 0 and b.low > 0), key=lambda b: b.day)
    window = [b for b in bars if b.day >= start]
    if not window:
        return Backtest(None, (), 0.0)
    probe = replace(rule, id=1, armed=None, snoozed_until=None, met_session=None, once=False, expires_on=None)
    engine = IndicatorIndex(RuleEngine(rearm_band_pct=rearm_band_pct), rearm_band_pct=rearm_band_pct)
    engine.load([], {})
    indicator = is_indicator_rule(rule)
    closes = [b.close for b in bars if b.day < start]  # an indicator rule's closes before each day (`RuleBook.seed_indicators`)
    if indicator:
        engine.set_basis(rule.ticker, Basis.of(window[0].day, closes))
    before = [b.close for b in bars if start - timedelta(days=PEAK_WARMUP_DAYS) <= b.day < start]
    prev_close = next((b.close for b in reversed(bars) if b.day < start), None)
    first_open = _quotes(rule.ticker, window[0], prev_close, zone)[0]
    engine.prepare(probe, first_open)
    engine.add(probe)
    if before:
        engine.seed_peak(rule.ticker, max(before))
    fired: list[date] = []
    for bar in window:
        if indicator and bar is not window[0]:
            engine.set_basis(rule.ticker, Basis.of(bar.day, closes))
        for quote in _quotes(rule.ticker, bar, prev_close, zone):
            result = engine.evaluate(quote, now=quote.at)
            if result.firings and (not fired or fired[-1] != bar.day):
                fired.append(bar.day)
        prev_close = bar.close
        closes.append(bar.close)
    return Backtest(window[0].day, tuple(fired), (clock.perf_counter() - began) * 1000)


__all__ = ["LOOKBACK_DAYS", "PEAK_WARMUP_DAYS", "Backtest", "backtest"]
