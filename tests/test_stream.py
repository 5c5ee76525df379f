"""Streamed quotes: the real `yfinance.AsyncWebSocket` against a fake Yahoo streamer on 127.0.0.1,
feeding the real price check (guard, engine, routing, outbox) on a ReplayClock.

No sleeps: each test waits for an event (a subscription at the fake, a batch checked by the
feed) with a timeout, and moves the clock itself. Backoffs and the pause between batches are
injected as waits that return at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import AlertsConfig, Config, MarketConfig
from bot.core.clock import ReplayClock
from bot.core.messages import Alert
from bot.core.models import UserRef
from bot.core.ticks import Hours, Tick
from bot.market.calendar import MarketCalendar
from bot.market.csv_provider import CsvMarket
from bot.market.stream import YahooStream
from jobs.stream import POLLING, STREAMING, StreamFeed
from tests.conftest import ALICE, ANALYST, CHAT, DEMO_DATA, Captured, ny
from tests.fakes.market import EditableMarket
from tests.fakes.streamer import FakeStreamer, pricing_frame

DAY = date(2025, 1, 28)  # NVDA opened at 124.04 after closing at 118.36 the day before
OPEN = ny(DAY, 10)


async def instant(seconds: float) -> None:
    await asyncio.sleep(0)


@dataclass
class World:
    app: App
    clock: ReplayClock
    out: Captured
    streamer: FakeStreamer
    source: YahooStream
    market: EditableMarket
    batched: asyncio.Event

    @property
    def feed(self) -> StreamFeed:
        assert self.app.feed is not None
        return self.app.feed

    async def say(self, text: str, *, user: UserRef = ALICE) -> str:
        replies = await self.app.router.handle_text(text, chat=CHAT, user=user, is_chat_manager=True)
        return "\n".join(r.text for r in replies)

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `condition()` holds, checked after each batch, connect and drop the feed hears of."""
        async def waiting() -> None:
            while not condition():
                self.batched.clear()
                await self.batched.wait()

        await asyncio.wait_for(waiting(), timeout)

    async def tick(self, symbol: str, price: float, *, minutes: float = 0.0, **fields: Any) -> None:
        """Move the clock, then send a price stamped with the new time."""
        self.clock.set(self.clock.now() + timedelta(minutes=minutes))
        await self.streamer.price(symbol, price, at=self.clock.now(), **fields)

    async def delivered(self) -> list[Alert]:
        await self.app.dispatcher.drain_once()
        return [alert for _, alert in self.out.alerts]


@pytest.fixture
async def streamer() -> AsyncIterator[FakeStreamer]:
    fake = FakeStreamer()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make_world(tmp_path: Path, calendar: MarketCalendar, streamer: FakeStreamer) -> AsyncIterator[Any]:
    running: list[tuple[App, asyncio.Task[None] | None]] = []

    async def build(*, start: datetime = OPEN, run: bool = True, extended_hours: bool = False, cooldown: float = 30.0) -> World:
        config = Config(market=MarketConfig(stream_url=streamer.url, extended_hours=extended_hours),
                        alerts=AlertsConfig(rearm_cooldown_minutes=cooldown))
        config = replace(config, bot=replace(config.bot, admins=frozenset({ANALYST.key})))
        clock = ReplayClock(start)
        market = EditableMarket(CsvMarket(DEMO_DATA, clock=clock, calendar=calendar))
        source = YahooStream(url=streamer.url, clock=clock, sleep=instant)
        app = await App.create(config, clock=clock, market=market, calendar=calendar, storage_path=tmp_path / f"bot{len(running)}.sqlite3",
                               features=(), stream=source)
        assert app.feed is not None
        app.feed._pace = instant
        batched = asyncio.Event()
        app.feed.on_change = batched.set
        out = Captured()
        app.add_adapter(out)
        task = asyncio.create_task(app.feed.run()) if run else None
        running.append((app, task))
        return World(app, clock, out, streamer, source, market, batched)

    yield build
    for app, task in running:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await app.close()


