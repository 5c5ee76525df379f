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
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from bot.config import Config, ConfigError
from bot.core.calendar import Calendar
from bot.core.chats import ChatDirectory
from bot.core.clock import Clock, LiveClock
from bot.core.commands import CommandTable
from bot.core.delivery import Adapter
from bot.core.describe import AlertDescriber
from bot.core.engine import RuleEngine
from bot.core.feature import AlertKindSpec, DailyJob, Feature
from bot.core.handlers import core_commands
from bot.core.market import MarketData
from bot.core.messages import AlertKind
from bot.core.router import CommandRouter, Context
from bot.core.routing import Routing
from bot.core.rules import RuleBook
from bot.core.settings import Settings
from bot.features import FEATURE_NAMES
from bot.market.calendar import MarketCalendar
from jobs.dispatch import Dispatcher
from jobs.price_check import PriceCheck
from jobs.scheduler import MarketScheduler, MarketTimer
from jobs.splits import SplitGuard
from storage.sqlite import SqliteStorage

log = logging.getLogger(__name__)

SPLIT_SWEEP_AT = time(7, 0)  # splits applied before the open


def make_market(config: Config, clock: Clock, calendar: Calendar) -> MarketData:
    if config.market.provider == "csv":
        from bot.market.csv_provider import CsvMarket

        try:
            return CsvMarket(config.market.data_dir, clock=clock, calendar=calendar)
        except FileNotFoundError as problem:
            raise ConfigError(f"{config.source}: [market] data_dir: {problem}") from None
    from bot.market.yfinance_provider import YFinanceMarket

    return YFinanceMarket(clock=clock, calendar=calendar, timeout=config.market.timeout_seconds)


def settings_of(config: Config) -> Settings:
    """The narrow view of the config the core reads."""
    return Settings(
        admins=config.bot.admins,
        max_alerts_per_user=config.bot.max_alerts_per_user,
        rearm_band_pct=config.alerts.rearm_band_pct,
        selloff_pct=config.alerts.selloff_pct,
        drawdown_pct=config.alerts.drawdown_pct,
    )


def build_features(context: Context, storage: SqliteStorage, names: Sequence[str]) -> list[Feature]:
    """The features named, in the order of `FEATURE_NAMES`, each given the services it needs."""
    unknown = sorted(set(names) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features: {', '.join(unknown)} (known: {', '.join(FEATURE_NAMES)})")
    from bot.features.baskets import BasketsFeature
    from bot.features.earnings import EarningsFeature
    from bot.features.primer import PrimerFeature

    earnings = EarningsFeature(context, outbox=storage.outbox) if "earnings" in names else None
    built: dict[str, Feature] = {}
    if "primer" in names:
        built["primer"] = PrimerFeature(context, earnings=earnings.desk if earnings else None)
    if earnings is not None:
        built["earnings"] = earnings
    if "baskets" in names:
        built["baskets"] = BasketsFeature(context)
    return [built[name] for name in FEATURE_NAMES if name in built]


@dataclass
class App:
    config: Config
    clock: Clock
    calendar: Calendar
    storage: SqliteStorage
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
    ) -> App:
        """Build the app. `features=None` builds every feature; tests may name fewer (or none)."""
        clock = clock or LiveClock()
        calendar = calendar or MarketCalendar(config.market.exchange)
        market = market or make_market(config, clock, calendar)
        storage = await SqliteStorage.open(storage_path or config.storage.path)
        settings = settings_of(config)
        rules = RuleBook(store=storage.rules, checks=storage.checks, engine=RuleEngine(rearm_band_pct=settings.rearm_band_pct),
                         market=market, calendar=calendar, clock=clock)
        await rules.load()
        # The rules live as long as the process: move them out of the collector's way, so a
        # busy check cycle does not re-scan a million long-lived objects (see `make bench`).
        gc.collect()
        gc.freeze()
        chats = ChatDirectory(storage.chats, clock)
        routing = Routing(watches=storage.watches, prefs=storage.prefs, chats=chats)
        dispatcher = Dispatcher(storage.outbox, chats, {}, clock)
        context = Context(settings=settings, store=storage, rules=rules, chats=chats, routing=routing, market=market,
                          calendar=calendar, clock=clock, commands=commands or core_commands(), wake_dispatcher=dispatcher.notify)
        splits = SplitGuard(rules=rules, routing=routing, market=market, clock=clock, on_queued=dispatcher.notify)
        price_check = PriceCheck(rules=rules, routing=routing, splits=splits, market=market, calendar=calendar, clock=clock,
                                 on_queued=dispatcher.notify)
        app = cls(config, clock, calendar, storage, market, rules, chats, context, CommandRouter(context), dispatcher, price_check, splits)
        app.daily_jobs.append(DailyJob(SPLIT_SWEEP_AT, splits.sweep, "split sweep"))
        try:
            for feature in build_features(context, storage, FEATURE_NAMES if features is None else features):
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
        return MarketTimer(clock=self.clock, calendar=self.calendar, check=self.price_check.run_once, daily_jobs=self.daily_jobs)

    def add_adapter(self, adapter: Adapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.dispatcher.adapters[adapter.platform] = adapter

    async def close(self) -> None:
        for adapter in list(self.adapters.values()):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await self.market.aclose()
        await self.storage.close()


def enabled_adapters(app: App, stop: asyncio.Event) -> list[Adapter]:
    """The adapters the config enables; the console when none is."""
    config = app.config
    describer = app.describer()
    adapters: list[Adapter] = []
    if config.telegram.enabled:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config.telegram, config.token(config.telegram.token_env, "Telegram"), app.router, describer=describer))
    if config.discord.enabled:
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(config.discord, config.token(config.discord.token_env, "Discord"), app.router, describer=describer))
    if config.console.enabled or not adapters:
        from bot.adapters.console import ConsoleAdapter

        adapters.append(ConsoleAdapter(app.router, user=config.console.user, on_end_of_input=stop.set, describer=describer))
    return adapters


async def run_live(config: Config, *, clock: Clock | None = None, stop: asyncio.Event | None = None) -> None:
    """The live bot: adapters, the market timer and the dispatcher until SIGINT/SIGTERM."""
    config.check_tokens()  # a missing token stops start-up before anything connects
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    app = await App.create(config, clock=clock)
    scheduler = None
    dispatcher_task = None
    try:
        for adapter in enabled_adapters(app, stop):
            await adapter.start()
            app.add_adapter(adapter)
            log.info("adapter %s started", adapter.platform)
        scheduler = MarketScheduler(app.timer(), poll_seconds=config.market.poll_seconds)
        scheduler.start()
        dispatcher_task = asyncio.create_task(app.dispatcher.run(stop), name="dispatcher")
        log.info("tickerbell is running with %s; %d rules on %d tickers", ", ".join(app.adapters), app.rules.rule_count(), len(app.rules.tickers()))
        await stop.wait()
        log.info("stopping")
    finally:
        if scheduler is not None:
            await scheduler.stop()
        if dispatcher_task is not None:
            stop.set()
            try:
                await asyncio.wait_for(dispatcher_task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                dispatcher_task.cancel()
        await app.close()
        log.info("stopped cleanly")
