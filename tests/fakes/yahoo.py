"""A local fake of the Yahoo Finance endpoints yfinance talks to, for contract tests.

The real yfinance library is pointed at it through `FakeYahoo.session()`: a
`requests.Session` whose adapter sends each `https://host/path?query` to
`http://127.0.0.1:PORT/host/path?query` and hands the response back as if it came
from the original URL (so Yahoo's cookie lands on `.yahoo.com`, as in real life).

Served from the recorded responses in tests/fixtures/yahoo/:

    fc.yahoo.com/                           cookie (404 with an A3 cookie, like Yahoo)
    */v1/test/getcrumb                      the crumb, as text
    */v7/finance/quote?symbols=A,B          quote.json, filtered; `SYN0001`-style symbols
                                            are synthesised (for request-count benchmarks)
    */v8/finance/chart/{SYM}                chart_{SYM}.json, bars filtered to period1..period2
    */v10/finance/quoteSummary/{SYM}        quoteSummary_{SYM}.json, filtered to `modules`
    */ws/fundamentals-timeseries/...        an empty timeseries
    finance.yahoo.com/calendar/earnings     earnings_{SYM}.html
    guce.yahoo.com/consent                  a consent page without a form

The v7 quote and quoteSummary endpoints answer 401 "Invalid Crumb" without a crumb,
as Yahoo does. Misbehaviour is switched on per endpoint kind ("quote", "chart",
"quoteSummary", "timeseries", "earnings", "crumb", "cookie"): `hang` (never answers
until close), `garbage` (truncated JSON), `wrong_shape` (valid JSON, wrong shape),
`fail_next[kind] = (count, status)` and `rate_limited` (429 on every data endpoint).
`dns_down` makes the session send every request to a host name that cannot be looked up
(`*.invalid`, RFC 6761), so the library meets a real DNS failure. Every request is recorded
in `requests`.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from aiohttp import web
from requests.adapters import HTTPAdapter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "yahoo"

CRUMB = "Fk3.yT9rQx2"
_COOKIE = (
    "A3=d=AQABBFAKEAAAAAEAAAAAAAAAAAAAAAAAAAAAAA&S=AQAAAFAKE; "
    "Expires=Thu, 01 Jan 2032 00:00:00 GMT; Domain=.yahoo.com; Path=/; "
    "SameSite=None; Secure; HttpOnly"
)
UNRESOLVABLE = "http://yahoo.tickerbell.invalid"  # no resolver knows an .invalid name
DATA_KINDS = frozenset({"quote", "chart", "quoteSummary", "timeseries", "earnings"})
_SYNTHETIC = re.compile(r"^SYN\d+$")
# the moment synthetic quotes are stamped with: the close of 2025-01-27
SYNTHETIC_TIME = datetime(2025, 1, 27, 21, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seen:
    kind: str
    host: str
    path: str
    query: dict[str, str]


class FakeYahoo:
    def __init__(self, fixtures: Path = FIXTURES) -> None:
        self.fixtures = fixtures
        self.quotes: dict[str, dict] = {
            row["symbol"]: row
            for row in json.loads((fixtures / "quote.json").read_text())["quoteResponse"]["result"]
        }
        self.requests: list[Seen] = []
        self.hang: set[str] = set()
        self.garbage: set[str] = set()
        self.wrong_shape: set[str] = set()
        self.fail_next: dict[str, tuple[int, int]] = {}
        self.rate_limited = False
        self.dns_down = False
        self.hung = asyncio.Event()  # set when a request is being held
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> FakeYahoo:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeYahoo:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session(self) -> requests.Session:
        """A requests.Session that reaches this server instead of Yahoo."""
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment
        adapter = _RewriteToFake(lambda: UNRESOLVABLE if self.dns_down else self.base_url)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def count(self, kind: str | None = None) -> int:
        return sum(1 for seen in self.requests if kind is None or seen.kind == kind)

    # -- routing -----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host, _, path = request.path.lstrip("/").partition("/")
        path = "/" + path
        kind = _kind(host, path)
        query = dict(request.query)
        self.requests.append(Seen(kind, host, path, query))

        if kind in self.hang:
            self.hung.set()
            await self._release.wait()
            # drop the connection: a status would make yfinance ask again (at whatever
            # server its process-wide session points to by then)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=504, text="Gateway Timeout")
        if self.rate_limited and kind in DATA_KINDS:
            return web.Response(status=429, text="Edge: Too Many Requests")
        if kind in self.fail_next:
            left, status = self.fail_next[kind]
            if left <= 1:
                del self.fail_next[kind]
            else:
                self.fail_next[kind] = (left - 1, status)
            return _json({"finance": {"result": None, "error": {"code": "Error", "description": f"HTTP {status}"}}}, status)
        if kind in self.garbage:
            return web.Response(status=200, text='{"quoteResponse":{"result":[{"symbol":"NVD', content_type="application/json")
        if kind in self.wrong_shape:
            return _json({"quoteResponse": {"result": {"symbol": "NVDA"}, "error": None},
                          "chart": {"result": [{"meta": "nope"}], "error": None}})

        handler = getattr(self, f"_serve_{kind}", None)
        if handler is None:
            return web.Response(status=404, text="<html><body>Not Found</body></html>", content_type="text/html")
        return handler(path, query)

    def _serve_cookie(self, path: str, query: dict[str, str]) -> web.Response:
        return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html",
                            headers={"Set-Cookie": _COOKIE})

    def _serve_consent(self, path: str, query: dict[str, str]) -> web.Response:
        return web.Response(text="<html><body><p>Yahoo is part of the Yahoo family of brands.</p></body></html>",
                            content_type="text/html")

    def _serve_crumb(self, path: str, query: dict[str, str]) -> web.Response:
        return web.Response(text=CRUMB, content_type="text/plain")

    def _serve_quote(self, path: str, query: dict[str, str]) -> web.Response:
        if query.get("crumb") != CRUMB:
            return _invalid_crumb()
        result = []
        for symbol in filter(None, query.get("symbols", "").split(",")):
            symbol = symbol.upper()
            if symbol in self.quotes:
                result.append(self.quotes[symbol])
            elif _SYNTHETIC.match(symbol):
                result.append(synthetic_quote(symbol))
        return _json({"quoteResponse": {"result": result, "error": None}})

    def _serve_chart(self, path: str, query: dict[str, str]) -> web.Response:
        symbol = path.rsplit("/", 1)[-1].upper()
        file = self.fixtures / f"chart_{symbol}.json"
        if not file.exists():
            return _json(json.loads((self.fixtures / "chart_404.json").read_text()), 404)
        body = json.loads(file.read_text())
        result = body["chart"]["result"][0]
        if query.get("interval", "1d").endswith("m"):  # intraday (/chart 1d|5d): half-hour bars made from the last day
            return _json(_intraday(body))
        if "period1" in query and "period2" in query:
            _keep_bars(result, int(query["period1"]), int(query["period2"]))
        elif "range" in query:  # yfinance asks range=1d for the exchange timezone
            last = result["timestamp"][-1]
            _keep_bars(result, last, last + 1)
        return _json(body)

    def _serve_quoteSummary(self, path: str, query: dict[str, str]) -> web.Response:
        if query.get("crumb") != CRUMB:
            return _invalid_crumb()
        symbol = path.rsplit("/", 1)[-1].upper()
        file = self.fixtures / f"quoteSummary_{symbol}.json"
        if not file.exists():
            text = (self.fixtures / "quoteSummary_404.json").read_text().replace("{symbol}", symbol)
            return _json(json.loads(text), 404)
        body = json.loads(file.read_text())
        wanted = set(query.get("modules", "").split(","))
        modules = body["quoteSummary"]["result"][0]
        body["quoteSummary"]["result"][0] = {k: v for k, v in modules.items() if k in wanted}
        return _json(body)

    def _serve_timeseries(self, path: str, query: dict[str, str]) -> web.Response:
        return _json({"timeseries": {"result": [], "error": None}})

    def _serve_earnings(self, path: str, query: dict[str, str]) -> web.Response:
        file = self.fixtures / f"earnings_{query.get('symbol', '').upper()}.html"
        if not file.exists():
            return web.Response(text="<html><body><p>We couldn't find any results.</p></body></html>",
                                content_type="text/html")
        return web.Response(text=file.read_text(), content_type="text/html")


def synthetic_quote(symbol: str) -> dict:
    """A plausible quote for a synthetic symbol such as SYN0042."""
    n = int(symbol[3:])
    price = round(20.0 + (n % 400) * 0.5, 2)
    return {
        "language": "en-US", "region": "US", "quoteType": "EQUITY", "currency": "USD",
        "exchange": "NYQ", "shortName": f"Synthetic {n}", "marketState": "POST",
        "exchangeTimezoneName": "America/New_York", "symbol": symbol,
        "regularMarketPrice": price, "regularMarketPreviousClose": round(price * 1.01, 2),
        "regularMarketTime": int(SYNTHETIC_TIME.timestamp()),
        "regularMarketDayHigh": round(price * 1.02, 2), "regularMarketDayLow": round(price * 0.98, 2),
        "regularMarketOpen": price,
    }


async def count_cycle_requests(n_tickers: int, *, batch_size: int | None = None) -> int:
    """HTTP requests the yfinance provider makes for one quotes() cycle over n tickers.

    Counts a steady-state cycle: Yahoo's cookie and crumb are fetched once per process
    (two more requests on the very first call) and are warmed up before counting.
    """
    from bot.core.clock import ReplayClock
    from bot.market.calendar import MarketCalendar
    from bot.market.yfinance_provider import YFinanceMarket

    tickers = [f"SYN{i:04d}" for i in range(n_tickers)]
    with tempfile.TemporaryDirectory(prefix="tickerbell-yf-") as cache_dir:
        async with FakeYahoo() as fake:
            options = {} if batch_size is None else {"batch_size": batch_size}
            market = YFinanceMarket(
                clock=ReplayClock(SYNTHETIC_TIME.replace(minute=30)),
                calendar=MarketCalendar(),
                session=fake.session(),
                cache_dir=cache_dir,
                timeout=30.0,
                **options,
            )
            try:
                await market.quotes(["SYN9999"])  # warm-up: cookie and crumb
                before = fake.count()
                got = await market.quotes(tickers)
                if len(got) != n_tickers:
                    raise RuntimeError(f"expected {n_tickers} quotes, got {len(got)}")
                return fake.count() - before
            finally:
                await market.aclose()


# -- helpers ---------------------------------------------------------------------


class _RewriteToFake(HTTPAdapter):
    def __init__(self, base_url: Callable[[], str]) -> None:
        super().__init__()
        self._base_url = base_url

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        routed = request.copy()
        routed.url = f"{self._base_url()}/{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        kwargs["proxies"] = {}
        response = super().send(routed, **kwargs)
        # look as if Yahoo answered, so cookies are stored for .yahoo.com
        response.url = request.url
        response.request = request
        return response


def _kind(host: str, path: str) -> str:
    if host == "fc.yahoo.com":
        return "cookie"
    if host.endswith("consent.yahoo.com") or host == "guce.yahoo.com":
        return "consent"
    if path.startswith("/v1/test/getcrumb"):
        return "crumb"
    if path.startswith("/v7/finance/quote"):
        return "quote"
    if path.startswith("/v8/finance/chart/"):
        return "chart"
    if path.startswith("/v10/finance/quoteSummary/"):
        return "quoteSummary"
    if path.startswith("/ws/fundamentals-timeseries/"):
        return "timeseries"
    if host == "finance.yahoo.com" and path.startswith("/calendar/earnings"):
        return "earnings"
    return "other"


def _keep_bars(result: dict, start: int, end: int) -> None:
    keep = [i for i, t in enumerate(result["timestamp"]) if start <= t < end]
    result["timestamp"] = [result["timestamp"][i] for i in keep]
    for block in result["indicators"]["quote"]:
        for key, values in block.items():
            block[key] = [values[i] for i in keep]
    for block in result["indicators"].get("adjclose", []):
        block["adjclose"] = [block["adjclose"][i] for i in keep]
    for kind, events in result.get("events", {}).items():
        result["events"][kind] = {k: e for k, e in events.items() if start <= e["date"] < end}


def _intraday(body: dict) -> dict:
    """The last daily bar as 13 half-hour bars of its regular session, with the tradingPeriods
    Yahoo sends with intraday bars: opening at the day's open, closing at its close."""
    result = body["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    last = max(i for i, value in enumerate(quote["close"]) if value is not None)
    start = result["timestamp"][last]
    opened, close, high, low, volume = (quote[k][last] for k in ("open", "close", "high", "low", "volume"))
    stamps = [start + 1800 * i for i in range(13)]
    path = [opened + (close - opened) * i / 12 for i in range(13)]
    period = {"timezone": "EDT", "start": start, "end": start + 23400, "gmtoffset": -14400}
    result["meta"]["tradingPeriods"] = {"pre": [[{**period, "start": start - 19800, "end": start}]], "regular": [[period]],
                                        "post": [[{**period, "start": start + 23400, "end": start + 37800}]]}
    result["meta"]["dataGranularity"] = "30m"
    result["timestamp"] = stamps
    result["indicators"] = {"quote": [{
        "open": [path[max(0, i - 1)] for i in range(13)], "close": path,
        "high": [min(high, max(path[max(0, i - 1)], path[i]) * 1.002) for i in range(13)],
        "low": [max(low, min(path[max(0, i - 1)], path[i]) * 0.998) for i in range(13)],
        "volume": [int(volume / 13)] * 13,
    }]}
    result.pop("events", None)
    return body


def _json(body: object, status: int = 200) -> web.Response:
    text = json.dumps(body, allow_nan=True)  # Yahoo's NaN survives as the token NaN
    return web.Response(status=status, text=text, content_type="application/json")


def _invalid_crumb() -> web.Response:
    return _json({"finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}, 401)


__all__ = ["CRUMB", "FIXTURES", "FakeYahoo", "Seen", "count_cycle_requests", "synthetic_quote"]