# -- subscriptions --------------------------------------------------------------------------------------

async def test_subscriptions_follow_the_rules_while_running(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world()
    await world.say("/alert NVDA above 130")
    await world.app.timer().tick()  # a poll: the feed compares its subscriptions with the rules
    await streamer.wait_subscribed({"NVDA"})

    await world.say("/alert MSFT below 400")
    await world.tick("NVDA", 124.5)  # any tick wakes the feed, which follows the new rule's ticker
    await streamer.wait_subscribed({"NVDA", "MSFT"})

    await world.say("/unalert 1")
    await world.app.timer().tick()
    await streamer.wait_subscribed({"MSFT"})
    assert {"unsubscribe": ["NVDA"]} in streamer.received
    assert streamer.received[0] == {"subscribe": ["NVDA"]}  # yfinance's own subscribe message


@pytest.fixture(params=[True, False], ids=["yfinance-default", "exceptions-raised"])
def yfinance_exceptions(request: pytest.FixtureRequest) -> Any:
    """yfinance's default (`hide_exceptions = True`), and how the provider sets it for the whole process."""
    import yfinance as yf

    before = yf.config.debug.hide_exceptions
    yf.config.debug.hide_exceptions = request.param
    yield
    yf.config.debug.hide_exceptions = before


@pytest.mark.usefixtures("yfinance_exceptions")
async def test_a_tick_crossing_a_level_alerts_once_and_a_disconnect_is_survived(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world()
    assert "Alert #1 set" in await world.say("/alert NVDA above 126")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})

    await world.tick("NVDA", 126.4, minutes=1)
    await world.until(lambda: world.feed.market.streamed.get("NVDA") is not None and world.feed.market.streamed["NVDA"].price == 126.4)
    alerts = await world.delivered()
    assert [(a.kind.value, a.price, a.level) for a in alerts] == [("price_above", 126.4, 126.0)]

    for connects, clean in ((2, True), (3, False)):  # a clean close, then a reset with no close frame
        await streamer.drop(clean=clean)
        await streamer.wait_for(lambda n=connects: streamer.connects >= n and streamer.subscribed == {"NVDA"})
    assert streamer.connects == 3
    await world.tick("NVDA", 124.0, minutes=1)  # back below the band: re-armed
    await world.until(lambda: world.feed.market.streamed["NVDA"].price == 124.0)
    await world.tick("NVDA", 126.8, minutes=40)  # a new crossing after the cooldown
    await world.until(lambda: world.feed.market.streamed["NVDA"].price == 126.8)
    alerts = await world.delivered()
    assert [a.price for a in alerts] == [126.4, 126.8]
    assert world.feed.mode == STREAMING


