"""Wiring: storage, market data, the engine, the command router, jobs and adapters, on one loop.

`App.create(...)` builds everything with injected parts (clock, market, storage path),
so the live bot, replay, the demo and the tests all run the very same pipeline.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from bot.adapters.base import Adapter
from bot.config import Config, ConfigError
from bot.core.clock import Clock, LiveClock
from bot.core.commands import CommandTable
from bot.core.engine import RuleEngine
from bot.core.handlers import core_commands
from bot.core.router import CommandRouter, Context
from bot.market.base import MarketData
from bot.market.calendar import MarketCalendar
from jobs.dispatch import Dispatcher
from jobs.price_check import PriceCheck
from jobs.scheduler import DailyJob, MarketScheduler, MarketTimer
from storage.db import Store

log = logging.getLogger(__name__)

Feature = Callable[["App"], Awaitable[None]]
FEATURES: list[Feature] = []  # feature modules (primers, earnings) register themselves here


def register_feature(feature: Feature) -> Feature:
    FEATURES.append(feature)
    return feature


def make_market(config: Config, clock: Clock, calendar: MarketCalendar) -> MarketData:
    if config.market.provider == "csv":
        from bot.market.csv_provider import CsvMarket

        try:
            return CsvMarket(config.market.data_dir, clock=clock, calendar=calendar)
        except FileNotFoundError as problem:
            raise ConfigError(f"{config.source}: [market] data_dir: {problem}") from None
    from bot.market.yfinance_provider import YFinanceMarket

    return YFinanceMarket(clock=clock, calendar=calendar, timeout=config.market.timeout_seconds)


@dataclass
class App:
    config: Config
    clock: Clock
    calendar: MarketCalendar
    store: Store
    market: MarketData
    engine: RuleEngine
    context: Context
    router: CommandRouter
    dispatcher: Dispatcher
    price_check: PriceCheck
    daily_jobs: list[tuple[time, DailyJob]] = field(default_factory=list)
    adapters: dict[str, Adapter] = field(default_factory=dict)

    @classmethod
    async def create(
        cls,
        config: Config,
        *,
        clock: Clock | None = None,
        market: MarketData | None = None,
        storage_path: str | Path | None = None,
        calendar: MarketCalendar | None = None,
        commands: CommandTable | None = None,
        features: Sequence[Feature] | None = None,
    ) -> App:
        """Build the app. `features=None` loads every registered feature; tests may pass fewer."""
        clock = clock or LiveClock()
        calendar = calendar or MarketCalendar(config.market.exchange)
        market = market or make_market(config, clock, calendar)
        store = await Store.open(storage_path or config.storage.path)
        engine = RuleEngine(rearm_band_pct=config.alerts.rearm_band_pct)
        engine.load(await store.all_rules(), await store.ticker_states())
        # The rules live as long as the process: move them out of the collector's way, so a
        # busy check cycle does not re-scan a million long-lived objects (see `make bench`).
        gc.collect()
        gc.freeze()
        table = commands or core_commands()
        context = Context(config=config, store=store, market=market, engine=engine, calendar=calendar, clock=clock, commands=table)
        dispatcher = Dispatcher(store, {}, clock)
        price_check = PriceCheck(store=store, market=market, engine=engine, calendar=calendar, clock=clock, on_queued=dispatcher.notify)
        app = cls(config, clock, calendar, store, market, engine, context, CommandRouter(context), dispatcher, price_check)
        app.daily_jobs.append((time(7, 0), price_check.sweep_splits))  # splits applied before the open
        import bot.features  # noqa: F401  (registers the feature modules)

        try:
            for feature in FEATURES if features is None else features:
                await feature(app)
        except BaseException:
            await app.close()
            raise
        return app

    def add_adapter(self, adapter: Adapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.dispatcher.adapters[adapter.platform] = adapter

    async def run_daily_jobs(self, day: date) -> None:
        for _, job in self.daily_jobs:
            await job(day)

    async def close(self) -> None:
        for adapter in list(self.adapters.values()):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await self.market.aclose()
        await self.store.close()


def enabled_adapters(app: App, stop: asyncio.Event) -> list[Adapter]:
    """The adapters the config enables; the console when none is."""
    config = app.config
    adapters: list[Adapter] = []
    if config.telegram.enabled:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config.telegram, config.token(config.telegram.token_env, "Telegram"), app.router))
    if config.discord.enabled:
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(config.discord, config.token(config.discord.token_env, "Discord"), app.router))
    if config.console.enabled or not adapters:
        from bot.adapters.console import ConsoleAdapter

        adapters.append(ConsoleAdapter(app.router, user=config.console.user, on_end_of_input=stop.set))
    return adapters


async def run_live(config: Config, *, clock: Clock | None = None, stop: asyncio.Event | None = None) -> None:
    """The live bot: adapters, the market timer and the dispatcher until SIGINT/SIGTERM."""
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
        timer = MarketTimer(clock=app.clock, calendar=app.calendar, check=app.price_check.run_once, daily_jobs=app.daily_jobs)
        scheduler = MarketScheduler(timer, poll_seconds=config.market.poll_seconds)
        scheduler.start()
        dispatcher_task = asyncio.create_task(app.dispatcher.run(stop), name="dispatcher")
        log.info("tickerbell is running with %s; %d rules on %d tickers", ", ".join(app.adapters), app.engine.rule_count(), len(app.engine.tickers()))
        await stop.wait()
        log.info("stopping")
    finally:
        if scheduler is not None:
            await scheduler.stop()
        if dispatcher_task is not None:
            stop.set()
            try:
                await asyncio.wait_for(dispatcher_task, timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                dispatcher_task.cancel()
        await app.close()
        log.info("stopped cleanly")
