"""The price check as one piece: stale quotes, provider failures, fan-out, and restarts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.core.market import MarketDataError
from bot.core.models import ChatKind, ChatRef
from tests.conftest import ALICE, ANALYST, BOB, CHAT, DEMO_DATA, ny

OTHER_CHAT = ChatRef("console", "chat-2", ChatKind.GROUP)
FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)


def ended_early(tmp_path: Path) -> Path:
    """A copy of the demo's NVDA that stops on Friday 2025-01-24."""
    lines = (DEMO_DATA / "NVDA.csv").read_text().splitlines()
    kept = [line for line in lines if line.startswith("Date") or line[:10] <= "2025-01-24"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "NVDA.csv").write_text("\n".join(kept) + "\n")
    return tmp_path


async def test_a_quote_from_an_earlier_session_never_alerts(make_harness, tmp_path: Path) -> None:
    chat = await make_harness(ended_early(tmp_path / "data"), ny(FRIDAY, 17))
    await chat.say("/alert NVDA move 0.1")
    await chat.say("/alert NVDA below 1000")  # holds already: waits for a crossing
    await chat.at(ny(FRIDAY, 17, 30))
    alerts = await chat.at(ny(MONDAY, 10))
    summary = await chat.app.price_check.run_once()
    assert alerts == []
    assert summary.stale == ["NVDA"] and summary.checked == 0