async def test_malformed_frames_unknown_symbols_and_bad_prices_are_skipped_with_a_log_line(
    make_world: Any, streamer: FakeStreamer, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world()
    await world.say("/alert NVDA above 126")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    caplog.set_level(logging.WARNING, logger="bot.market.stream")
    for garbage in ("not json", '{"type": "pricing"}', '{"message": "***not base64***"}', '{"message": "AAEC/w=="}', '["a", "list"]'):
        await streamer.send_raw(garbage)
    await world.tick("ZZZZ", 500.0)
    await world.tick("NVDA", float("nan"))
    await world.tick("NVDA", float("inf"))
    await world.tick("NVDA", -3.0)
    await world.tick("NVDA", 126.5, minutes=1)  # the one good price, after all the bad ones
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    assert [a.price for a in await world.delivered()] == [126.5]
    assert world.source.skipped == {"malformed": 5, "unknown:ZZZZ": 1, "bad price": 3}
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 9
    assert "a price for 'ZZZZ', which no rule follows" in skipped[5]
    assert "a price of nan for NVDA" in skipped[6]


def test_a_frame_decodes_to_a_tick_with_yahoos_fields(calendar: MarketCalendar) -> None:
    source = YahooStream(url="ws://127.0.0.1:1", clock=ReplayClock(OPEN))
    source.follow({"NVDA"})
    tick = source.decode(pricing_frame("NVDA", 126.37, at=OPEN, day_high=127.1, day_low=123.9, previous_close=118.36, market_hours=2))
    assert tick == Tick("NVDA", 126.37, OPEN, Hours.POST, day_high=127.1, day_low=123.9, prev_close=118.36)
    bare = source.decode(pricing_frame("NVDA", 126.5))  # no time: the moment it arrived
    assert bare is not None and bare.at == OPEN and bare.prev_close is None and bare.day_high is None


# -- fallback ----------------------------------------------------------------------------------------

async def test_a_silent_stream_falls_back_to_polling_and_recovers(make_world: Any, streamer: FakeStreamer, caplog: pytest.LogCaptureFixture) -> None:
    world = await make_world()
    await world.say("/alert NVDA above 126")
    assert "Alert #2 set" in await world.say("/alert NVDA below 124.5")  # met at 124.04: waits for a crossing
    await world.app.timer().tick()
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 125.9, minutes=1)  # beyond the band: #2 re-armed; nothing fires
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    assert world.feed.mode == STREAMING
    assert "Quotes: streaming, last tick 0 s ago" in await world.say("/status", user=ANALYST)

    world.clock.set(world.clock.now() + timedelta(seconds=2 * 60 - 1))
    await world.app.timer().tick()
    assert world.feed.mode == STREAMING  # quiet, but not two poll intervals yet
    # polls never stop: this one's price (124.04, newer than the last tick) crosses #2
    assert [a.kind.value for a in await world.delivered()] == ["price_below"]
    world.clock.set(world.clock.now() + timedelta(seconds=2))
    caplog.set_level(logging.WARNING)
    assert await world.app.timer().tick() == "checked"
    assert world.feed.mode == POLLING
    assert any("polling every 60 s: the stream has been silent for 121 s in a session" in r.getMessage() for r in caplog.records)
    status = await world.say("/status", user=ANALYST)
    assert "Quotes: polling every 60 s: the stream has been silent for 121 s in a session." in status
    await streamer.wait_for(lambda: streamer.connects == 2 and streamer.subscribed == {"NVDA"})  # it reconnects meanwhile
    assert world.feed.mode == POLLING  # a connection alone does not prove the stream is back

    await world.tick("NVDA", 125.2, minutes=1)  # ticks again: streaming again
    await world.until(lambda: world.feed.market.streamed.get("NVDA") is not None)
    assert world.feed.mode == STREAMING


