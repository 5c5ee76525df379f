"""Commands driven like a chat: good input, and a table of bad input with the reply each gets."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.commands import Access
from bot.core.models import ChatKind, ChatRef
from tests.conftest import ALICE, ANALYST, BOB, CHAT, DEMO_DATA, Harness, ny

SESSION = date(2025, 1, 24)


@pytest.fixture
async def chat(make_harness) -> Harness:
    return await make_harness(DEMO_DATA, ny(SESSION, 17))


@pytest.fixture
async def full_chat(make_harness) -> Harness:
    """With every feature loaded (primers, earnings), as the live bot runs."""
    return await make_harness(DEMO_DATA, ny(SESSION, 17), features=None)


BAD_INPUT = [
    # (command line, who, a phrase the reply must contain)
    ("/nope", ALICE, "Unknown command /nope. Try /help"),
    ("/help nope", ALICE, "There is no /nope command"),
    ("/price", ALICE, "Ticker is missing. Usage: /price TICKER"),
    ("/price XYZZ", ALICE, "Unknown ticker XYZZ"),
    ("/price NV DA", ALICE, "Unknown tickers NV, DA"),
    ("/price NVDA A B C D E F G H I J", ALICE, "/price takes at most 10 tickers at once; that was 11"),
    ("/price NVDA AVGO ;DROP", ALICE, "is not a ticker"),
    ("/price NVDA;DROP", ALICE, "is not a ticker"),
    ("/price ABCDEFGHIJKLM", ALICE, "at most 12 characters"),
    ("/price <b>x</b>", ALICE, "is not a ticker"),
    ("/alert", ALICE, "Ticker is missing. Usage: /alert TICKER above|below|move|drawdown|rsi VALUE [OPTIONS]"),
    ("/alert NVDA", ALICE, "Condition is missing"),
    ("/alert NVDA sideways 10", ALICE, "Condition must be one of above, below, move, drawdown, rsi, not 'sideways'"),
    ("/alert NVDA below", ALICE, "Value is missing"),
    ("/alert NVDA below abc", ALICE, "Value must be a number like 120 or 7.5, not 'abc'"),
    ("/alert NVDA below nan", ALICE, "Value must be a number"),
    ("/alert NVDA below 1e400", ALICE, "Value must be a number"),
    ("/alert NVDA below -5", ALICE, "The price must be above 0"),
    ("/alert NVDA below 0", ALICE, "The price must be above 0"),
    ("/alert NVDA above 120 up", ALICE, "up/down/either only goes with move, as in /alert NVDA move 10 down."),
    ("/alrt NVDA below 120", ALICE, "Unknown command /alrt. Did you mean /alert? Try /help"),
    ("/alert NVDA abov 150", ALICE, "Condition must be one of above, below, move, drawdown, rsi, not 'abov'. Did you mean above?"),
    ("/alert NVDA move 10 dwn", ALICE, "'dwn' is not an alert option. Did you mean down?"),
    ("/alert NVDA move 60", ALICE, "A daily move of 60% looks impossible for a listed stock (more than 50% in a day)"),
    ("/alert NVDA drawdown 97", ALICE, "A drawdown of 97% from the peak looks impossible (more than 95%"),
    ("/alert NVDA move 0", ALICE, "The move must be a percent above 0"),
    ("/alert NVDA move 5000", ALICE, "The move must be a percent above 0"),
    ("/alert NVDA move 10 sideways", ALICE, "'sideways' is not an alert option. Use up/down/either (for move), once or every"),
    ("/alert NVDA drawdown 100", ALICE, "The drawdown must be a percent between 0 and 100"),
    ("/alert XYZZ below 10", ALICE, "Unknown ticker XYZZ"),
    ("/alert NVDA below 120 extra words", ALICE, "'extra' is not an alert option"),
    ("/alert NVDA move 10 up and more", ALICE, "'and' is not an alert option"),
    ("/alert NVDA below 120 until 2020-01-01", ALICE, "2020-01-01 has passed"),
    ("/alert NVDA below 120 for 5y", ALICE, "'for' needs a length like 5d, 2w or 3m, not '5y'. Usage: /alert"),
    ("/alert NVDA below 120 once every", ALICE, "Say once or every, not both."),
    ("/unalert", ALICE, "Id is missing. Usage: /unalert ID"),
    ("/unalert abc", ALICE, "Id must be a whole number, not 'abc'"),
    ("/unalert 999", ALICE, "You have no alert #999"),
    ("/snooze 999", ALICE, "You have no alert #999"),
    ("/snooze x", ALICE, "Id must be a whole number"),
    ("/watch", ALICE, "Ticker is missing. Usage: /watch TICKER"),
    ("/watch XYZZ", ALICE, "Unknown ticker XYZZ"),
    ("/unwatch NVDA", ALICE, "This chat does not follow NVDA"),
    ("/levels ???", ALICE, "is not a ticker"),
    ("/setlevel NVDA entry 120", ALICE, "/setlevel is for the bot's admins"),
    ("/setlevel NVDA", ANALYST, "Level is missing"),
    ("/setlevel NVDA middle 120", ANALYST, "Level must be one of entry, exit, stop, not 'middle'"),
    ("/setlevel NVDA entry -1", ANALYST, "The price must be above 0"),
    ("/setlevel XYZZ entry 10", ANALYST, "Unknown ticker XYZZ"),
    ("/clearlevel NVDA", ALICE, "/clearlevel is for the bot's admins"),
    ("/clearlevel ^SOX exit", ANALYST, "^SOX has no exit level"),
    ("/clearlevel NVDA sometimes", ANALYST, "Level must be one of entry, exit, stop"),
    ("/dm maybe", ALICE, "Choice must be one of on, off, not 'maybe'"),
    ("/dm on off", ALICE, "Unexpected extra input 'off'"),
    # the feature commands (primers and earnings)
    ("/primer", ALICE, "Ticker is missing. Usage: /primer TICKER"),
    ("/primer XYZZ", ALICE, "Unknown ticker XYZZ"),
    ("/primer NVDA extra", ALICE, "Unexpected extra input 'extra'"),
    ("/earnings ???", ALICE, "'???' is not a ticker"),
    ("/earnings XYZZ", ALICE, "Unknown ticker XYZZ"),
    ("/subscribe", ALICE, "Ticker is missing. Usage: /subscribe TICKER [DAYS]"),
    ("/subscribe MSFT 99", ALICE, "Remind 0 to 10 trading days before"),
    ("/subscribe MSFT soon", ALICE, "Days must be a whole number, not 'soon'"),
    ("/unsubscribe", ALICE, "Ticker is missing. Usage: /unsubscribe TICKER"),
    ("/unsubscribe MSFT", ALICE, "This chat is not subscribed to MSFT's earnings"),
    ("/subscriptions extra", ALICE, "Unexpected extra input 'extra'"),
    ("/status", ALICE, "/status is for the bot's admins"),
    ("/status now", ANALYST, "Unexpected extra input 'now'. Usage: /status"),
    ("/setearnings MSFT 2025-02-03", ALICE, "/setearnings is for the bot's admins"),
    ("/setearnings MSFT", ANALYST, "Date is missing. Usage: /setearnings TICKER DATE [bmo|amc]"),
    ("/setearnings MSFT 2025-13-40", ANALYST, "Date must be a date like 2025-01-29, not '2025-13-40'"),
    ("/setearnings MSFT 2025-02-03 noon", ANALYST, "Time must be one of bmo, amc, not 'noon'"),
    ("/setearnings MSFT 2020-01-01", ANALYST, "2020-01-01 has passed: set the upcoming report, like /setearnings MSFT 2025-02-21 amc"),
    ("/setearnings MSFT 2025-02-01 amc", ANALYST, "The market is closed on Sat 2025-02-01"),
    ("/setearnings XYZZ 2025-02-03", ANALYST, "Unknown ticker XYZZ"),
    ("/setlevel NVDA exit pe lots", ANALYST, "Multiple must be a number"),
    ("/setlevel NVDA exit", ANALYST, "Price is missing"),
    ("/basket Bad!", ALICE, "'Bad!' is not a basket name: use up to 20 lower-case letters, digits and '-'"),
    ("/basket nope", ALICE, "There is no basket nope. /basket lists them."),
    ("/setbasket ai NVDA AVGO", ALICE, "/setbasket is for the bot's admins"),
    ("/setbasket ai", ANALYST, "Tickers is missing. Usage: /setbasket NAME TICKERS"),
    ("/setbasket ai NVDA", ANALYST, "A basket holds 2 to 20 different tickers"),
    ("/setbasket ai NVDA NVDA", ANALYST, "A basket holds 2 to 20 different tickers"),
    ("/setbasket ai NVDA XYZZ QQQQ", ANALYST, "Unknown tickers XYZZ, QQQQ"),
    ("/setbasket ai NVDA ^^bad!", ANALYST, "is not a ticker"),
    ("/setbasket this-name-is-far-too-long NVDA AVGO", ANALYST, "Name is too long (25 characters; at most 20)"),
    ("/clearbasket nope", ANALYST, "There is no basket nope"),
    ("/watchbasket", ALICE, "Name is missing. Usage: /watchbasket NAME"),
    ("/watchbasket nope", ALICE, "There is no basket nope"),
    ("/unwatchbasket nope", ALICE, "This chat does not follow the basket nope"),
    ("/setlevel NVDA exit ps 10", ANALYST, "The price must be a number like 120, or pe 45 / fpe 40"),
    ("/settings", BOB, "Settings for this chat"),
    ("/settings loud on", ALICE, "Setting must be one of levels, selloffs"),
    ("/settings selofs off", ALICE, "not 'selofs'. Did you mean selloffs?"),
    ("/settings selloffs maybe", ALICE, "Say on, silent or off, like /settings selloffs silent."),
    ("/settings quiet 22:00", ALICE, "Quiet hours are a range like 22:00-07:00"),
    ("/settings quiet 25:00-07:00", ALICE, "The start must be a time like 08:30 (24-hour, exchange time), not '25:00'"),
    ("/settings quiet 07:00-07:00", ALICE, "Quiet hours need a start and an end that differ"),
    ("/settings watch 7", ALICE, "Give the sell-off and the drawdown percentages, like /settings watch 7 25"),
    ("/settings watch 70 25", ALICE, "The sell-off percentage must be above 0 and at most 50%"),
    ("/settings watch 7 99", ALICE, "The drawdown percentage must be above 0 and at most 95%"),
    ("/settings watch x 25", ALICE, "The sell-off percentage must be a number"),
    ("/digest maybe", ALICE, "Choice must be one of on, off, not 'maybe'"),
    ("/digest on 25:00", ALICE, "The brief's time must be a time like 08:30"),
    ("/digest on 12:00", ALICE, "The brief goes before the open: pick a time from 06:00 to 09:15"),
    ("/digest", ALICE, "Digests for this chat are off."),
    ("/cashtags maybe", ALICE, "Choice must be one of on, off, not 'maybe'"),
    ("/history NVDA;1", ALICE, "is not a ticker"),
    ("/chart NVDA 3w", ALICE, "Period must be one of 1d, 5d, 1m, 6m, 1y, 5y, not '3w'"),
    ("/setcatalyst NVDA 2025-01-28 GTC", ALICE, "/setcatalyst is for the bot's admins"),
    ("/setcatalyst NVDA 28.01.2025 GTC", ANALYST, "Date must be a date like 2025-01-29"),
    ("/setcatalyst NVDA 2025-01-28", ANALYST, "Name is missing"),
    ("/catalysts NV;DA", ALICE, "is not a ticker"),
    ("/clearcatalyst NVDA", ANALYST, "NVDA has no catalyst"),
    ("/export xml", ANALYST, "Format must be one of csv, json, not 'xml'"),
    ("/import", ANALYST, "Nothing to import: send a CSV file with /import as its caption"),
    ("/import NVDA middle 120", ANALYST, "Nothing was imported: Entry 1 (NVDA middle 120): the level must be entry, exit or stop"),
]


@pytest.mark.parametrize(("line", "user", "expected"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
async def test_bad_input_gets_a_reply_that_names_the_problem(full_chat: Harness, line: str, user, expected: str) -> None:
    rules_before = await full_chat.app.storage.rules.all()
    reply = await full_chat.say(line, user=user)
    assert expected in reply
    assert "Traceback" not in reply
    assert await full_chat.app.storage.rules.all() == rules_before  # nothing half-written


async def test_every_command_in_the_table_is_covered_by_the_bad_input_table(full_chat: Harness) -> None:
    covered = {line.split()[0].lstrip("/") for line, _, _ in BAD_INPUT}
    table = set(full_chat.app.router.commands.names())
    missing = table - covered - {"alerts", "watchlist"}  # these take no arguments: nothing to get wrong
    assert missing == set()


async def test_huge_and_hostile_text_is_refused_cleanly(chat: Harness) -> None:
    huge = await chat.say("/alert NVDA below 120 " + "x" * 10_000)
    assert "too much input" in huge or "too long" in huge
    control = await chat.say("/price \x00\x1b[31mNVDA")
    assert "is not a ticker" in control and "\x1b" not in control
    assert await chat.say("just chatting, not a command") == ""


async def test_a_crash_inside_a_handler_becomes_an_apology(chat: Harness, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*_: object) -> list[object]:
        raise RuntimeError("provider exploded")

    chat.app.context.market.quotes = broken  # type: ignore[method-assign]
    reply = await chat.say("/price NVDA")
    assert "Sorry, something went wrong on our side" in reply
    assert "provider exploded" not in reply and "Traceback" not in reply
    assert "provider exploded" in caplog.text  # logged with its traceback


async def test_alerts_belong_to_their_owner(chat: Harness) -> None:
    created = await chat.say("/alert NVDA below 120", user=ALICE)
    assert "Alert #1 set: NVDA below $120.00" in created
    assert "You have no alert #1" in await chat.say("/unalert 1", user=BOB)
    assert "You have no alerts." in await chat.say("/alerts", user=BOB)
    assert "#1 NVDA below $120.00 · armed" in await chat.say("/alerts", user=ALICE)
    assert "Removed alert #1" in await chat.say("/unalert 1", user=ALICE)
    assert await chat.app.storage.rules.all() == []


async def test_an_alert_the_member_already_has_is_refused_with_its_id(chat: Harness) -> None:
    assert "Alert #1 set" in await chat.say("/alert NVDA below 120", user=ALICE)
    assert "Alert #2 set" in await chat.say("/alert NVDA move 10 down", user=ALICE)
    assert "You already have that alert: #1 NVDA below $120.00. /alerts lists yours; /unalert 1 removes it." in await chat.say("/alert nvda below $120", user=ALICE)
    assert "You already have that alert: #2" in await chat.say("/alert NVDA move -10", user=ALICE)
    assert "Alert #3 set" in await chat.say("/alert NVDA move 10 up", user=ALICE)  # another direction: another alert
    assert "Alert #4 set" in await chat.say("/alert NVDA below 120", user=BOB)  # another member's own


async def test_a_condition_that_already_holds_is_said_and_waits(chat: Harness) -> None:
    reply = await chat.say("/alert NVDA above 100")
    assert "NVDA is already above $100.00 ($142.60), so this alert waits for the next crossing." in reply
    [rule] = await chat.app.storage.rules.all()
    assert rule.armed is False


async def test_prices_are_parsed_the_way_people_type_them(chat: Harness) -> None:
    assert "NVDA below $1,200.50" in await chat.say("/alert nvda below $1,200.50")
    assert "NVDA moves down 7.5% in a day" in await chat.say("/alert NVDA move -7.5%")
    assert "^SOX" in await chat.say("/price ^sox")


async def test_watch_needs_a_chat_manager_in_groups(chat: Harness) -> None:
    refused = await chat.say("/watch NVDA", user=BOB, manager=False)
    assert "only a chat admin can do that here" in refused
    assert "This chat now follows NVDA." in await chat.say("/watch NVDA", user=BOB, manager=True)
    assert "This chat already follows NVDA." in await chat.say("/watch NVDA", user=ANALYST, manager=False)  # admins may
    assert "NVDA: $142.60" in await chat.say("/watchlist")
    assert "no longer follows NVDA" in await chat.say("/unwatch NVDA")


async def test_an_empty_admin_list_admits_nobody(make_harness) -> None:
    from bot.config import Config
    from bot.core.settings import Settings

    harness = await make_harness(DEMO_DATA, ny(SESSION, 17), config=Config())
    harness.app.context.settings = Settings()  # no admins at all
    assert "is for the bot's admins" in await harness.say("/setlevel NVDA entry 120", user=ANALYST)


async def test_levels_and_help(chat: Harness) -> None:
    set_reply = await chat.say("/setlevel avgo exit 140 take profits into strength", user=ANALYST)
    assert "AVGO exit level set at $140.00" in set_reply
    levels = await chat.say("/levels")
    assert "AVGO exit: $140.00" in levels and "take profits into strength" in levels
    assert "Cleared exit for AVGO" in await chat.say("/clearlevel AVGO", user=ANALYST)
    help_text = await chat.say("/help")
    assert "/alert TICKER" in help_text and "/setlevel" not in help_text  # admin commands hidden from members
    assert "/setlevel" in await chat.say("/help", user=ANALYST)
    assert "/alert NVDA below 120" in await chat.say("/help alert")


async def test_admin_commands_are_marked_in_the_table(chat: Harness) -> None:
    table = chat.app.router.commands
    assert table.get("setlevel").access is Access.ADMIN
    assert table.get("watch").access is Access.CHAT_MANAGER
    assert all(len(c.summary) <= 100 for c in table)


async def test_private_replies_for_personal_lists(chat: Harness) -> None:
    dm = ChatRef("console", "dm-alice", ChatKind.PRIVATE)
    replies = await chat.app.router.handle_text("/alerts", chat=dm, user=ALICE)
    assert replies[0].private is True


def test_a_command_line_splits_on_any_whitespace() -> None:
    from bot.core.commands import split_command_line

    assert split_command_line("/price\nNVDA") == ("price", ["NVDA"])
    assert split_command_line("/Alert@tickerbell_bot  NVDA\tbelow 120") == ("alert", ["NVDA", "below", "120"])
    assert split_command_line("/") == ("", [])
    assert split_command_line("hello /price") == ("", [])


async def test_a_chat_that_blocked_the_bot_is_active_again_when_it_speaks(chat: Harness) -> None:
    chats = chat.app.chats
    await chats.gone(CHAT, "blocked")
    assert not await chats.reachable(CHAT)
    assert not await chat.app.storage.chats.is_active(CHAT)
    await chat.say("/help")
    assert await chats.reachable(CHAT)
    assert await chat.app.storage.chats.is_active(CHAT)  # stored, so it holds across a restart


async def test_dm_preference_is_per_member(chat: Harness) -> None:
    assert "Your alerts come in the chat where you set each one." in await chat.say("/dm", user=ALICE)
    assert "Your alerts now come by direct message." in await chat.say("/dm on", user=ALICE)
    assert await chat.app.storage.prefs.wants_direct(ALICE)
    assert not await chat.app.storage.prefs.wants_direct(BOB)
    assert "Your alerts now come in the chat where you set each one." in await chat.say("/dm off", user=ALICE)
    assert not await chat.app.storage.prefs.wants_direct(ALICE)


async def test_snooze_for_zero_days_is_refused(chat: Harness) -> None:
    await chat.say("/alert NVDA below 120")
    assert "Snooze for 1 to 30 days" in await chat.say("/snooze 1 0")
