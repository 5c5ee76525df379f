"""Wiring: the one place that assembles concrete parts behind the core's ports, on one loop.

`App.create(...)` builds everything with injected parts (clock, market, storage path),
so the live bot, replay, the demo and the tests all run the very same pipeline:

    storage (SQLite)  -> RuleBook, ChatDirectory, Routing   (core owners of state)
    market provider   -> PriceCheck, SplitGuard, features    (jobs)
    features          -> commands, daily jobs, quote listeners, alert kinds
    adapters          -> Dispatcher (outbox -> platforms), CommandRouter (platforms -> core)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cluster import ClusterParts, Roles, discord_receives, join, one_at_a_time, share, telegram_receives
from bot.config import Config, ConfigError
from bot.core.calendar import Calendar
from bot.core.chat_commands import chat_commands
from bot.core.chats import ChatDirectory
from bot.core.clock import Clock, LiveClock
from bot.core.commands import CommandTable
from bot.core.cooldown import Cooldown
from bot.core.delivery import Adapter
from bot.core.describe import AlertDescriber
from bot.core.feature import AlertKindSpec, DailyJob, Feature
from bot.core.handlers import core_commands
from bot.core.market import MarketData
from bot.core.messages import AlertKind
from bot.core.router import CommandRouter, Context
from bot.core.routing import Routing
from bot.core.rules import RuleBook
from bot.core.settings import Settings
from bot.core.status import status_commands
from bot.core.ticks import TickSource
from bot.core.vitals import Vitals
from bot.features import FEATURE_NAMES
from bot.market.calendar import MarketCalendar
from bot.vector import VectorEngine
from jobs.dispatch import Dispatcher
from jobs.price_check import PriceCheck
from jobs.scheduler import MarketScheduler, MarketTimer
from jobs.splits import SplitGuard
from jobs.stream import StreamedMarket, StreamFeed
from storage.factory import AnyStorage, open_storage

if TYPE_CHECKING:
    from bot.monitor import Monitor

log = logging.getLogger(__name__)

SPLIT_SWEEP_AT = time(7, 0)  # splits applied before the open


def make_market(config: Config, clock: Clock, calendar: Calendar) -> MarketData:
    if config.market.provider == "csv":
        from bot.market.csv_provider import CsvMarket

        try:
            return CsvMarket(config.market.data_dir, clock=clock, calendar=calendar, timeout=config.market.timeout_seconds)
        except FileNotFoundError as problem:
            raise ConfigError(f"{config.source}: [market] data_dir: {problem}") from None
    from bot.market.yfinance_provider import YFinanceMarket

    return YFinanceMarket(clock=clock, calendar=calendar, timeout=config.market.timeout_seconds)


def tickerbell_version() -> str:
    try:
        return version("tickerbell")
    except PackageNotFoundError:
        return "unknown"


def default_commands() -> CommandTable:
    """The core's commands, then /status; features add theirs."""
    table = core_commands()
    for command in (*status_commands(), *chat_commands()):
        table.add(command)
    return table


def settings_of(config: Config) -> Settings:
    """The narrow view of the config the core reads."""
    return Settings(
        admins=config.bot.admins,
        max_alerts_per_user=config.bot.max_alerts_per_user,
        rearm_band_pct=config.alerts.rearm_band_pct,
        selloff_pct=config.alerts.selloff_pct,
        drawdown_pct=config.alerts.drawdown_pct,
        look_back=config.alerts.look_back,
    )


