"""A fake Yahoo streamer on 127.0.0.1 (random port), for driving the real `yfinance.AsyncWebSocket`.

It speaks the wire format yfinance speaks: it reads the client's JSON text frames
(`{"subscribe": [...]}`, the whole set the client follows; `{"unsubscribe": [...]}`) and pushes
JSON envelopes `{"type": "pricing", "message": "<base64>"}` whose message is a protobuf
`PricingData` built with yfinance's own `pricing_pb2`.

    streamer = FakeStreamer()
    await streamer.start()                       # streamer.url -> YahooStream(url=...)
    await streamer.wait_subscribed({"NVDA"})
    await streamer.price("NVDA", 131.5, at=moment)
    await streamer.drop()                        # every connection closed (abruptly with clean=False)
    await streamer.stop()
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from yfinance.pricing_pb2 import PricingData

REGULAR_MARKET = 1


def pricing_frame(symbol: str, price: float, *, at: datetime | None = None, **fields: Any) -> str:
    """One envelope as Yahoo sends it: a base64 `PricingData` inside JSON."""
    data = PricingData(id=symbol, price=price, market_hours=fields.pop("market_hours", REGULAR_MARKET), **fields)
    if at is not None:
        data.time = int(at.timestamp() * 1000)
    return json.dumps({"type": "pricing", "message": base64.b64encode(data.SerializeToString()).decode("ascii")})


class FakeStreamer:
    def __init__(self) -> None:
        self._server: Server | None = None
        self.port = 0
        self.connections: list[ServerConnection] = []
        self.connects = 0
        self.received: list[dict[str, Any]] = []  # every client message, in order
        self._following: dict[ServerConnection, set[str]] = {}  # what each live connection follows
        self.sent = 0
        self._changed = asyncio.Condition()
        self.on_send: Callable[[str, float], None] | None = None  # (symbol, price) just before a frame leaves

    @property
    def subscribed(self) -> set[str]:
        """What the newest live connection follows (empty with none)."""
        return set(self._following[self.connections[-1]]) if self.connections else set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/?version=2"

    async def start(self) -> None:
        self._server = await serve(self._serve, "127.0.0.1", 0, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, connection: ServerConnection) -> None:
        following: set[str] = set()
        self._following[connection] = following
        self.connections.append(connection)
        self.connects += 1
        await self._notify()
        try:
            async for raw in connection:
                message = json.loads(raw)
                self.received.append(message)
                following |= set(message.get("subscribe", []))
                following -= set(message.get("unsubscribe", []))
                await self._notify()
        except ConnectionClosed:
            pass
        finally:
            if connection in self.connections:
                self.connections.remove(connection)
            self._following.pop(connection, None)
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `condition()` holds (re-checked at each connection and client message)."""

        async def waiting() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(waiting(), timeout)

    async def wait_subscribed(self, symbols: set[str], timeout: float = 5.0) -> None:
        """Until a live connection follows exactly `symbols`."""
        await self.wait_for(lambda: bool(self.connections) and self.subscribed == symbols, timeout)

    async def send_raw(self, text: str) -> None:
        for connection in list(self.connections):
            try:
                await connection.send(text)
            except ConnectionClosed:
                pass

    async def price(self, symbol: str, price: float, *, at: datetime | None = None, **fields: Any) -> None:
        if self.on_send is not None:
            self.on_send(symbol, price)
        self.sent += 1
        await self.send_raw(pricing_frame(symbol, price, at=at, **fields))

    async def drop(self, *, clean: bool = True) -> None:
        """Close every connection: a clean close (1000), or a reset with no close frame."""
        for connection in list(self.connections):
            if clean:
                await connection.close()
            else:
                connection.transport.abort()