async def test_a_provider_failure_skips_the_check_without_false_alerts(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await chat.say("/alert NVDA move 10")
    market = chat.app.price_check.market

    async def down(tickers: list[str]) -> dict[str, object]:
        raise MarketDataError("timed out")

    real_quotes = market.quotes
    market.quotes = down  # type: ignore[method-assign]
    summary = await chat.app.price_check.run_once()
    assert summary.error == "timed out" and summary.checked == 0
    market.quotes = real_quotes  # type: ignore[method-assign]
    alerts = await chat.at(ny(MONDAY, 16, 5))
    assert [(a.ticker, a.kind.value) for _, a in alerts] == [("NVDA", "daily_move")]  # caught on the next check


async def test_the_analysts_levels_reach_every_watching_chat_and_personal_alerts_only_theirs(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await chat.say("/setlevel NVDA entry 125", user=ANALYST)
    await chat.say("/watch NVDA", chat=CHAT)
    await chat.say("/watch NVDA", chat=OTHER_CHAT)
    await chat.say("/alert NVDA below 120", user=BOB, chat=OTHER_CHAT)
    await chat.at(ny(FRIDAY, 17, 30))
    alerts = await chat.at(ny(MONDAY, 16, 5))
    level = sorted(c.chat_id for c, a in alerts if a.kind.value == "analyst_level")
    personal = [(c.chat_id, a.mention.user_id) for c, a in alerts if a.kind.value == "price_below"]
    assert level == ["chat-1", "chat-2"]
    assert personal == [("chat-2", "bob")]


async def test_a_restart_neither_repeats_nor_loses_an_alert(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    first = await make_harness(DEMO_DATA, ny(FRIDAY, 17), db=db)
    await first.say("/alert CRDO move 10")
    await first.say("/alert NVDA below 120")
    await first.at(ny(FRIDAY, 17, 30))
    opened = await first.at(ny(MONDAY, 9, 31))
    assert [a.ticker for _, a in opened] == ["CRDO"]  # CRDO opened 22 % down; NVDA opened at 125.63
    await first.app.close()

    second = await make_harness(DEMO_DATA, ny(MONDAY, 9, 45), db=db)
    closed = await second.at(ny(MONDAY, 16, 5))
    assert [a.ticker for _, a in closed] == ["NVDA"]  # NVDA closed at 118.36; CRDO's move is not repeated


async def test_snooze_quiets_an_alert_for_24_hours_a_day(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await chat.say("/alert NVDA below 130", user=ALICE)
    await chat.at(ny(FRIDAY, 17, 30))
    chat.clock.set(ny(MONDAY, 9, 0))
    snoozed = await chat.say("/snooze 1", user=ALICE)
    assert "snoozed for 1 day" in snoozed
    assert "NVDA below $130.00 is quiet until 2025-01-28 09:00 ET." in snoozed  # market time, like everything else
    assert "You have no alert #1" in await chat.say("/snooze 1", user=BOB)
    assert await chat.at(ny(MONDAY, 16, 5)) == []  # crossed while snoozed: quiet
    assert "snoozed until 2025-01-28 09:00 ET" in await chat.say("/alerts", user=ALICE)
    assert await chat.at(ny(date(2025, 1, 28), 16, 5)) == []  # awake again, but the crossing was consumed
    assert "#1 NVDA below $130.00 · fired; re-arms when the price moves back" in await chat.say("/alerts", user=ALICE)


async def test_a_member_who_asked_for_dms_gets_personal_alerts_there_and_the_chat_keeps_its_own(make_harness) -> None:
    from bot.core.models import direct_chat

    chat = await make_harness(DEMO_DATA, ny(FRIDAY, 17))
    await chat.say("/watch NVDA")
    await chat.say("/dm on", user=BOB)
    await chat.say("/alert NVDA move 10", user=BOB)
    await chat.at(ny(FRIDAY, 17, 30))
    alerts = await chat.at(ny(MONDAY, 16, 5))
    where = {(a.kind.value, c.chat_id) for c, a in alerts}
    assert ("daily_move", direct_chat(BOB).chat_id) in where  # "user:bob"
    assert ("selloff", CHAT.chat_id) in where  # the chat's own watch still posts in the chat
    assert not any(c == CHAT and a.kind.value == "daily_move" for c, a in alerts)


SPLIT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "prices" / "nvda-split-2024" / "adjusted"
BEFORE_SPLIT, SPLIT_DAY, AFTER_SPLIT = date(2024, 6, 7), date(2024, 6, 10), date(2024, 6, 11)


def split_data() -> Path:
    if not (SPLIT_DATA / "NVDA.csv").is_file():
        import pytest

        pytest.skip(f"NVDA split data not found at {SPLIT_DATA}")
    return SPLIT_DATA


async def split_desk(make_harness):
    """NVDA at 1208.88 on Friday 2024-06-07 with a level, a price alert and a drawdown alert;
    the 10-for-1 split takes effect on Monday 2024-06-10."""
    desk = await make_harness(split_data(), ny(BEFORE_SPLIT, 15))
    await desk.say("/alert NVDA below 1100")
    await desk.say("/alert NVDA drawdown 30")
    await desk.say("/watch NVDA")
    await desk.at(ny(BEFORE_SPLIT, 16, 5))
    return desk


async def test_when_the_split_list_cannot_be_read_the_ticker_waits_instead_of_alerting(make_harness) -> None:
    desk = await split_desk(make_harness)
    market = desk.app.price_check.market
    listed = market.splits

    async def unreadable(ticker: str) -> list[object]:
        raise MarketDataError("timed out")

    market.splits = unreadable  # type: ignore[method-assign]
    assert await desk.at(ny(SPLIT_DAY, 10)) == []  # 1208.88 -> 121.79 would cross "below 1100" and a 90 % drawdown
    summary = await desk.app.price_check.run_once()
    assert summary.suspect == ["NVDA"] and summary.checked == 0
    market.splits = listed  # type: ignore[method-assign]
    alerts = await desk.at(ny(SPLIT_DAY, 16, 5))
    assert [a.kind.value for _, a in alerts] == ["split"]  # applied now: levels rescaled, no false alert
    [rule] = [r for r in await desk.app.storage.rules.all() if r.kind.value == "below"]
    assert round(rule.threshold, 6) == 110.0


async def test_a_jump_no_split_explains_becomes_a_baseline_without_alerts(make_harness) -> None:
    desk = await split_desk(make_harness)

    async def none_listed(ticker: str) -> list[object]:
        return []

    desk.app.price_check.market.splits = none_listed  # type: ignore[method-assign]
    assert await desk.at(ny(SPLIT_DAY, 10)) == []
    assert await desk.at(ny(SPLIT_DAY, 16, 5)) == []  # checked normally from the new baseline
    state = desk.app.rules.state("NVDA")
    assert state is not None and state.peak is not None and state.peak < 200  # the peak was measured again, in the new scale


async def test_the_morning_sweep_applies_a_split_before_the_open(make_harness) -> None:
    desk = await make_harness(split_data(), ny(BEFORE_SPLIT, 15), features=None)
    await desk.say("/alert NVDA below 1100")
    await desk.at(ny(BEFORE_SPLIT, 16, 5))
    calls: list[str] = []
    listed = desk.app.price_check.market.splits

    async def counted(ticker: str):  # type: ignore[no-untyped-def]
        calls.append(ticker)
        return await listed(ticker)

    desk.app.price_check.market.splits = counted  # type: ignore[method-assign]
    desk.clock.set(ny(SPLIT_DAY, 7, 30))
    await desk.app.run_daily_jobs(SPLIT_DAY)
    assert calls == ["NVDA"]
    [rule] = [r for r in await desk.app.storage.rules.all() if r.kind.value == "below"]
    assert round(rule.threshold, 6) == 110.0
    delivered = await desk.at(ny(SPLIT_DAY, 10))
    assert [a.kind.value for _, a in delivered] == ["split"]  # the sweep's notice; no false alert
    assert calls == ["NVDA"]  # the checks did not ask again


def test_the_jump_guard_catches_a_five_for_four_split_but_not_a_days_noise() -> None:
    from jobs.splits import unexplained_jump

    assert unexplained_jump(100.0, 80.0)  # a 5-for-4 split nobody told us about
    assert unexplained_jump(1208.88, 120.888)
    assert not unexplained_jump(100.0, 96.0)  # the close we saw vs the provider's: a few percent at most
    assert not unexplained_jump(None, 96.0)


async def test_an_alert_set_on_a_weekend_for_a_ticker_never_checked_fires_on_monday(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(date(2025, 1, 25), 12))  # Saturday
    await chat.say("/alert NVDA below 130")
    alerts = await chat.at(ny(MONDAY, 10))
    assert [(a.ticker, a.kind.value) for _, a in alerts] == [("NVDA", "price_below")]


async def test_a_move_alert_set_mid_session_after_the_move_stays_quiet_that_session(make_harness) -> None:
    chat = await make_harness(DEMO_DATA, ny(MONDAY, 10))  # NVDA opened 11.9 % down; never checked before
    reply = await chat.say("/alert NVDA move 10 down")
    assert "has already moved −11.90% in the session of 2025-01-27" in reply
    assert await chat.at(ny(MONDAY, 10, 5)) == []
    assert await chat.at(ny(MONDAY, 16, 5)) == []  # -17 % at the close: still the same session
    assert [a.kind.value for _, a in await chat.at(ny(date(2025, 1, 28), 16, 5))] == []  # +8 %: not down
    assert "armed" in await chat.say("/alerts")


async def test_quiet_for_the_session_survives_a_restart(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    first = await make_harness(DEMO_DATA, ny(MONDAY, 10), db=db)
    await first.say("/alert NVDA move 10 down")
    await first.app.close()
    second = await make_harness(DEMO_DATA, ny(MONDAY, 10, 30), db=db)
    assert await second.at(ny(MONDAY, 16, 5)) == []


async def test_a_failed_write_does_not_lose_the_split_guard(make_harness) -> None:
    desk = await split_desk(make_harness)

    async def none_listed(ticker: str) -> list[object]:
        return []

    desk.app.price_check.market.splits = none_listed  # type: ignore[method-assign]
    store = desk.app.storage.checks
    real = store.record_check
    calls = 0

    async def failing_once(**kw):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return await real(**kw)

    store.record_check = failing_once  # type: ignore[method-assign]
    import pytest

    with pytest.raises(OSError):
        await desk.at(ny(SPLIT_DAY, 10))  # the check's write fails: the engine reloads from storage
    assert await desk.at(ny(SPLIT_DAY, 10, 30)) == []  # guarded again: no false alert across the split


async def test_a_ticker_with_state_but_no_rules_at_start_keeps_the_split_guard(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    first = await make_harness(split_data(), ny(BEFORE_SPLIT, 15), db=db)
    await first.say("/alert NVDA below 1100")
    await first.at(ny(BEFORE_SPLIT, 16, 5))
    await first.say("/unalert 1")
    await first.app.close()
    second = await make_harness(split_data(), ny(date(2024, 6, 11), 9, 0), db=db)
    await second.say("/watch NVDA")
    alerts = await second.at(ny(date(2024, 6, 11), 10))
    assert all(a.kind.value == "split" for _, a in alerts)  # no drawdown from the pre-split peak


async def test_a_new_baseline_after_a_restart_still_starts_the_session(make_harness, tmp_path: Path) -> None:
    db = tmp_path / "weekend.sqlite3"
    first = await make_harness(DEMO_DATA, ny(date(2025, 1, 25), 12), db=db)  # Saturday; Friday was -1.74 %
    assert "has already moved" in await first.say("/alert NVDA move 1.5 down")  # waits for Monday
    await first.app.close()  # restart before any check: no ticker state was stored
    second = await make_harness(DEMO_DATA, ny(MONDAY, 9, 45), db=db)
    await second.say("/alert NVDA below 50", user=BOB)  # the ticker's baseline comes from Monday's open
    alerts = await second.at(ny(MONDAY, 10))
    assert [(a.kind.value, a.mention.user_id) for _, a in alerts] == [("daily_move", "alice")]


async def test_a_split_on_a_ticker_never_checked_keeps_its_baseline(make_harness) -> None:
    desk = await make_harness(split_data(), ny(BEFORE_SPLIT, 16, 30))  # 1208.88, no check yet
    await desk.say("/alert NVDA below 1205")  # armed; 120.50 after the split
    alerts = await desk.at(ny(SPLIT_DAY, 10))  # opens at 120.37
    assert sorted(a.kind.value for _, a in alerts) == ["price_below", "split"]