def build_features(
    context: Context, storage: AnyStorage, names: Sequence[str], kinds: Mapping[AlertKind, AlertKindSpec] | None = None
) -> list[Feature]:
    """The features named, in the order of `FEATURE_NAMES`, each given the services it needs."""
    unknown = sorted(set(names) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features: {', '.join(unknown)} (known: {', '.join(FEATURE_NAMES)})")
    from bot.features.baskets import BasketsFeature
    from bot.features.earnings import EarningsFeature
    from bot.features.primer import PrimerFeature

    earnings = EarningsFeature(context, outbox=storage.outbox) if "earnings" in names else None
    built: dict[str, Feature] = {}
    extra = issue14_features(context, storage, names, kinds if kinds is not None else {})
    catalysts = getattr(extra.get("catalysts"), "desk", None)
    if "primer" in names:
        built["primer"] = PrimerFeature(context, earnings=earnings.desk if earnings else None, catalysts=catalysts)
    if earnings is not None:
        built["earnings"] = earnings
    if "baskets" in names:
        built["baskets"] = BasketsFeature(context)
    if "digest" in names:
        from bot.features.digest import DigestFeature

        built["digest"] = DigestFeature(context, outbox=storage.outbox)
    built.update(extra)
    return [built[name] for name in FEATURE_NAMES if name in built]


def issue14_features(
    context: Context, storage: AnyStorage, names: Sequence[str], kinds: Mapping[AlertKind, AlertKindSpec]
) -> dict[str, Feature]:
    """Cashtags, charts, history and the other features of issue 14, each with its store.
    `kinds`: every feature's alert kinds, filled as the wiring adds the features (for /history)."""
    from bot.features.cashtags import CashtagsFeature
    from bot.features.catalysts import CatalystsFeature
    from bot.features.charts import ChartsFeature
    from bot.features.history import HistoryFeature
    from bot.features.lifecycle import LifecycleFeature
    from bot.features.transfer import TransferFeature

    built: dict[str, Feature] = {}
    if "cashtags" in names:
        built["cashtags"] = CashtagsFeature(context, store=storage.cashtags)
    if "history" in names:
        built["history"] = HistoryFeature(context, store=storage.history, kinds=kinds)
    if "charts" in names:
        built["charts"] = ChartsFeature(context)
    if "lifecycle" in names:
        built["lifecycle"] = LifecycleFeature(context)
    if "catalysts" in names:
        built["catalysts"] = CatalystsFeature(context, store=storage.catalysts, outbox=storage.outbox)
    if "transfer" in names:
        built["transfer"] = TransferFeature(context)
    return built


@dataclass
class App:
    config: Config
    clock: Clock
    calendar: Calendar
    storage: AnyStorage
    market: MarketData
    rules: RuleBook
    chats: ChatDirectory
    context: Context
    router: CommandRouter
    dispatcher: Dispatcher
    price_check: PriceCheck
    splits: SplitGuard
    daily_jobs: list[DailyJob] = field(default_factory=list)
    alert_kinds: dict[AlertKind, AlertKindSpec] = field(default_factory=dict)
    features: list[Feature] = field(default_factory=list)
    adapters: dict[str, Adapter] = field(default_factory=dict)
    feed: StreamFeed | None = None  # streamed quotes, when configured

    @classmethod
    async def create(
        cls,
        config: Config,
        *,
        clock: Clock | None = None,
        market: MarketData | None = None,
        storage_path: str | Path | None = None,
        calendar: Calendar | None = None,
        commands: CommandTable | None = None,
        features: Sequence[str] | None = None,
        stream: TickSource | None = None,
    ) -> App:
        """Build the app. `features=None` builds every feature; tests may name fewer (or none).
        `stream`: a tick source (tests); else Yahoo's streamer when the config asks for it with the
        yfinance provider the app makes itself."""
        clock = clock or LiveClock()
        calendar = calendar or MarketCalendar(config.market.exchange)
        if stream is None and market is None and config.market.stream and config.market.provider == "yfinance":
            from bot.market.stream import YahooStream

            stream = YahooStream(url=config.market.stream_url, clock=clock)
        market = market or make_market(config, clock, calendar)
        if stream is not None:
            market = StreamedMarket(market)
        storage = await open_storage(storage_path or config.storage.target)
        share(storage, config)  # PostgreSQL: rule and chat changes heard by every process
        settings = settings_of(config)
        rules = RuleBook(store=storage.rules, checks=storage.checks, engine=VectorEngine(rearm_band_pct=settings.rearm_band_pct),
                         market=market, calendar=calendar, clock=clock, cooldown=Cooldown(config.alerts.rearm_cooldown_minutes))
        await rules.load()
        # The rules live as long as the process: move them out of the collector's way, so a
        # busy check cycle does not re-scan a million long-lived objects (see `make bench`).
        gc.collect()
        gc.freeze()
        vitals = Vitals(version=tickerbell_version(), started_at=clock.now(), poll_seconds=config.market.poll_seconds)
        chats = ChatDirectory(storage.chats, clock)
        routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats, chat_settings=storage.chat_settings, defaults=settings, zone=calendar.tz)
        dispatcher = Dispatcher(storage.outbox, chats, {}, clock, vitals=vitals)
        context = Context(settings=settings, store=storage, rules=rules, chats=chats, routing=routing, market=market,
                          calendar=calendar, clock=clock, commands=commands or default_commands(), wake_dispatcher=dispatcher.notify,
                          vitals=vitals)
        splits = SplitGuard(rules=rules, routing=routing, market=market, clock=clock, on_queued=dispatcher.notify)
        price_check = PriceCheck(rules=rules, routing=routing, splits=splits, market=market, calendar=calendar, clock=clock,
                                 on_queued=dispatcher.notify, vitals=vitals, quote_book=context.quotes)
        app = cls(config, clock, calendar, storage, market, rules, chats, context, CommandRouter(context), dispatcher, price_check, splits)
        app.daily_jobs.append(DailyJob(SPLIT_SWEEP_AT, splits.sweep, "split sweep"))
        if stream is not None and isinstance(market, StreamedMarket):
            app.feed = StreamFeed(source=stream, check=price_check, market=market, calendar=calendar, clock=clock, vitals=vitals,
                                  poll_seconds=config.market.poll_seconds, tick_seconds=config.market.tick_seconds,
                                  extended_hours=config.market.extended_hours)
        try:
            async with one_at_a_time(storage):  # several processes starting at once seed their features in turn
                for feature in build_features(context, storage, FEATURE_NAMES if features is None else features, app.alert_kinds):
                    await app.add_feature(feature)
        except BaseException:
            await app.close()
            raise
        return app

    async def add_feature(self, feature: Feature) -> None:
        """Plug a feature in: its commands, daily jobs, quote listeners and alert kinds; then start it."""
        await feature.start()
        for command in feature.commands():
            self.context.commands.add(command)
        self.daily_jobs.extend(feature.daily_jobs())
        self.price_check.listeners.extend(feature.quote_listeners())
        self.alert_kinds.update(feature.alert_kinds())
        chatter = getattr(feature, "chatter_listeners", None)  # optional: features that answer ordinary messages
        if callable(chatter):
            self.router.chatter.extend(chatter())
        self.features.append(feature)

    async def run_daily_jobs(self, day: date) -> None:
        """Run every daily job for `day` now, whatever the clock says (tests, catch-ups)."""
        for job in self.daily_jobs:
            await job.run(day)

    def describer(self) -> AlertDescriber:
        """What each alert kind says, in the exchange's time zone: for adapters and replay output."""
        return AlertDescriber(self.calendar.tz, self.alert_kinds)

    def timer(self) -> MarketTimer:
        """The market timer: price checks in sessions, daily jobs at market times (live and replay alike)."""
        check = self.feed.poll if self.feed is not None else self.price_check.run_once
        return MarketTimer(clock=self.clock, calendar=self.calendar, check=check, daily_jobs=self.daily_jobs,
                           paused=lambda: self.dispatcher.paused)

    @property
    def vitals(self) -> Vitals:
        return self.context.vitals

    def monitor(self, *, host: str, port: int) -> Monitor:
        """The /metrics and /healthz endpoint over this app's vitals (not started)."""
        from bot.monitor import Monitor, Sources

        return Monitor(Sources(self.context.vitals, self.storage.stats, self.rules, self.calendar, self.clock), host=host, port=port)

    def add_adapter(self, adapter: Adapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.context.vitals.adapters[adapter.platform] = True
        self.dispatcher.adapters[adapter.platform] = adapter

    async def close(self) -> None:
        for adapter in list(self.adapters.values()):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await self.market.aclose()
        await self.storage.close()


def enabled_adapters(app: App, stop: asyncio.Event, *, on_interrupt: Callable[[], None] | None = None, receive: bool = True,
                     telegram_receive: bool | None = None, discord_receive: bool | None = None) -> list[Adapter]:
    """The adapters the config enables; the console when none is. `on_interrupt`: Ctrl-C at the console's prompt.
    `receive=False` (a process without the gateway role): send only, and no console."""
    config = app.config
    describer = app.describer()
    adapters: list[Adapter] = []
    if config.telegram.enabled:
        from bot.adapters.telegram import TelegramAdapter

        secret = os.environ.get(config.telegram.webhook_token_env, "").strip() if config.telegram.mode == "webhook" else ""
        adapters.append(TelegramAdapter(config.telegram, config.token(config.telegram.token_env, "Telegram"), app.router, describer=describer,
                                        receive=receive if telegram_receive is None else telegram_receive, webhook_secret=secret))
    if config.discord.enabled:
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(config.discord, config.token(config.discord.token_env, "Discord"), app.router, describer=describer,
                                       receive=receive if discord_receive is None else discord_receive))
    if receive and (config.console.enabled or not adapters):
        from bot.adapters.console import ConsoleAdapter

        adapters.append(ConsoleAdapter(app.router, user=config.console.user, on_end_of_input=stop.set, on_interrupt=on_interrupt, describer=describer))
    return adapters


