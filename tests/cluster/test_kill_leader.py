"""Three real `tickerbell run` processes on one PostgreSQL database, against the fake Telegram:
a check fires hundreds of alerts to dozens of chats (each chat's alerts of one check in one grouped
message, as members see them), and the leader (the process holding the
market-timer lease) is killed with SIGKILL at random moments, mid-delivery, 20 times; each time
a new process is started in its place. Rules are added in waves meanwhile (other processes hear
of them), so that checks keep finding crossings across the takeovers.

What must hold, counted on the alerts inside the messages: no alert lost; each alert repeated at
most once per crash, and only those of the messages the dead process had in flight (accepted by the
platform, not yet recorded; at most one per chat it served); every chat's alerts in the order they
were queued; no crossing fired twice by two leaders. The takeover time is printed."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bot.core.models import ChatKind, ChatRef, Rule, RuleKind, RuleSource, TickerState, UserRef
from storage.postgres import PostgresStorage
from storage.postgres.cluster import RULES_CHANNEL, announce
from tests.cluster.parts import (
    TOKEN,
    SlowBotApi,
    alerts_queued,
    cluster_config,
    flat_prices,
    fresh_database,
    leader_pid,
    queued_alerts,
    start_tickerbell,
)

POLL_SECONDS = 15  # [market] poll_seconds in the processes' config (the lease is asked every 0.2 s)
CHATS = 30
FIRST_WAVE = 300  # alerts fired by the first check: 10 to each chat, in one message each
WAVES = 4  # later waves of 60 rules each, on tickers whose price has not been checked yet
WAVE = 60
KILLS = 20
PROCESSES = 3
MAX_CHATS = 16  # [cluster] max_chats (the default): chats one process serves at once
TICKERS = [f"TB{n}" for n in range(WAVES + 1)]
NOW = datetime.now(UTC)


def chat(n: int) -> ChatRef:
    return ChatRef("telegram", str(7000 + n % CHATS), ChatKind.PRIVATE)


def rule(ticker: str, n: int) -> Rule:
    """A member's alert below 105 on a ticker last seen at 110 and now at 100: the next check fires it."""
    member = UserRef("telegram", str(5000 + n % CHATS), "Member")
    return Rule(id=0, ticker=ticker, kind=RuleKind.BELOW, threshold=105.0, source=RuleSource.MEMBER, owner=member, chat=chat(n), armed=True)


async def add_rules(storage: PostgresStorage, ticker: str, count: int, start: int) -> list[int]:
    return [(await storage.rules.add(rule(ticker, start + n), now=NOW)).id for n in range(count)]


