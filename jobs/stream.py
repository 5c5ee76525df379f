"""Streamed quotes into the price check, with polling as the fallback.

    ticks (TickSource) -> latest per ticker -> every `tick_seconds`: session filter, jump hold
                       -> Quote (previous close and day range from the polls) -> PriceCheck.check_quotes

Each batch goes through the very steps a poll does (split and jump guard, the engine, routing,
the outbox, in one transaction), so a tick can fire exactly what a poll could, once.

- Coalescing: a ticker's ticks between two batches become its latest one, and batches are at
  least `tick_seconds` apart, so a busy feed cannot flood the engine or the database. The
  first tick after a quiet spell is checked at once.
- Outside the regular session, ticks fire nothing unless `extended_hours` is on; a level
  crossed meanwhile fires at the open (the engine sees the crossing from its last price).
- A tick more than 15 % from the last good price waits for confirmation: a second tick near
  it, or the next poll (which takes its own price as the last good one). A split is applied by
  the guard when the confirmed tick is checked.
- Polls never stop: they bring the previous close and the day's range (`StreamedMarket`
  gives a poll the stream's newer price, so a poll never takes the engine back in time), and
  they alone check prices while the stream is down or silent for two poll intervals during a
  session. The mode is in `Vitals.price_feed` (shown by /status and logged on each change).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.core.calendar import Calendar, Session
from bot.core.clock import Clock
from bot.core.market import Bar, EarningsEvent, Fundamentals, MarketData, Quote, Split
from bot.core.ticks import StreamLink, Tick, TickSource
from bot.core.vitals import Vitals
from jobs.price_check import CheckSummary, PriceCheck
from jobs.splits import JUMP_LOG_LIMIT

log = logging.getLogger(__name__)

STREAMING, POLLING = "streaming", "polling"
SILENT_POLLS = 2  # a stream silent this many poll intervals in a session hands over to the polls
FOLLOW_SECONDS = 5.0  # how often the subscriptions are compared with the rules when no tick comes


class StreamedMarket:
    """The provider, with each poll's quotes kept (previous close, day range) and brought up to
    the stream's newer price. Every other call passes through."""

    def __init__(self, inner: MarketData) -> None:
        self.inner = inner
        self.polled: dict[str, Quote] = {}  # each ticker's last polled quote, as the provider gave it
        self.streamed: dict[str, Quote] = {}  # each ticker's last streamed quote that was checked
        self.on_poll: Callable[[], None] | None = None

    async def quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        quotes = await self.inner.quotes(tickers)
        self.polled.update(quotes)
        if self.on_poll is not None:
            self.on_poll()
        return {ticker: self.newest(quote) for ticker, quote in quotes.items()}

    def newest(self, quote: Quote) -> Quote:
        """A polled quote with the price of a later tick of the same session (not over an official close)."""
        tick = self.streamed.get(quote.ticker)
        if tick is None or quote.final or tick.session != quote.session or tick.at <= quote.at:
            return quote
        high = tick.day_high if quote.day_high is None else _most(quote.day_high, tick.day_high)
        low = tick.day_low if quote.day_low is None else _least(quote.day_low, tick.day_low)
        return replace(quote, price=tick.price, at=tick.at, day_high=high, day_low=low)

    async def history(self, ticker: str, start: date, end: date) -> list[Bar]:
        return await self.inner.history(ticker, start, end)

    async def splits(self, ticker: str) -> list[Split]:
        return await self.inner.splits(ticker)

    async def earnings(self, ticker: str) -> list[EarningsEvent]:
        return await self.inner.earnings(ticker)

    async def fundamentals(self, ticker: str) -> Fundamentals | None:
        return await self.inner.fundamentals(ticker)

    async def aclose(self) -> None:
        await self.inner.aclose()


