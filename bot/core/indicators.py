"""Alerts on indicators of the daily closes: the price crossing a moving average, the RSI
crossing a level, the change over several sessions.

    /alert NVDA below sma200     the price falls through its 200-session simple moving average
    /alert NVDA above ema20      the price rises through its 20-session exponential moving average
    /alert NVDA rsi below 30     the 14-session RSI (Wilder's smoothing) falls to 30
    /alert NVDA move -10 over 5d the price is 10 % or more below the close five sessions earlier

Every figure is the one the session's close would give if it closed at the price now: the
completed daily closes before the session (at most `LOOKBACK_SESSIONS`, read once per ticker
per session through `MarketData.history`) with the live price counted as today's close.

- SMA n: the mean of the last n-1 closes and the price.
- EMA n: seeded with the mean of the first n closes of the look-back, then
  `ema += 2/(n+1) * (close - ema)` over each later close, and once more over the price.
- RSI n: Wilder's: the mean gain and loss of the first n changes of the look-back, then
  `avg = (avg * (n-1) + x) / n` over each later change and the price's change from the last
  close; RSI = 100 - 100 / (1 + gain / loss) (100 with no loss, 50 with neither).
- change over n sessions: price / (the close n sessions before the session's) - 1, in percent.

They are edge-triggered as the price rules are: a rule fires when its condition becomes true
while armed and re-arms once back past the re-arm band: for a moving average the band is a
percent of the average (as for a price), for the RSI and a change it is the same number in
points (1 % gives 1 RSI point, 1 percentage point). A rule saved with no figures yet (no
history, or not enough of it) takes its baseline at the first check with figures: a condition
already met waits for the next crossing. Snoozed rules fire silently (they disarm).

`IndicatorIndex` puts these few rules beside any `RuleIndex` (the reference or the numpy
engine), whose ladders are left untouched: both give the same verdicts because both use this
one evaluator, and a check costs only the indicator rules of the tickers quoted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise

from bot.core.engine import CheckResult, Firing, RuleIndex
from bot.core.market import Quote
from bot.core.messages import Alert, AlertKind
from bot.core.models import Direction, Rule, RuleKind, RuleSource, TickerState

LOOKBACK_SESSIONS = 500  # the completed daily closes the figures are computed from, at most
HISTORY_DAYS = 760  # the calendar days of history asked for: LOOKBACK_SESSIONS sessions and some
RSI_PERIOD = 14
MIN_PERIOD = 2
MAX_PERIOD = 250  # a moving average's length, and how many sessions back a change may look
INDICATOR_KINDS = (RuleKind.MA, RuleKind.RSI, RuleKind.CHANGE)


def is_indicator_rule(rule: Rule) -> bool:
    return rule.kind in INDICATOR_KINDS


def sma(closes: Sequence[float], n: int) -> float | None:
    """The mean of the last n closes, or None with fewer."""
    if n < 1 or len(closes) < n:
        return None
    return sum(closes[-n:]) / n


def ema(closes: Sequence[float], n: int) -> float | None:
    """The EMA of `closes` after the last one: seeded with the mean of the first n."""
    if n < 1 or len(closes) < n:
        return None
    alpha = 2.0 / (n + 1)
    value = sum(closes[:n]) / n
    for close in closes[n:]:
        value += alpha * (close - value)
    return value


def wilder(closes: Sequence[float], n: int) -> tuple[float, float] | None:
    """Wilder's mean gain and mean loss (as a positive number) after the last close, or None
    with fewer than n+1 closes."""
    if n < 1 or len(closes) < n + 1:
        return None
    changes = [b - a for a, b in pairwise(closes)]
    gain = sum(max(c, 0.0) for c in changes[:n]) / n
    loss = sum(max(-c, 0.0) for c in changes[:n]) / n
    for change in changes[n:]:
        gain = (gain * (n - 1) + max(change, 0.0)) / n
        loss = (loss * (n - 1) + max(-change, 0.0)) / n
    return gain, loss


def rsi_value(gain: float, loss: float) -> float:
    if loss == 0:
        return 100.0 if gain > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


@dataclass(slots=True)
class Basis:
    """A ticker's completed daily closes before `session` (oldest first), and the figures
    derived from them, each computed once."""

    session: date
    closes: tuple[float, ...]
    _sums: dict[int, float | None] = field(default_factory=dict)  # SMA n: the sum of the last n-1 closes
    _emas: dict[int, float | None] = field(default_factory=dict)  # EMA n after the last close
    _means: dict[int, tuple[float, float] | None] = field(default_factory=dict)  # Wilder's means after the last close

    @classmethod
    def of(cls, session: date, closes: Iterable[float]) -> Basis:
        kept = [c for c in closes if c > 0]
        return cls(session, tuple(kept[-LOOKBACK_SESSIONS:]))

    def value(self, rule: Rule, price: float) -> float | None:
        """The rule's figure with `price` as today's close: the moving average, the RSI or the
        change in percent; None without enough closes."""
        n = rule.period or 0
        closes = self.closes
        if n < 1 or price <= 0:
            return None
        if rule.kind is RuleKind.MA:
            if rule.indicator == "ema":
                if n not in self._emas:
                    self._emas[n] = ema(closes, n)
                prev = self._emas[n]
                return None if prev is None else prev + 2.0 / (n + 1) * (price - prev)
            if n not in self._sums:
                self._sums[n] = sum(closes[len(closes) - (n - 1):]) if n >= 2 and len(closes) >= n - 1 else None
            total = self._sums[n]
            return None if total is None else (total + price) / n
        if rule.kind is RuleKind.RSI:
            if n not in self._means:
                self._means[n] = wilder(closes, n)
            means = self._means[n]
            if means is None:
                return None
            gain, loss = means
            change = price - closes[-1]
            return rsi_value((gain * (n - 1) + max(change, 0.0)) / n, (loss * (n - 1) + max(-change, 0.0)) / n)
        if rule.kind is RuleKind.CHANGE:
            if len(closes) < n:
                return None
            return (price / closes[-n] - 1.0) * 100.0
        return None


def holds(rule: Rule, price: float, value: float) -> bool:
    """Whether the rule's condition is true (its figure `value` at `price`)."""
    if rule.kind is RuleKind.MA:
        return price >= value if rule.direction is Direction.UP else price <= value
    if rule.kind is RuleKind.RSI:
        return value >= rule.threshold if rule.direction is Direction.UP else value <= rule.threshold
    if rule.direction is Direction.UP:
        return value >= rule.threshold
    if rule.direction is Direction.DOWN:
        return value <= -rule.threshold
    return abs(value) >= rule.threshold