async def run_live(
    config: Config, *, clock: Clock | None = None, stop: asyncio.Event | None = None, adapters: Sequence[Adapter] | None = None
) -> tuple[signal.Signals | None, list[str]]:
    """The live bot: adapters, the market timer and the dispatcher until SIGINT/SIGTERM (or `stop`).

    Returns the signal that stopped it (None for `stop` or the console's end of input) and
    what could not be stopped in time. Every step of the stop is bounded, so the whole stop
    takes under 5 s even when a platform or a provider does not answer: a running market tick
    gets 2 s (then it is cancelled), and meanwhile the dispatcher 0.5 s (a send cut short stays in
    the outbox) and the adapters 1.5 s (stopped together); then closing the market data and the
    storage 1 s. Everything not sent stays in the outbox.
    `adapters` replaces the ones the config enables (tests).
    """
    config.check_tokens()  # a missing token stops start-up before anything connects
    stop = stop or asyncio.Event()
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals, how: str = "received") -> None:
        if not received:
            log.info("%s %s", signum.name, how)
        received.append(signum)
        stop.set()

    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass

    async def bounded(what: str, work: Awaitable[object], seconds: float) -> bool:
        """Await `work` for at most `seconds`; else cancel it, wait 0.2 s more at most, log, and go on.
        (Not asyncio.wait_for: it waits for a cancelled task to finish, however long that takes.)"""
        task = asyncio.ensure_future(work)
        await asyncio.wait({task}, timeout=seconds)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
            log.warning("stopping: %s did not finish within %.1f s; abandoned", what, seconds)
            abandoned.append(what)
            return False
        if not task.cancelled() and task.exception() is not None:
            log.error("stopping: %s failed", what, exc_info=task.exception())
        return True

    async def start_adapters() -> None:
        wanted = adapters if adapters is not None else (
            enabled_adapters(app, stop, on_interrupt=lambda: on_signal(signal.SIGINT, "(Ctrl-C at the console prompt)"), receive=roles.gateway,
                             telegram_receive=await telegram_receives(app, roles, parts), discord_receive=await discord_receives(app, roles, parts))
            if roles.gateway or roles.delivery else []
        )
        for adapter in wanted:
            starting_now[:] = [adapter.platform]
            await adapter.start()
            app.add_adapter(adapter)
            log.info("adapter %s started", adapter.platform)
        starting_now.clear()

    async def started() -> bool:
        """Start the adapters unless a stop comes first (a platform may hang at start-up); False if stopped."""
        starting = asyncio.ensure_future(start_adapters())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if starting.done():
            starting.result()  # a start-up failure (ConfigError) goes up as it is
            return not stop.is_set()
        log.info("stopped while the %s adapter was starting: its start is cancelled", "".join(starting_now))
        starting.cancel()
        await bounded(f"cancelling the {''.join(starting_now)} adapter's start", asyncio.wait({starting}), 1.0)
        return False

    async def stop_ticking(scheduler: MarketScheduler | None) -> None:
        if scheduler is not None and not await scheduler.stop(timeout=2.0):
            abandoned.append("a market tick (cancelled)")

    async def stop_delivery(dispatching: asyncio.Task[None] | None) -> None:
        if dispatching is not None:
            await bounded("the dispatcher", dispatching, 0.5)
        stopping = list(app.adapters.values())
        app.adapters.clear()  # stopped here, each bounded; App.close() must not stop them again
        await asyncio.gather(*(bounded(f"stopping the {a.platform} adapter", a.stop(), 1.5) for a in stopping))

    async def start_monitor() -> Monitor | None:
        """/metrics and /healthz, from the start (it says "starting" until the bot serves)."""
        if not config.metrics.enabled:
            return None
        monitor = app.monitor(host=config.metrics.host, port=config.metrics.port)
        try:
            await monitor.start()
        except OSError as problem:
            where = f"{config.metrics.host}:{config.metrics.port}"
            why = os.strerror(problem.errno).lower() if problem.errno else str(problem)
            raise ConfigError(f"{config.origin('metrics', 'port')}: [metrics] port: cannot listen on {where} ({why})") from None
        return monitor

    abandoned: list[str] = []
    starting_now: list[str] = []  # the platform whose adapter is starting
    try:
        app = await App.create(config, clock=clock)
        scheduler: MarketScheduler | None = None
        dispatching: asyncio.Task[None] | None = None
        streaming: asyncio.Task[None] | None = None
        monitor: Monitor | None = None
        parts: ClusterParts | None = None
        try:
            roles = Roles.of(config, app.storage)  # [cluster] role: what this process runs
            parts = await join(app, roles)  # PostgreSQL: the lease, LISTEN, shared send limits
            monitor = await start_monitor()
            if not stop.is_set() and await started():
                if parts is not None and parts.timer is not None:  # ticks only while it holds the lease
                    scheduler = MarketScheduler(parts.timer, poll_seconds=config.cluster.lease_seconds)  # type: ignore[arg-type]
                elif roles.checker:
                    scheduler = MarketScheduler(app.timer(), poll_seconds=config.market.poll_seconds)
                if scheduler is not None:
                    scheduler.start()
                if roles.delivery:
                    dispatching = asyncio.create_task(app.dispatcher.run(stop), name="dispatcher")
                if roles.checker and app.feed is not None:  # streamed ticks are checked only where the timer runs
                    if parts is not None and parts.timer is not None:
                        app.feed.leading = parts.timer.is_leading
                    streaming = asyncio.create_task(app.feed.run(), name="quote stream")
                app.vitals.ready = True
                log.info("tickerbell is running with %s; %d rules on %d tickers", ", ".join(app.adapters), app.rules.rule_count(), len(app.rules.tickers()))
                await stop.wait()
            log.info("stopping")
        finally:
            stop.set()
            app.vitals.ready = False
            if streaming is not None:
                streaming.cancel()
                await bounded("the quote stream", asyncio.wait({streaming}), 0.5)
            await asyncio.gather(bounded("the market timer", stop_ticking(scheduler), 2.5), stop_delivery(dispatching))
            if monitor is not None:
                await bounded("the monitoring endpoint", monitor.stop(), 0.5)
            if parts is not None:
                await bounded("leaving the cluster", parts.close(), 0.5)
            await bounded("closing the market data and the storage", app.close(), 1.0)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    return (received[0] if received else None), abandoned