class StreamFeed:
    def __init__(
        self,
        *,
        source: TickSource,
        check: PriceCheck,
        market: StreamedMarket,
        calendar: Calendar,
        clock: Clock,
        vitals: Vitals,
        poll_seconds: int,
        tick_seconds: float = 1.0,
        extended_hours: bool = False,
        pace: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self.check = check
        self.market = market
        self.calendar = calendar
        self.clock = clock
        self.vitals = vitals
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self.extended_hours = extended_hours
        self._pace = pace  # waits between batches (tests pass one that returns at once)
        self.pending: dict[str, Tick] = {}  # each ticker's latest tick since the last batch
        self.suspects: dict[str, Tick] = {}  # jumps waiting for a second tick or a poll
        self._range: dict[str, tuple[date, float, float]] = {}  # ticker -> (session, high, low) of its ticks
        self._wake = asyncio.Event()
        self._following: frozenset[str] = frozenset()
        self._heard_at: datetime | None = None  # the last tick, or the connection
        self._silenced = False  # polling because the stream went quiet: only a tick brings it back
        self.link = StreamLink.DOWN
        self.batches = 0
        self.on_change: Callable[[], None] | None = None  # after each batch, connect and drop (tests wait on it)
        self.leading: Callable[[], bool] = lambda: True  # several processes: only the market-timer lease holder checks ticks
        vitals.price_feed, vitals.price_feed_note = POLLING, "the stream is not connected yet"
        market.on_poll = self.suspects.clear  # a poll's price is the last good one now

    @property
    def mode(self) -> str:
        return self.vitals.price_feed

    # -- what the source tells -------------------------------------------------------------

    def on_tick(self, tick: Tick) -> None:
        self.pending[tick.ticker] = tick
        now = self.clock.now()
        self._heard_at = self.vitals.last_tick_at = now
        self.vitals.ticks_total += 1
        if self.mode != STREAMING:
            self._silenced = False
            self._set_mode(STREAMING, "ticks are arriving again")
        self._wake.set()

    def on_link(self, link: StreamLink, reason: str) -> None:
        self.link = link
        if link is StreamLink.CONNECTED:
            self._heard_at = self.clock.now()
            if not self._silenced:
                self._set_mode(STREAMING, f"connected, {reason}")
        elif not self._silenced:  # a silent stream's reconnect keeps saying why it polls
            self._set_mode(POLLING, f"the stream is down ({reason})")
        if self.on_change is not None:
            self.on_change()

    def _set_mode(self, mode: str, note: str) -> None:
        changed = mode != self.vitals.price_feed
        self.vitals.price_feed, self.vitals.price_feed_note = mode, note
        if changed and mode == POLLING:
            log.warning("quotes: polling every %d s: %s", self.poll_seconds, note)
        elif changed:
            log.info("quotes: streaming (%s)", note)

    # -- the job ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until cancelled: the source in its own task, batches here."""
        self.follow()
        streaming = asyncio.ensure_future(self.source.run(self.on_tick, self.on_link))
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=FOLLOW_SECONDS)
                except TimeoutError:
                    pass
                self._wake.clear()
                if streaming.done():  # the source gave up (a bug): start it again, polls cover meanwhile
                    log.error("quotes: the price stream stopped (%r); starting it again", None if streaming.cancelled() else streaming.exception())
                    streaming = asyncio.ensure_future(self.source.run(self.on_tick, self.on_link))
                try:
                    self.watch()
                    await self.flush()
                except Exception:
                    log.exception("quotes: a streamed batch failed; the next tick or poll checks again")
                await self._pace(self.tick_seconds)
        finally:
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)

    async def poll(self) -> object:
        """The market timer's check while a stream is configured: watch the stream, then poll."""
        self.watch()
        return await self.check.run_once()

    def follow(self) -> None:
        """Stream every ticker with a rule (watches and levels are rules) or a listener (baskets)."""
        wanted = frozenset(self.check.rules.tickers()) | {t for listener in self.check.listeners for t in listener.tickers()}
        if wanted != self._following:
            self._following = wanted
            self.source.follow(wanted)

    def watch(self) -> None:
        """Follow the rules' tickers; hand over to the polls when the stream is silent in a session."""
        self.follow()
        now = self.clock.now()
        if self.mode != STREAMING or self._heard_at is None or self.calendar.current_session(now) is None:
            return
        quiet = now - self._heard_at
        if quiet > timedelta(seconds=SILENT_POLLS * self.poll_seconds):
            self._silenced = True
            self._set_mode(POLLING, f"the stream has been silent for {quiet.total_seconds():.0f} s in a session")
            self.source.reconnect("silent during a session")

    async def flush(self) -> CheckSummary | None:
        """Check each ticker's latest tick since the last batch, in one price check."""
        batch, self.pending = self.pending, {}
        if not batch or not self.leading():
            return None
        try:
            return await self._check_batch(batch)
        finally:
            if self.on_change is not None:
                self.on_change()

    async def _check_batch(self, batch: dict[str, Tick]) -> CheckSummary | None:
        now = self.clock.now()
        session = self.calendar.current_session(now)
        quotes = {tick.ticker: quote for tick in batch.values() if (quote := self._quote(tick, session, now)) is not None}
        if not quotes:
            return None
        try:
            summary = await self.check.check_quotes(quotes, now=now)
        except Exception:
            log.exception("quotes: a batch of %d streamed prices could not be checked; the next tick or poll checks again", len(quotes))
            return None
        self.batches += 1
        self.market.streamed.update(quotes)
        return summary

    # -- from a tick to a quote --------------------------------------------------------------

    def _quote(self, tick: Tick, session: Session | None, now: datetime) -> Quote | None:
        """The tick as a quote of its session, or None: outside the session (without extended
        hours), stale, or a jump waiting for confirmation."""
        if session is not None and session.open <= tick.at < session.close:
            day = session.day
        elif not self.extended_hours:
            return None
        else:
            day = self._extended_session(tick.at)
        if now - tick.at > timedelta(seconds=SILENT_POLLS * self.poll_seconds):
            return None  # an old price replayed after a reconnect
        if not self._confirmed(tick):
            return None
        prev_close = self._prev_close(tick, day)
        high, low = self._day_range(tick, day)
        return Quote(ticker=tick.ticker, price=tick.price, prev_close=prev_close, session=day, at=tick.at, day_high=high, day_low=low)

    def _extended_session(self, at: datetime) -> date:
        """Before the open: the coming session; after the close (and overnight): the last one."""
        today = self.calendar.session(self.calendar.local_date(at))
        if today is not None and at < today.open:
            return today.day
        return self.calendar.last_closed_or_open_session(at)

    def _prev_close(self, tick: Tick, day: date) -> float | None:
        polled = self.market.polled.get(tick.ticker)
        if polled is not None and polled.session == day:
            return polled.prev_close or tick.prev_close
        if polled is not None and polled.session < day:
            return tick.prev_close or polled.price  # the last close the polls saw
        return tick.prev_close

    def _day_range(self, tick: Tick, day: date) -> tuple[float, float]:
        polled = self.market.polled.get(tick.ticker)
        high = low = tick.price
        known = self._range.get(tick.ticker)
        if known is not None and known[0] == day:
            high, low = max(high, known[1]), min(low, known[2])
        if polled is not None and polled.session == day:
            high, low = _most(high, polled.day_high), _least(low, polled.day_low)
        high, low = _most(high, tick.day_high), _least(low, tick.day_low)
        self._range[tick.ticker] = (day, high, low)
        return high, low

    def _confirmed(self, tick: Tick) -> bool:
        """Whether a tick may be checked: near the last good price, or confirming a held jump."""
        state = self.check.rules.state(tick.ticker)
        last = state.last_price if state else None
        if not last or abs(math.log(tick.price / last)) <= JUMP_LOG_LIMIT:
            self.suspects.pop(tick.ticker, None)
            return True
        held = self.suspects.get(tick.ticker)
        if held is not None and abs(math.log(tick.price / held.price)) <= JUMP_LOG_LIMIT:
            del self.suspects[tick.ticker]
            log.info("quotes: %s at %.4g confirms its jump from %.4g", tick.ticker, tick.price, last)
            return True
        self.suspects[tick.ticker] = tick
        log.warning("quotes: %s streamed %.4g, more than 15 %% from its last good price %.4g; held until a second tick or the next poll",
                    tick.ticker, tick.price, last)
        return False


def _most(value: float, other: float | None) -> float:
    return value if other is None else max(value, other)


def _least(value: float, other: float | None) -> float:
    return value if other is None else min(value, other)