def back_past_band(rule: Rule, price: float, value: float, band: float) -> bool:
    """Whether a fired rule is back past the re-arm band (`band` a fraction: 0.01 for 1 %)."""
    if rule.kind is RuleKind.MA:
        return price <= value * (1 - band) if rule.direction is Direction.UP else price >= value * (1 + band)
    points = band * 100.0
    if rule.kind is RuleKind.RSI:
        return value <= rule.threshold - points if rule.direction is Direction.UP else value >= rule.threshold + points
    inside = rule.threshold - min(points, rule.threshold / 2)
    if rule.direction is Direction.UP:
        return value <= inside
    if rule.direction is Direction.DOWN:
        return value >= -inside
    return abs(value) <= inside


def condition_name(rule: Rule) -> str:
    """'sma200', 'ema20', 'rsi14', '5d'."""
    if rule.kind is RuleKind.CHANGE:
        return f"{rule.period}d"
    return f"{rule.indicator}{rule.period}"


class IndicatorIndex:
    """A `RuleIndex` that keeps the indicator rules itself and everything else in `inner`."""

    def __init__(self, inner: RuleIndex, *, rearm_band_pct: float = 1.0) -> None:
        self.inner = inner
        self.band = rearm_band_pct / 100.0
        self._rules: dict[str, dict[int, Rule]] = {}
        self._ticker_of: dict[int, str] = {}
        self._bases: dict[str, Basis] = {}

    # -- the figures ---------------------------------------------------------------------

    def needs_basis(self, ticker: str, session: date) -> bool:
        """True when the ticker has indicator rules and no closes for `session` yet."""
        basis = self._bases.get(ticker)
        return bool(self._rules.get(ticker)) and (basis is None or basis.session != session)

    def set_basis(self, ticker: str, basis: Basis) -> None:
        self._bases[ticker] = basis

    def basis(self, ticker: str) -> Basis | None:
        return self._bases.get(ticker)

    def value(self, rule: Rule, quote: Quote) -> float | None:
        """The rule's figure at the quote, if the closes of the quote's session are known."""
        basis = self._bases.get(rule.ticker)
        if basis is None or basis.session != quote.session:
            return None
        return basis.value(rule, quote.price)

    # -- the index -----------------------------------------------------------------------

    def load(self, rules: Iterable[Rule], states: dict[str, TickerState]) -> None:
        self._rules.clear()
        self._ticker_of.clear()
        others = []
        for rule in rules:
            if is_indicator_rule(rule):
                self._keep(rule)
            else:
                others.append(rule)
        self.inner.load(others, states)

    def _keep(self, rule: Rule) -> None:
        self._rules.setdefault(rule.ticker, {})[rule.id] = rule
        self._ticker_of[rule.id] = rule.ticker

    def add(self, rule: Rule) -> None:
        if is_indicator_rule(rule):
            self._keep(rule)
        else:
            self.inner.add(rule)

    def remove(self, rule_id: int) -> Rule | None:
        ticker = self._ticker_of.pop(rule_id, None)
        if ticker is None:
            return self.inner.remove(rule_id)
        book = self._rules[ticker]
        rule = book.pop(rule_id)
        if not book:
            del self._rules[ticker]
        return rule

    def snooze(self, rule_id: int, until: datetime | None) -> None:
        ticker = self._ticker_of.get(rule_id)
        if ticker is None:
            self.inner.snooze(rule_id, until)
        else:
            self._rules[ticker][rule_id].snoozed_until = until

    def replace_ticker(self, ticker: str, rules: Iterable[Rule], state: TickerState | None) -> None:
        for rule_id in list(self._rules.get(ticker, {})):
            self.remove(rule_id)
        others = []
        for rule in rules:
            if is_indicator_rule(rule):
                self._keep(rule)
            else:
                others.append(rule)
        self.inner.replace_ticker(ticker, others, state)

    def tickers(self) -> list[str]:
        return sorted(set(self.inner.tickers()) | set(self._rules))

    def rule_count(self) -> int:
        return self.inner.rule_count() + len(self._ticker_of)

    def rules_of(self, ticker: str) -> list[Rule]:
        return self.inner.rules_of(ticker) + list(self._rules.get(ticker, {}).values())

    def state(self, ticker: str) -> TickerState | None:
        return self.inner.state(ticker)

    def needs_peak(self, ticker: str) -> bool:
        return self.inner.needs_peak(ticker)

    def seed_peak(self, ticker: str, peak: float) -> None:
        self.inner.seed_peak(ticker, peak)

    def prepare(self, rule: Rule, quote: Quote) -> float | None:
        """As the engines' `prepare`; an indicator rule with no figures yet waits for its first
        check with them (`armed = None`)."""
        if not is_indicator_rule(rule):
            return self.inner.prepare(rule, quote)
        value = self.value(rule, quote)
        if value is None:
            rule.armed = None
            return None
        met = holds(rule, quote.price, value)
        rule.armed = not met
        return value if met else None

    def start_session(self, quote: Quote) -> None:
        self.inner.start_session(quote)

    def rebase(self, quote: Quote) -> CheckResult:
        return self.inner.rebase(quote)

    # -- the check -----------------------------------------------------------------------

    def evaluate(self, quote: Quote, *, now: datetime) -> CheckResult:
        result = self.inner.evaluate(quote, now=now)
        self._judge(quote, result, now)
        return result

    def evaluate_many(self, quotes: Sequence[Quote], *, now: datetime) -> list[CheckResult]:
        results = self.inner.evaluate_many(quotes, now=now)
        if self._rules:
            for quote, result in zip(quotes, results, strict=True):
                self._judge(quote, result, now)
        return results

    def _judge(self, quote: Quote, result: CheckResult, now: datetime) -> None:
        """Fire, re-arm or baseline the ticker's indicator rules at this quote (in id order)."""
        book = self._rules.get(quote.ticker)
        if not book:
            return
        price = quote.price
        for rule_id in sorted(book):
            rule = book[rule_id]
            value = self.value(rule, quote)
            if value is None:
                continue  # no figures yet: no data, no alert
            if rule.armed is None:
                rule.armed = not holds(rule, price, value)
                result.set_armed(rule.id, rule.armed)
            elif rule.armed:
                if holds(rule, price, value):
                    rule.armed = False
                    result.set_armed(rule.id, False)
                    if rule.snoozed_until is None or now >= rule.snoozed_until:
                        result.add_firing(Firing(rule, indicator_alert(rule, quote, value)))
            elif back_past_band(rule, price, value, self.band):
                rule.armed = True
                result.set_armed(rule.id, True)


def indicator_alert(rule: Rule, quote: Quote, value: float) -> Alert:
    if rule.kind in (RuleKind.MA, RuleKind.RSI):
        direction = "up" if rule.direction is Direction.UP else "down"
    else:
        direction = "up" if value > 0 else "down"
    return Alert(
        kind=AlertKind.INDICATOR,
        ticker=rule.ticker,
        at=quote.at,
        price=quote.price,
        change_pct=quote.change_pct,
        prev_close=quote.prev_close,
        level=value if rule.kind is RuleKind.MA else (rule.threshold if rule.kind is RuleKind.RSI else None),
        threshold_pct=rule.threshold if rule.kind is RuleKind.CHANGE else None,
        direction=direction,
        rule_id=rule.id,
        mention=rule.owner if rule.source is RuleSource.MEMBER else None,
        extra={"condition": condition_name(rule), "kind": rule.kind.value, "value": round(value, 4)},
    )


__all__ = [
    "HISTORY_DAYS", "LOOKBACK_SESSIONS", "MAX_PERIOD", "MIN_PERIOD", "RSI_PERIOD", "Basis", "IndicatorIndex",
    "condition_name", "ema", "holds", "is_indicator_rule", "rsi_value", "sma", "wilder",
]
