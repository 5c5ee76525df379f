"""The operator's window: `GET /metrics` (Prometheus) and `GET /healthz`, served on the bot's own loop.

Everything shown comes from the core's `Vitals` (what the running bot observed) and one storage
snapshot per scrape. `[metrics] enabled = true` turns it on; it listens on `[metrics] host`
(127.0.0.1 by default: put a reverse proxy or the container's port mapping in front to expose it).

`/healthz` answers 200 once the bot is serving, and 503, with the reason as text, before that,
or when during a session the last good price check is older than three poll intervals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.calendar import Calendar
from bot.core.clock import Clock
from bot.core.ports import StatsStore, StoreStats
from bot.core.rules import RuleBook
from bot.core.vitals import Vitals

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Sources:
    vitals: Vitals
    stats: StatsStore
    rules: RuleBook
    calendar: Calendar
    clock: Clock


class VitalsCollector(Collector):
    """The bot's metrics, read from the vitals and the last storage snapshot at each scrape."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.snapshot: StoreStats | None = None

    def collect(self) -> Iterator[Metric]:
        vitals = self.sources.vitals
        yield _counter("tickerbell_checks", "Price checks run", vitals.checks_total)
        histogram = HistogramMetricFamily("tickerbell_check_duration_seconds", "How long one price check took")
        histogram.add_metric([], buckets=vitals.check_seconds.cumulative(), sum_value=vitals.check_seconds.total)
        yield histogram
        yield _counter("tickerbell_provider_errors", "Price checks the market-data provider failed", vitals.provider_errors_total)
        fired = CounterMetricFamily("tickerbell_alerts_fired", "Alerts the price checks found, by kind", labels=["kind"])
        for kind, count in sorted(vitals.alerts_fired.items()):
            fired.add_metric([kind], count)
        yield fired
        deliveries = CounterMetricFamily("tickerbell_deliveries", "Delivery attempts, by platform and outcome", labels=["platform", "outcome"])
        for (platform, outcome), count in sorted(vitals.deliveries.items()):
            deliveries.add_metric([platform, outcome], count)
        yield deliveries
        yield GaugeMetricFamily("tickerbell_rules", "Rules loaded in the engine", value=self.sources.rules.rule_count())
        if self.snapshot is not None:
            yield GaugeMetricFamily("tickerbell_outbox_pending", "Deliveries waiting to be sent", value=self.snapshot.pending)
            yield GaugeMetricFamily("tickerbell_outbox_given_up_24h", "Deliveries given up in the last 24 hours", value=self.snapshot.given_up)
            yield GaugeMetricFamily("tickerbell_watches", "Tickers followed by chats (chat, ticker pairs)", value=self.snapshot.watches)
            yield GaugeMetricFamily("tickerbell_chats", "Chats that follow something or hold an alert", value=self.snapshot.chats)
        if vitals.last_good_check_at is not None:
            yield GaugeMetricFamily("tickerbell_last_good_check_timestamp_seconds", "When the last price check with quotes ran",
                                    value=vitals.last_good_check_at.timestamp())
        if vitals.price_feed:  # streamed quotes configured
            yield _counter("tickerbell_ticks", "Streamed prices received", vitals.ticks_total)
            yield GaugeMetricFamily("tickerbell_quotes_streaming", "1 while streamed quotes are live; 0 while the polls alone check prices",
                                    value=1.0 if vitals.price_feed == "streaming" else 0.0)
        up = GaugeMetricFamily("tickerbell_adapter_up", "Whether each platform adapter is connected", labels=["platform"])
        for platform, connected in sorted(vitals.adapters.items()):
            up.add_metric([platform], 1.0 if connected else 0.0)
        yield up


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def health(sources: Sources) -> tuple[int, str]:
    """(HTTP status, reason) for /healthz."""
    vitals, now = sources.vitals, sources.clock.now()
    if not vitals.ready:
        return 503, "starting"
    in_session = sources.calendar.current_session(now) is not None
    if vitals.stale(now, in_session=in_session):
        since = vitals.last_good_check_at
        age = f"{int((now - since).total_seconds())} s ago" if since else "never"
        return 503, f"no good price check in a session for over {3 * vitals.poll_seconds} s (last: {age})"
    return 200, "ok"


class Monitor:
    """The HTTP endpoint; `await start()`, `await stop()`."""

    def __init__(self, sources: Sources, *, host: str, port: int) -> None:
        self.sources = sources
        self.host, self.port = host, port
        self.collector = VitalsCollector(sources)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self.collector)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # an ephemeral port (tests): say which one
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("monitoring on http://%s:%d/metrics and /healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        now = self.sources.clock.now()
        try:
            self.collector.snapshot = await self.sources.stats.snapshot(since=now - timedelta(hours=24))
        except Exception:
            log.warning("metrics: the storage snapshot failed; serving the last one", exc_info=True)
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        status, reason = health(self.sources)
        return web.Response(status=status, text=reason + "\n")