async def test_three_processes_survive_20_leader_kills_without_losing_repeating_or_reordering(tmp_path: Path) -> None:
    async with fresh_database("kill") as url:
        flat_prices(tmp_path / "prices", TICKERS)
        storage = await PostgresStorage.open(url)
        await storage.checks.record_check(states=[TickerState(t, last_price=110.0) for t in TICKERS], armed_changes={}, envelopes=[], now=NOW)
        expected = await add_rules(storage, TICKERS[0], FIRST_WAVE, 0)
        api = SlowBotApi(token=TOKEN, bot_rate=30, chat_rate=1.0)
        await api.start()
        config = cluster_config(tmp_path, url, api)
        watch = await asyncpg.connect(url)
        running: dict[int, asyncio.subprocess.Process] = {}
        logs = tmp_path / "logs"
        logs.mkdir()

        async def spawn() -> None:
            proc = await start_tickerbell(config, logs / f"p{len(list(logs.iterdir()))}.log")
            running[proc.pid] = proc

        async def pending() -> int:
            return int(await watch.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"))

        async def wait_for_leader(timeout: float = 30) -> int:
            deadline = time.monotonic() + timeout
            while (pid := await leader_pid(watch)) is None or pid not in running:
                assert time.monotonic() < deadline, "no process took the market-timer lease"
                await asyncio.sleep(0.01)
            return pid

        takeovers: list[float] = []
        in_flight_total = 0  # alerts in the messages in flight at the kills
        per_kill: list[int] = []  # messages in flight at each kill
        busy: list[int] = []  # deliveries pending at each kill
        grouped = 0  # grouped messages queued
        queued_order: dict[int, list[int]] = defaultdict(list)  # each chat's alerts in outbox order (a group's in its order)
        try:
            for _ in range(PROCESSES):
                await spawn()
            await wait_for_leader(60)
            async with asyncio.timeout(60):  # the first check queued the first wave
                while await alerts_queued(watch) < FIRST_WAVE:
                    await asyncio.sleep(0.02)
            wave = 1
            for kill in range(KILLS):
                if wave <= WAVES and (await pending() < 40 or kill % 5 == 4):  # keep deliveries under way
                    expected += await add_rules(storage, TICKERS[wave], WAVE, 1000 * wave)
                    await announce(storage.db, RULES_CHANNEL)
                    wave += 1
                await asyncio.sleep(random.uniform(0.05, 0.6))
                victim = await wait_for_leader()
                busy.append(await pending())
                os.kill(victim, signal.SIGKILL)
                await running.pop(victim).wait()
                killed_at = time.monotonic()
                await api.answered()  # a send the victim made just before it died is still accepted: counted in flight below
                # The dead process's claims stand for `claim_seconds`: nobody else sends to those
                # chats yet, so what it had in flight is exactly the messages the platform accepted
                # there and the outbox does not record as sent (a grouped one: all its alerts).
                claimed = await watch.fetch("SELECT platform, chat_id FROM outbox_claims WHERE owner LIKE $1", f"%:{victim}:%")
                sent_to = Counter(api.sends())
                flight = 0
                for row in claimed:
                    for _, chat_id, numbers in await queued_alerts(watch, "chat_id = $1 AND status = 'pending'", row["chat_id"]):
                        accepted = sum(1 for n in numbers if sent_to[(chat_id, n)] > 0)
                        flight += accepted > 0
                        in_flight_total += accepted
                per_kill.append(flight)
                await wait_for_leader()
                takeovers.append(time.monotonic() - killed_at)
                await spawn()
            assert wave > WAVES, "every wave was added"
            async with asyncio.timeout(90):
                while await pending() or await alerts_queued(watch) < len(expected):
                    await asyncio.sleep(0.05)
            for _, chat_id, numbers in await queued_alerts(watch):
                queued_order[chat_id].extend(numbers)
            grouped = int(await watch.fetchval("SELECT count(*) FROM outbox WHERE kind = 'group'"))
        except BaseException:
            for log in sorted(logs.iterdir()):
                print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
            raise
        finally:
            for proc in running.values():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in running.values():
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
            await watch.close()
            await storage.close()
            await api.stop()

        sends = api.sends()
        counts = Counter(n for _, n in sends)
        lost = set(expected) - set(counts)
        repeats = sum(c - 1 for c in counts.values() if c > 1)
        print(
            f"\n{len(expected)} alerts to {CHATS} chats ({grouped} grouped messages queued), {KILLS} leader kills: "
            f"{len(api.messages())} messages sent carrying {len(sends)} alerts, {repeats} alerts repeated "
            f"(in flight at the kills: {in_flight_total} alerts; messages per kill {per_kill}), {len(lost)} lost; "
            f"takeover after SIGKILL: median {statistics.median(takeovers) * 1000:.0f} ms, max {max(takeovers) * 1000:.0f} ms; "
            f"pending at the kills: {busy}; {api.flooded} answers 429; {api.throughput():.1f} sends/s"
        )
        assert all(busy), "every kill came mid-delivery"
        assert api.flooded == 0, f"{api.flood_log}: the shared limits kept every process under Telegram's limits"
        assert not lost
        assert set(counts) == set(expected), "nothing but the rules' alerts was sent (no crossing fired twice under new numbers)"
        queued = Counter(n for numbers in queued_order.values() for n in numbers)
        assert set(queued) == set(expected) and max(queued.values()) == 1, "each crossing queued once: no rule fired twice by two leaders"
        assert repeats <= in_flight_total
        assert max(per_kill) <= MAX_CHATS, "a process has at most one message in flight per chat it serves"
        assert grouped, "one check's alerts to a chat came as one grouped message"
        assert all(c <= 1 + KILLS for c in counts.values())
        by_chat: dict[int, list[tuple[int, ...]]] = defaultdict(list)  # each chat's messages as sent, repeats included
        for chat_id, numbers in api.messages():
            by_chat[chat_id].append(numbers)
        for chat_id, messages in by_chat.items():
            firsts = list(dict.fromkeys(messages))  # each message at its first sending
            assert [n for message in firsts for n in message] == queued_order[chat_id], f"chat {chat_id}: sent {firsts}, queued {queued_order[chat_id]}"
            for before, after in itertools.pairwise(messages):
                assert firsts.index(after) >= firsts.index(before), f"chat {chat_id}: a repeat came after a later message: {messages}"
        assert max(takeovers) < 2 * POLL_SECONDS, "another process takes over within two poll intervals"