async def test_a_dropped_stream_says_polling_until_it_is_back(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world()
    await world.say("/alert NVDA above 126")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    await streamer.stop()  # the streamer goes away: every reconnect is refused
    await world.until(lambda: world.feed.mode == POLLING and world.feed.link.value == "down")
    assert "the stream is down" in world.app.vitals.price_feed_note


# -- what a tick may fire ----------------------------------------------------------------------------

async def test_ticks_outside_the_session_fire_nothing_until_the_open(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world(start=ny(DAY, 8))
    await world.say("/alert NVDA above 126")  # the price is yesterday's close, 118.36
    await world.say("/alert NVDA move 5")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 127.0)  # pre-market: up 7 % and above the level
    await world.tick("NVDA", 127.5, minutes=10)
    await world.until(lambda: world.streamer.sent == 2 and not world.feed.pending)
    assert await world.delivered() == []

    world.clock.set(ny(DAY, 9, 30))
    await world.tick("NVDA", 127.2, minutes=1)  # the first tick of the session
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    assert sorted(a.kind.value for a in await world.delivered()) == ["daily_move", "price_above"]


async def test_with_extended_hours_a_pre_market_tick_fires(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world(start=ny(DAY, 8), extended_hours=True)
    await world.say("/alert NVDA above 126")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 127.0, minutes=1)
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    alerts = await world.delivered()
    assert [(a.kind.value, round(a.change_pct or 0, 2)) for a in alerts] == [("price_above", 7.3)]  # from yesterday's close


async def test_a_jump_no_split_explains_waits_for_a_second_tick(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world()
    await world.say("/alert NVDA above 140")  # last good price 124.04
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 145.0, minutes=1)  # +17 %: a bad print?
    await world.until(lambda: world.batched.is_set() and not world.feed.pending)
    assert await world.delivered() == [] and "NVDA" in world.feed.suspects
    await world.tick("NVDA", 124.3, minutes=1)  # it was: the next tick is back near 124
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    assert await world.delivered() == [] and not world.feed.suspects

    await world.tick("NVDA", 145.0, minutes=1)
    await world.until(lambda: "NVDA" in world.feed.suspects)
    await world.tick("NVDA", 145.6, minutes=1)  # a second tick near the first confirms it
    await world.until(lambda: world.feed.market.streamed["NVDA"].price == 145.6)
    assert [a.price for a in await world.delivered()] == [145.6]


async def test_a_poll_settles_a_held_jump(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world(run=False)
    await world.say("/alert NVDA above 140")
    feed = world.feed
    feed.on_tick(Tick("NVDA", 145.0, world.clock.now()))
    assert await feed.flush() is None and "NVDA" in feed.suspects
    await world.app.timer().tick()  # the poll's price is the last good one now
    assert feed.suspects == {}


# -- storms --------------------------------------------------------------------------------------------

async def storm(world: World) -> list[Alert]:
    """A tape crossing 126 two hundred times in ten minutes, beyond the band each way."""
    feed = world.feed
    for step in range(400):
        world.clock.set(OPEN + timedelta(seconds=1.5 * (step + 1)))
        feed.on_tick(Tick("NVDA", 127.5 if step % 2 == 0 else 124.5, world.clock.now()))
        await feed.flush()
    return await world.delivered()


async def test_a_price_oscillating_around_a_level_alerts_once_per_cooldown(make_world: Any) -> None:
    world = await make_world(run=False)
    await world.say("/alert NVDA above 126")
    alerts = await storm(world)
    assert len(alerts) == 1
    assert world.app.rules.cooldown.suppressed_total == 199
    rule = world.app.rules.rules_of("NVDA")[0]
    assert rule.armed is True  # the last swing re-armed it: the next crossing after the cooldown alerts
    world.clock.set(OPEN + timedelta(minutes=41))
    world.feed.on_tick(Tick("NVDA", 127.5, world.clock.now()))
    await world.feed.flush()
    assert len(await world.delivered()) == 2


async def test_without_a_cooldown_the_same_tape_alerts_on_every_crossing(make_world: Any) -> None:
    world = await make_world(run=False, cooldown=0)
    await world.say("/alert NVDA above 126")
    assert len(await storm(world)) == 200


async def test_a_suppressed_firing_still_needs_the_band_to_rearm(make_world: Any) -> None:
    world = await make_world(run=False)
    await world.say("/alert NVDA above 126")
    feed = world.feed
    prices = [126.5, 124.0, 126.5, 125.9, 126.5]  # fire; re-arm; crossing held by the cooldown; inside the band; up again
    for minute, price in enumerate(prices, start=1):
        world.clock.set(OPEN + timedelta(minutes=minute))
        feed.on_tick(Tick("NVDA", price, world.clock.now()))
        await feed.flush()
    world.clock.set(OPEN + timedelta(minutes=40))
    feed.on_tick(Tick("NVDA", 126.6, world.clock.now()))  # after the cooldown, but no re-arm since the held crossing
    await feed.flush()
    assert len(await world.delivered()) == 1
    rows = await world.app.rules.member_rules(ALICE)
    assert rows[0].armed is False  # the held crossing's disarm was recorded


async def test_ticks_are_coalesced_per_ticker(make_world: Any) -> None:
    world = await make_world(run=False)
    await world.say("/alert NVDA above 126")
    await world.say("/alert MSFT below 430")
    feed = world.feed
    for price in (124.2, 124.9, 125.5, 125.1):
        feed.on_tick(Tick("NVDA", price, world.clock.now()))
    feed.on_tick(Tick("MSFT", 441.0, world.clock.now()))
    summary = await feed.flush()
    assert summary is not None and summary.checked == 2
    assert world.feed.market.streamed["NVDA"].price == 125.1
    state = world.app.rules.state("NVDA")
    assert state is not None and state.last_price == 125.1


# -- end to end ----------------------------------------------------------------------------------------

async def test_a_streamed_tick_reaches_a_telegram_member_as_a_send_message(tmp_path: Path, calendar: MarketCalendar, streamer: FakeStreamer) -> None:
    from bot.adapters.telegram import TelegramAdapter
    from bot.config import TelegramConfig
    from tests.telegram.fake_bot_api import FakeBotApi

    token = "7000000001:AAHfakeSecretTokenValue_0123456789abcdefXYZ"
    api = FakeBotApi(token=token)
    await api.start()
    config = Config(market=MarketConfig(stream_url=streamer.url), telegram=TelegramConfig(enabled=True, api_base_url=api.base_url))
    clock = ReplayClock(OPEN)
    app = await App.create(config, clock=clock, market=CsvMarket(DEMO_DATA, clock=clock, calendar=calendar), calendar=calendar,
                           storage_path=tmp_path / "bot.sqlite3", features=(), stream=YahooStream(url=streamer.url, clock=clock, sleep=instant))
    assert app.feed is not None
    app.feed._pace = instant
    stop = asyncio.Event()
    adapter = TelegramAdapter(config.telegram, token, app.router, describer=app.describer(), poll_timeout=10)
    tasks: list[asyncio.Task[Any]] = []
    try:
        await adapter.start()
        app.add_adapter(adapter)
        tasks = [asyncio.create_task(app.feed.run()), asyncio.create_task(app.dispatcher.run(stop))]
        mark = api.mark()
        message_id = api.push_command("/alert NVDA above 126", chat_id=42, user_id=42, first_name="Alice")
        made = await api.wait_for("sendMessage", where=lambda r: r.reply_to == message_id, after=mark)
        assert "Alert #1 set" in made.text
        await app.timer().tick()  # the first poll: the feed subscribes the new rule's ticker
        await streamer.wait_subscribed({"NVDA"})

        mark = api.mark()
        clock.set(OPEN + timedelta(minutes=1))
        await streamer.price("NVDA", 126.35, at=clock.now())
        alert = await api.wait_for("sendMessage", where=lambda r: r.chat_id == 42, after=mark)
        assert alert.text.split("\n")[:3] == ["📈 <b>NVDA rose above $126.00</b>", "Now $126.35, +6.75% today (previous close $118.36).",
                                              "Alert #1 for Alice: NVDA above $126.00."]
        assert "2025-01-28 10:01 ET" in alert.text  # the tick's own time
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await app.close()
        await api.stop()


async def test_the_cooldown_survives_a_restart(tmp_path: Path, calendar: MarketCalendar) -> None:
    async def start(clock: ReplayClock) -> App:
        config = replace(Config(alerts=AlertsConfig(rearm_cooldown_minutes=30)), bot=replace(Config().bot, admins=frozenset({ANALYST.key})))
        app = await App.create(config, clock=clock, market=CsvMarket(DEMO_DATA, clock=clock, calendar=calendar), calendar=calendar,
                               storage_path=tmp_path / "bot.sqlite3", features=())
        app.add_adapter(Captured())
        return app

    clock = ReplayClock(OPEN)
    app = await start(clock)
    await app.router.handle_text("/alert NVDA above 124.5", chat=CHAT, user=ALICE, is_chat_manager=True)
    await app.router.handle_text("/alert NVDA below 123", chat=CHAT, user=ALICE, is_chat_manager=True)
    base = (await app.market.quotes(["NVDA"]))["NVDA"]  # 124.04
    summary = await app.price_check.check_quotes({"NVDA": replace(base, price=124.8, at=clock.now())}, now=clock.now())
    assert summary.fired == ["price_above"]
    await app.close()

    clock.set(OPEN + timedelta(minutes=10))  # a restart ten minutes later
    app = await start(clock)
    assert app.rules.cooldown.last_alert(1) == OPEN and app.rules.cooldown.last_alert(2) is None
    base = (await app.market.quotes(["NVDA"]))["NVDA"]
    for minute, price in ((11, 122.0), (12, 125.0)):  # re-armed through the band, crossed again: held
        clock.set(OPEN + timedelta(minutes=minute))
        summary = await app.price_check.check_quotes({"NVDA": replace(base, price=price, at=clock.now())}, now=clock.now())
        assert summary.fired == (["price_below"] if price < 123 else [])
    await app.close()


async def test_a_watched_tickers_sell_off_alerts_from_a_tick(make_world: Any, streamer: FakeStreamer) -> None:
    world = await make_world()
    assert "NVDA" in await world.say("/watch NVDA")
    await world.app.timer().tick()  # the poll seeds the drawdown's peak and subscribes
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 112.0, minutes=1)  # 5.4 % below yesterday's close of 118.36
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    alerts = await world.delivered()
    assert [(a.kind.value, a.price) for a in alerts] == [("selloff", 112.0)]


async def test_metrics_count_ticks_and_say_whether_streaming(make_world: Any, streamer: FakeStreamer) -> None:
    from prometheus_client import generate_latest

    world = await make_world()
    monitor = world.app.monitor(host="127.0.0.1", port=0)
    await world.say("/alert NVDA above 130")
    world.feed.follow()
    await streamer.wait_subscribed({"NVDA"})
    await world.tick("NVDA", 125.0, minutes=1)
    await world.until(lambda: "NVDA" in world.feed.market.streamed)
    text = generate_latest(monitor.registry).decode()
    assert "tickerbell_ticks_total 1.0" in text and "tickerbell_quotes_streaming 1.0" in text
    await streamer.drop(clean=False)
    await streamer.stop()
    await world.until(lambda: world.feed.mode == POLLING)
    assert "tickerbell_quotes_streaming 0.0" in generate_latest(monitor.registry).decode()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TICKERBELL_MARKET__STREAM_URL": "http://example.com"}, "[market] stream_url: expected a ws:// or wss:// URL, got 'http://example.com'"),
        ({"TICKERBELL_MARKET__TICK_SECONDS": "0"}, "[market] tick_seconds: expected a number of seconds from 0.1 to 60, got 0.0"),
        ({"TICKERBELL_MARKET__STREAM": "maybe"}, "[market] stream: expected true or false, got 'maybe'"),
        ({"TICKERBELL_ALERTS__REARM_COOLDOWN_MINUTES": "-5"}, "[alerts] rearm_cooldown_minutes: expected a number of minutes from 0 to 1440, got -5.0"),
    ],
)
def test_stream_settings_are_checked_at_start_up(environ: dict[str, str], expected: str) -> None:
    from bot.config import ConfigError, load_config

    with pytest.raises(ConfigError) as problem:
        load_config(None, environ=environ)
    assert str(problem.value) == f"environment {next(iter(environ))}: {expected}"


def test_stream_settings_default_to_streaming_with_a_cooldown() -> None:
    from bot.config import load_config

    config = load_config(None, environ={"TICKERBELL_MARKET__EXTENDED_HOURS": "true", "TICKERBELL_MARKET__TICK_SECONDS": "0.5"})
    assert (config.market.stream, config.market.stream_url, config.market.tick_seconds, config.market.extended_hours) == (
        True, "wss://streamer.finance.yahoo.com/?version=2", 0.5, True)
    assert config.alerts.rearm_cooldown_minutes == 30
