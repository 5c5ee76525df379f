"""Yahoo's streamed quotes, through yfinance's own `AsyncWebSocket`.

The wire format, as yfinance speaks it: the client sends JSON text frames
`{"subscribe": ["NVDA", "MSFT"]}` (the whole set it follows, again every 15 s as a heartbeat)
and `{"unsubscribe": ["MSFT"]}`; the streamer answers with JSON envelopes
`{"type": "pricing", "message": "<base64>"}` whose message is a protobuf `PricingData`
(yfinance's `pricing_pb2`): `id` (the symbol), `price`, `time` (ms since the epoch),
`market_hours`, and optional day high, day low and previous close.

yfinance connects, subscribes, unsubscribes and keeps the heartbeat; this module reads the
frames itself instead of calling `AsyncWebSocket.listen()`. In yfinance 1.7.0, `listen()` never
gives up a dropped connection: it keeps the dead socket (`_connect()` only connects when there
is none), so after a clean close it iterates the closed socket in a loop that never yields to
the event loop, and after an abrupt one it retries every 3 s forever. Here a drop ends the
connection, and `YahooStream.run` makes a fresh `AsyncWebSocket` after a backoff and
subscribes it to the tickers followed at that moment.

A frame that is not JSON, has no message, is not base64 or not a `PricingData`, names a
symbol not followed, or carries a price that is NaN, infinite or not positive is skipped with
a log line (the first few of each kind, then one in a thousand): no data is never a price.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from bot.core.clock import Clock
from bot.core.ticks import Hours, StreamLink, Tick

log = logging.getLogger(__name__)

YAHOO_STREAM_URL = "wss://streamer.finance.yahoo.com/?version=2"
HOURS = {0: Hours.PRE, 1: Hours.REGULAR, 2: Hours.POST, 3: Hours.EXTENDED}  # PricingData.market_hours
LOUD_SKIPS = 5  # skipped frames of one kind logged one by one; after that, one in a thousand


class YahooStream:
    """A `TickSource` over Yahoo's streamer. `sleep` waits out a backoff (tests pass an instant one)."""

    def __init__(
        self,
        *,
        url: str = YAHOO_STREAM_URL,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.url = url
        self.clock = clock
        self._sleep = sleep
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._wanted: frozenset[str] = frozenset()
        self._changed = asyncio.Event()
        self._restart = asyncio.Event()
        self.connects = 0
        self.frames = 0
        self.skipped: Counter[str] = Counter()  # why frames were skipped -> how many

    # -- TickSource ----------------------------------------------------------------------

    def follow(self, tickers: Collection[str]) -> None:
        wanted = frozenset(tickers)
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    def reconnect(self, reason: str) -> None:
        """Drop the connection and make a fresh one (a silent stream)."""
        log.warning("price stream: reconnecting (%s)", reason)
        self._restart.set()

    async def run(self, on_tick: Callable[[Tick], None], on_link: Callable[[StreamLink, str], None]) -> None:
        failures = 0
        while True:
            frames_before = self.frames
            try:
                reason = await self._connection(on_tick, on_link)
            except asyncio.CancelledError:
                raise
            except Exception as problem:  # a refused connection, a reset, a handshake error
                reason = f"{type(problem).__name__}: {problem}".rstrip(": ")
            failures = 0 if self.frames > frames_before else failures + 1
            delay = min(self.max_backoff, self.first_backoff * 2 ** min(failures, 16))
            on_link(StreamLink.DOWN, reason)
            log.warning("price stream down (%s); reconnecting in %.0f s", reason, delay)
            await self._sleep(delay)

    # -- one connection ------------------------------------------------------------------

    async def _connection(self, on_tick: Callable[[Tick], None], on_link: Callable[[StreamLink, str], None]) -> str:
        """Connect, subscribe, read until the connection ends; return why it ended."""
        from yfinance import AsyncWebSocket

        self._restart.clear()
        socket = AsyncWebSocket(url=self.url, verbose=False)
        try:
            return await self._stream(socket, on_tick, on_link)
        finally:
            _reap_heartbeat(socket)

    async def _stream(self, socket: Any, on_tick: Callable[[Tick], None], on_link: Callable[[StreamLink, str], None]) -> str:
        async with socket:
            subscribed: set[str] = set()
            await self._sync(socket, subscribed)
            self.connects += 1
            on_link(StreamLink.CONNECTED, f"{len(subscribed)} tickers")
            reading = asyncio.ensure_future(self._read(socket._ws, on_tick))  # see the module's docstring
            try:
                while True:
                    changed = asyncio.ensure_future(self._changed.wait())
                    restart = asyncio.ensure_future(self._restart.wait())
                    await asyncio.wait({reading, changed, restart}, return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
                    restart.cancel()
                    if reading.done():
                        return reading.result()
                    if self._restart.is_set():
                        return "asked to reconnect"
                    await self._sync(socket, subscribed)
            finally:
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)

    async def _sync(self, socket: Any, subscribed: set[str]) -> None:
        """Subscribe the tickers newly followed and unsubscribe the ones dropped."""
        self._changed.clear()
        wanted = set(self._wanted)
        gone = sorted(subscribed - wanted)
        if gone:
            await socket.unsubscribe(gone)
        new = sorted(wanted - subscribed)
        if new:
            await socket.subscribe(new)  # yfinance sends the whole set it follows
        subscribed.clear()
        subscribed.update(wanted)
        if new or gone:
            log.info("price stream: following %d tickers (+%d, -%d)", len(wanted), len(new), len(gone))

    async def _read(self, connection: Any, on_tick: Callable[[Tick], None]) -> str:
        async for raw in connection:
            tick = self.decode(raw)
            if tick is not None:
                self.frames += 1
                on_tick(tick)
        return "the streamer closed the connection"

    # -- frames --------------------------------------------------------------------------

    def decode(self, raw: str | bytes) -> Tick | None:
        """One streamer frame as a tick, or None (skipped, with a log line)."""
        from google.protobuf.message import DecodeError
        from yfinance.pricing_pb2 import PricingData

        try:
            envelope = json.loads(raw)
            message = envelope["message"]
            if not isinstance(message, str):
                raise TypeError("the message is not text")
            data = PricingData()
            data.ParseFromString(base64.b64decode(message, validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error, DecodeError) as problem:
            self._skip("malformed", f"a malformed frame ({type(problem).__name__}: {str(problem)[:80]})")
            return None
        symbol = data.id
        if symbol not in self._wanted:
            self._skip(f"unknown:{symbol}", f"a price for {symbol[:24]!r}, which no rule follows")
            return None
        price = float(f"{data.price:.7g}")  # a protobuf float: keep the digits it holds, not the binary noise
        if not math.isfinite(price) or price <= 0:
            self._skip("bad price", f"a price of {data.price} for {symbol}")
            return None
        at = datetime.fromtimestamp(data.time / 1000, UTC) if data.time > 0 else self.clock.now()
        return Tick(ticker=symbol, price=price, at=at, hours=HOURS.get(data.market_hours, Hours.REGULAR),
                    day_high=_figure(data.day_high), day_low=_figure(data.day_low), prev_close=_figure(data.previous_close))

    def _skip(self, kind: str, words: str) -> None:
        self.skipped[kind] += 1
        count = self.skipped[kind]
        if count <= LOUD_SKIPS or count % 1000 == 0:
            log.warning("price stream: skipped %s (%d so far)", words, count)


def _reap_heartbeat(socket: Any) -> None:
    """yfinance's heartbeat task ends with the connection's error when it drops (with its
    `hide_exceptions = False`, which the provider sets): read it, so asyncio does not log it
    as never retrieved. The drop itself is already logged once, by `run`."""
    task = getattr(socket, "_heartbeat_task", None)
    if isinstance(task, asyncio.Task) and task.done() and not task.cancelled():
        task.exception()


def _figure(value: float) -> float | None:
    """An optional protobuf figure: absent (0) and garbage are None."""
    number = float(f"{value:.7g}")
    return number if math.isfinite(number) and number > 0 else None
