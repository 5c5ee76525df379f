"""One SQLite file through aiosqlite: WAL mode, versioned migrations, and a narrow API.

The API is what the bot needs and no more, so that a PostgreSQL implementation
stays a second class, not a rewrite. Every statement is parameterized.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.core.messages import Alert, Delivery, fallback_of
from bot.core.models import (
    ChatKind,
    ChatRef,
    Direction,
    LevelName,
    Rule,
    RuleKind,
    RuleSource,
    TickerState,
    UserRef,
)

log = logging.getLogger(__name__)


class StorageError(Exception):
    """The database cannot be used (for example it was written by a newer tickerbell)."""


def _migrations() -> list[tuple[int, str]]:
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return _migrations()[-1][0]


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    dead: int


class Store:
    """The bot's storage. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        path_text = str(path)
        if path_text != ":memory:":
            Path(path_text).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path_text, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            store = cls(conn, path_text)
            await store._migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        migrations = _migrations()
        newest = migrations[-1][0]
        if current > newest:
            raise StorageError(
                f"{self.path} was written by a newer tickerbell (schema {current}; this one knows up to {newest}). "
                "Upgrade tickerbell or point [storage] path at another file."
            )
        for version, script in migrations:
            if version <= current:
                continue
            log.info("storage: applying migration %03d to %s", version, self.path)
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(script):
                    await self._conn.execute(statement)
                await self._conn.execute(f"PRAGMA user_version = {int(version)}")
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on any error."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def _write(self, sql: str, params: Iterable[object] = ()) -> bool:
        """One statement in its own transaction; True if it changed a row."""
        async with self.transaction() as tx:
            cur = await tx.execute(sql, tuple(params))
            return cur.rowcount > 0

    async def _fetchall(self, sql: str, params: Iterable[object] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, sql: str, params: Iterable[object] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    # -- rules ---------------------------------------------------------------------

    async def add_rule(self, rule: Rule, *, now: datetime) -> Rule:
        """Insert a rule and return it with its id. For the analyst's levels and watch rules,
        an existing rule for the same ticker and name is replaced."""
        async with self.transaction() as tx:
            if rule.source is RuleSource.ANALYST:
                await tx.execute(
                    "DELETE FROM rules WHERE source = 'analyst' AND ticker = ? AND level_name = ?",
                    (rule.ticker, rule.level_name),
                )
            elif rule.source is RuleSource.WATCH:
                await tx.execute(
                    "DELETE FROM rules WHERE source = 'watch' AND ticker = ? AND kind = ?",
                    (rule.ticker, rule.kind.value),
                )
            cur = await tx.execute(
                """INSERT INTO rules (ticker, kind, threshold, direction, source, owner_platform, owner_id,
                       owner_name, chat_platform, chat_id, chat_kind, level_name, note, armed, snoozed_until, created_at,
                       multiple, basis, met_session)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    rule.ticker,
                    rule.kind.value,
                    rule.threshold,
                    rule.direction.value,
                    rule.source.value,
                    rule.owner.platform if rule.owner else None,
                    rule.owner.user_id if rule.owner else None,
                    rule.owner.display_name if rule.owner else None,
                    rule.chat.platform if rule.chat else None,
                    rule.chat.chat_id if rule.chat else None,
                    rule.chat.kind.value if rule.chat else None,
                    rule.level_name.value if rule.level_name else None,
                    rule.note,
                    _armed_to_db(rule.armed),
                    _dt_to_db(rule.snoozed_until),
                    now.isoformat(),
                    rule.multiple,
                    rule.basis,
                    rule.met_session.isoformat() if rule.met_session else None,
                ),
            )
            rule.id = int(cur.lastrowid or 0)
            rule.created_at = now
        return rule

    async def get_rule(self, rule_id: int) -> Rule | None:
        row = await self._fetchone("SELECT * FROM rules WHERE id = ?", (rule_id,))
        return _rule_from_row(row) if row else None

    async def delete_rule(self, rule_id: int) -> bool:
        return await self._write(
            "DELETE FROM rules WHERE id = ?",
            (rule_id,),
        )

    async def member_rules(self, owner: UserRef) -> list[Rule]:
        rows = await self._fetchall(
            "SELECT * FROM rules WHERE source = 'member' AND owner_platform = ? AND owner_id = ? ORDER BY id",
            (owner.platform, owner.user_id),
        )
        return [_rule_from_row(r) for r in rows]

    async def count_member_rules(self, owner: UserRef) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) FROM rules WHERE source = 'member' AND owner_platform = ? AND owner_id = ?",
            (owner.platform, owner.user_id),
        )
        return int(row[0]) if row else 0

    async def all_rules(self) -> list[Rule]:
        rows = await self._fetchall("SELECT * FROM rules ORDER BY id")
        return [_rule_from_row(r) for r in rows]

    async def rules_for_ticker(self, ticker: str) -> list[Rule]:
        rows = await self._fetchall("SELECT * FROM rules WHERE ticker = ? ORDER BY id", (ticker,))
        return [_rule_from_row(r) for r in rows]

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        if ticker is None:
            rows = await self._fetchall("SELECT * FROM rules WHERE source = 'analyst' ORDER BY ticker, level_name")
        else:
            rows = await self._fetchall(
                "SELECT * FROM rules WHERE source = 'analyst' AND ticker = ? ORDER BY level_name", (ticker,)
            )
        return [_rule_from_row(r) for r in rows]

    async def delete_analyst_levels(self, ticker: str, level_name: LevelName | None) -> list[Rule]:
        """Remove one level (or all of a ticker's) and return what was removed."""
        removed = [r for r in await self.analyst_levels(ticker) if level_name is None or r.level_name is level_name]
        async with self.transaction() as tx:
            for rule in removed:
                await tx.execute("DELETE FROM rules WHERE id = ?", (rule.id,))
        return removed

    async def set_snooze(self, rule_id: int, until: datetime | None) -> None:
        await self._write("UPDATE rules SET snoozed_until = ? WHERE id = ?", (_dt_to_db(until), rule_id))

    # -- watches -------------------------------------------------------------------

    async def add_watch(self, chat: ChatRef, ticker: str, *, now: datetime) -> bool:
        """Follow a ticker in a chat; False if the chat already followed it."""
        return await self._write(
            "INSERT OR IGNORE INTO watches (platform, chat_id, chat_kind, ticker, created_at) VALUES (?, ?, ?, ?, ?)",
            (chat.platform, chat.chat_id, chat.kind.value, ticker, now.isoformat()),
        )

    async def remove_watch(self, chat: ChatRef, ticker: str) -> bool:
        return await self._write(
            "DELETE FROM watches WHERE platform = ? AND chat_id = ? AND ticker = ?",
            (chat.platform, chat.chat_id, ticker),
        )

    async def watchlist(self, chat: ChatRef) -> list[str]:
        rows = await self._fetchall(
            "SELECT ticker FROM watches WHERE platform = ? AND chat_id = ? ORDER BY ticker",
            (chat.platform, chat.chat_id),
        )
        return [r["ticker"] for r in rows]

    async def watchers(self, ticker: str) -> list[ChatRef]:
        rows = await self._fetchall(
            "SELECT platform, chat_id, chat_kind FROM watches WHERE ticker = ? ORDER BY platform, chat_id", (ticker,)
        )
        return [ChatRef(r["platform"], r["chat_id"], ChatKind(r["chat_kind"])) for r in rows]

    async def watched_tickers(self) -> list[str]:
        rows = await self._fetchall("SELECT DISTINCT ticker FROM watches ORDER BY ticker")
        return [r["ticker"] for r in rows]

    # -- members' preferences ------------------------------------------------------

    async def set_direct_delivery(self, user: UserRef, on: bool, *, now: datetime) -> None:
        async with self.transaction() as tx:
            await tx.execute(
                """INSERT INTO member_prefs (platform, user_id, dm, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (platform, user_id) DO UPDATE SET dm = excluded.dm, updated_at = excluded.updated_at""",
                (user.platform, user.user_id, int(on), now.isoformat()),
            )

    async def wants_direct_delivery(self, user: UserRef) -> bool:
        row = await self._fetchone("SELECT dm FROM member_prefs WHERE platform = ? AND user_id = ?", (user.platform, user.user_id))
        return bool(row and row["dm"])

    # -- baskets -------------------------------------------------------------------

    async def set_basket(self, name: str, tickers: list[str], *, by: str, now: datetime) -> bool:
        """Create or replace a basket; True if it is new. Its watch state starts afresh."""
        async with self.transaction() as tx:
            row = await (await tx.execute("SELECT 1 FROM baskets WHERE name = ?", (name,))).fetchone()
            await tx.execute(
                """INSERT INTO baskets (name, tickers, updated_by, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET tickers = excluded.tickers, updated_by = excluded.updated_by,
                       updated_at = excluded.updated_at""",
                (name, " ".join(tickers), by, now.isoformat()),
            )
            await tx.execute("DELETE FROM basket_state WHERE name = ?", (name,))
            return row is None

    async def baskets(self) -> dict[str, list[str]]:
        rows = await self._fetchall("SELECT name, tickers FROM baskets ORDER BY name")
        return {r["name"]: r["tickers"].split() for r in rows}

    async def delete_basket(self, name: str) -> bool:
        async with self.transaction() as tx:
            cur = await tx.execute("DELETE FROM baskets WHERE name = ?", (name,))
            await tx.execute("DELETE FROM basket_watches WHERE name = ?", (name,))
            await tx.execute("DELETE FROM basket_state WHERE name = ?", (name,))
            return cur.rowcount > 0

    async def watch_basket(self, chat: ChatRef, name: str, *, now: datetime) -> bool:
        return await self._write(
            "INSERT OR IGNORE INTO basket_watches (platform, chat_id, chat_kind, name, created_at) VALUES (?, ?, ?, ?, ?)",
            (chat.platform, chat.chat_id, chat.kind.value, name, now.isoformat()),
        )

    async def unwatch_basket(self, chat: ChatRef, name: str) -> bool:
        return await self._write(
            "DELETE FROM basket_watches WHERE platform = ? AND chat_id = ? AND name = ?",
            (chat.platform, chat.chat_id, name),
        )

    async def basket_watchers(self, name: str) -> list[ChatRef]:
        rows = await self._fetchall("SELECT platform, chat_id, chat_kind FROM basket_watches WHERE name = ? ORDER BY platform, chat_id", (name,))
        return [ChatRef(r["platform"], r["chat_id"], ChatKind(r["chat_kind"])) for r in rows]

    async def watched_baskets(self, chat: ChatRef | None = None) -> list[str]:
        if chat is None:
            rows = await self._fetchall("SELECT DISTINCT name FROM basket_watches ORDER BY name")
        else:
            rows = await self._fetchall(
                "SELECT name FROM basket_watches WHERE platform = ? AND chat_id = ? ORDER BY name", (chat.platform, chat.chat_id)
            )
        return [r["name"] for r in rows]

    async def basket_state(self, name: str) -> tuple[date | None, date | None]:
        """(the session whose sell-off was told, the day of the peak whose drawdown was told)."""
        row = await self._fetchone("SELECT selloff_session, drawdown_peak_day FROM basket_state WHERE name = ?", (name,))
        if row is None:
            return None, None
        return _day(row["selloff_session"]), _day(row["drawdown_peak_day"])

    async def record_basket_alerts(
        self, name: str, *, selloff_session: date | None, drawdown_peak_day: date | None,
        deliveries: Iterable[tuple[ChatRef, Alert, str]], now: datetime,
    ) -> int:
        """Remember what was told about a basket and queue it, in one transaction."""
        async with self.transaction() as tx:
            await tx.execute(
                """INSERT INTO basket_state (name, selloff_session, drawdown_peak_day, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET selloff_session = excluded.selloff_session,
                       drawdown_peak_day = excluded.drawdown_peak_day, updated_at = excluded.updated_at""",
                (name, selloff_session.isoformat() if selloff_session else None,
                 drawdown_peak_day.isoformat() if drawdown_peak_day else None, now.isoformat()),
            )
            return await self._enqueue(tx, deliveries, now=now)

    # -- chats ---------------------------------------------------------------------

    async def set_chat_active(self, chat: ChatRef, active: bool, *, now: datetime, reason: str | None = None) -> bool:
        """Record whether the bot can post in a chat. Returns True if that changed."""
        async with self.transaction() as tx:
            row = await (
                await tx.execute("SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
            ).fetchone()
            before = bool(row["active"]) if row else True
            await tx.execute(
                """INSERT INTO chats (platform, chat_id, kind, active, inactive_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (platform, chat_id) DO UPDATE SET active = excluded.active,
                       inactive_reason = excluded.inactive_reason, updated_at = excluded.updated_at""",
                (chat.platform, chat.chat_id, chat.kind.value, int(active), None if active else reason, now.isoformat()),
            )
            if not active:
                # in the same transaction: direct messages that carry a fallback go to it, the rest die
                pending = await (
                    await tx.execute(
                        "SELECT id, payload FROM outbox WHERE status = 'pending' AND platform = ? AND chat_id = ? ORDER BY id",
                        (chat.platform, chat.chat_id),
                    )
                ).fetchall()
                reroutes = []
                for row in pending:
                    found = fallback_of(Alert.from_json(row["payload"]))
                    if found is not None:
                        reroutes.append((found[0], found[1], f"fallback:{row['id']}"))
                await tx.execute(
                    """UPDATE outbox SET status = 'dead', last_error = ? WHERE status = 'pending'
                       AND platform = ? AND chat_id = ?""",
                    (f"chat inactive: {reason}", chat.platform, chat.chat_id),
                )
                await self._enqueue(tx, reroutes, now=now)
            return before != active

    async def is_chat_active(self, chat: ChatRef) -> bool:
        row = await self._fetchone(
            "SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        )
        return bool(row["active"]) if row else True

    # -- engine state --------------------------------------------------------------

    async def ticker_states(self) -> dict[str, TickerState]:
        rows = await self._fetchall("SELECT * FROM ticker_state")
        return {r["ticker"]: _state_from_row(r) for r in rows}

    async def record_check(
        self,
        *,
        states: Iterable[TickerState],
        armed_changes: dict[int, bool | None],
        deliveries: Iterable[tuple[ChatRef, Alert, str]],
        now: datetime,
    ) -> int:
        """Persist one check in one transaction: ticker state, rules that fired or re-armed,
        and the deliveries those firings owe. Returns how many deliveries were queued."""
        queued = 0
        async with self.transaction() as tx:
            await tx.executemany(
                """INSERT INTO ticker_state (ticker, last_price, session, max_up_pct, max_down_pct, peak,
                       max_drawdown_pct, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (ticker) DO UPDATE SET last_price = excluded.last_price, session = excluded.session,
                       max_up_pct = excluded.max_up_pct, max_down_pct = excluded.max_down_pct, peak = excluded.peak,
                       max_drawdown_pct = excluded.max_drawdown_pct, updated_at = excluded.updated_at""",
                [
                    (
                        s.ticker,
                        s.last_price,
                        s.session.isoformat() if s.session else None,
                        s.max_up_pct,
                        s.max_down_pct,
                        s.peak,
                        s.max_drawdown_pct,
                        now.isoformat(),
                    )
                    for s in states
                ],
            )
            await tx.executemany(
                "UPDATE rules SET armed = ? WHERE id = ?",
                [(_armed_to_db(armed), rule_id) for rule_id, armed in armed_changes.items()],
            )
            queued = await self._enqueue(tx, deliveries, now=now)
        return queued

    async def _enqueue(
        self, tx: aiosqlite.Connection, deliveries: Iterable[tuple[ChatRef, Alert, str]], *, now: datetime
    ) -> int:
        queued = 0
        active: dict[str, bool] = {}  # one lookup per chat, however many deliveries it gets
        for chat, alert, dedupe_key in deliveries:
            if chat.key not in active:
                row = await (
                    await tx.execute("SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
                ).fetchone()
                active[chat.key] = row is None or bool(row["active"])
            if not active[chat.key]:
                found = fallback_of(alert)
                if found is None:
                    log.info("outbox: skipping %s alert for inactive chat %s", alert.kind, chat.key)
                    continue
                chat, alert = found  # a direct chat that refused us: where the alert was set instead
            cur = await tx.execute(
                """INSERT OR IGNORE INTO outbox (created_at, platform, chat_id, chat_kind, kind, ticker, payload,
                       dedupe_key, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    now.isoformat(),
                    chat.platform,
                    chat.chat_id,
                    chat.kind.value,
                    alert.kind.value,
                    alert.ticker,
                    alert.to_json(),
                    dedupe_key,
                    now.isoformat(),
                ),
            )
            queued += cur.rowcount
        return queued

    async def enqueue(self, deliveries: Iterable[tuple[ChatRef, Alert, str]], *, now: datetime) -> int:
        """Queue deliveries that no rule state goes with (notices, reminders)."""
        async with self.transaction() as tx:
            return await self._enqueue(tx, deliveries, now=now)

    # -- splits --------------------------------------------------------------------

    async def split_applied(self, ticker: str, day: date) -> bool:
        row = await self._fetchone("SELECT 1 FROM applied_splits WHERE ticker = ? AND day = ?", (ticker, day.isoformat()))
        return row is not None

    async def apply_split(
        self, ticker: str, day: date, ratio: float, *, notices: Iterable[tuple[ChatRef, Alert, str]], now: datetime
    ) -> bool:
        """Rescale a ticker's price levels, rules and state by a split's ratio, once.
        Percent rules are unchanged. Returns False if this split was applied before."""
        async with self.transaction() as tx:
            cur = await tx.execute(
                "INSERT OR IGNORE INTO applied_splits (ticker, day, ratio, applied_at) VALUES (?, ?, ?, ?)",
                (ticker, day.isoformat(), ratio, now.isoformat()),
            )
            if cur.rowcount == 0:
                return False
            await tx.execute(
                "UPDATE rules SET threshold = threshold / ? WHERE ticker = ? AND kind IN ('above', 'below', 'cross')",
                (ratio, ticker),
            )
            await tx.execute(
                "UPDATE ticker_state SET last_price = last_price / ?, peak = peak / ? WHERE ticker = ?",
                (ratio, ratio, ticker),
            )
            await self._enqueue(tx, notices, now=now)
        return True

    # -- outbox --------------------------------------------------------------------

    async def due_deliveries(self, *, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[Delivery]:
        names = sorted(set(platforms))
        if not names:
            return []
        marks = ",".join("?" for _ in names)
        rows = await self._fetchall(
            f"""SELECT id, platform, chat_id, chat_kind, payload, attempts FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= ? AND platform IN ({marks})
                ORDER BY id LIMIT ?""",
            (now.isoformat(), *names, limit),
        )
        return [
            Delivery(
                id=r["id"],
                chat=ChatRef(r["platform"], r["chat_id"], ChatKind(r["chat_kind"])),
                alert=Alert.from_json(r["payload"]),
                attempts=r["attempts"],
            )
            for r in rows
        ]

    async def pending_for_chat(self, chat: ChatRef) -> list[Delivery]:
        rows = await self._fetchall(
            "SELECT id, platform, chat_id, chat_kind, payload, attempts FROM outbox WHERE status = 'pending' AND platform = ? AND chat_id = ? ORDER BY id",
            (chat.platform, chat.chat_id),
        )
        return [Delivery(id=r["id"], chat=chat, alert=Alert.from_json(r["payload"]), attempts=r["attempts"]) for r in rows]

    async def next_due_at(self, platforms: Iterable[str]) -> datetime | None:
        names = sorted(set(platforms))
        if not names:
            return None
        marks = ",".join("?" for _ in names)
        row = await self._fetchone(
            f"SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND platform IN ({marks})", names
        )
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    async def mark_sent(self, delivery_id: int, *, now: datetime) -> None:
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
                (now.isoformat(), delivery_id),
            )

    async def mark_retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        """Try a delivery again at `at`; `count=False` when it was never attempted."""
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'",
                (int(count), at.isoformat(), error[:500], delivery_id),
            )

    async def next_attempt_at(self, delivery_id: int) -> datetime:
        row = await self._fetchone("SELECT next_attempt_at FROM outbox WHERE id = ?", (delivery_id,))
        if row is None:
            raise StorageError(f"no delivery {delivery_id}")
        return datetime.fromisoformat(row["next_attempt_at"])

    async def mark_dead(self, delivery_id: int, *, error: str) -> None:
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], delivery_id),
            )

    async def outbox_counts(self) -> OutboxCounts:
        rows = await self._fetchall("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        counts = {r["status"]: r["n"] for r in rows}
        return OutboxCounts(counts.get("pending", 0), counts.get("sent", 0), counts.get("dead", 0))

    # -- valuation levels and primer seeds -------------------------------------------

    async def update_level_price(self, rule_id: int, *, threshold: float, direction: Direction, armed: bool | None) -> None:
        """Move a valuation level to today's price (multiple x EPS; 0 when EPS is unusable)."""
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE rules SET threshold = ?, direction = ?, armed = ? WHERE id = ?",
                (threshold, direction.value, _armed_to_db(armed), rule_id),
            )

    async def primer_seed(self, ticker: str, level_name: str) -> str | None:
        """The seed spec last applied for a ticker's level, or None if it was never seeded."""
        row = await self._fetchone(
            "SELECT spec FROM primer_seeds WHERE ticker = ? AND level_name = ?", (ticker, level_name)
        )
        return row["spec"] if row else None

    async def record_primer_seed(self, ticker: str, level_name: str, spec: str, *, now: datetime) -> None:
        async with self.transaction() as tx:
            await tx.execute(
                """INSERT INTO primer_seeds (ticker, level_name, spec, applied_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (ticker, level_name) DO UPDATE SET spec = excluded.spec, applied_at = excluded.applied_at""",
                (ticker, level_name, spec, now.isoformat()),
            )

    # -- earnings dates and subscriptions ----------------------------------------------

    async def earnings_dates(self, ticker: str) -> list[dict[str, object]]:
        """A ticker's report dates, oldest first, as dicts: ticker, day (a date), time
        ('bmo' | 'amc' | 'unknown'), source ('provider' | 'admin'), provider_day (date or None),
        provider_time, updated_at (a datetime)."""
        rows = await self._fetchall("SELECT * FROM earnings_dates WHERE ticker = ? ORDER BY day", (ticker,))
        return [
            {
                "ticker": r["ticker"],
                "day": date.fromisoformat(r["day"]),
                "time": r["time"],
                "source": r["source"],
                "provider_day": date.fromisoformat(r["provider_day"]) if r["provider_day"] else None,
                "provider_time": r["provider_time"],
                "updated_at": datetime.fromisoformat(r["updated_at"]),
            }
            for r in rows
        ]

    async def set_earnings_date(
        self,
        ticker: str,
        day: date,
        time: str,
        *,
        source: str,
        now: datetime,
        provider_day: date | None = None,
        provider_time: str | None = None,
        replaces: date | None = None,
        notices: Iterable[tuple[ChatRef, Alert, str]] = (),
    ) -> int:
        """Record a report date (replacing the row of `replaces`, the date it moved from) and
        queue the notices a move owes, in one transaction. Returns how many were queued."""
        async with self.transaction() as tx:
            if replaces is not None and replaces != day:
                await tx.execute("DELETE FROM earnings_dates WHERE ticker = ? AND day = ?", (ticker, replaces.isoformat()))
            await tx.execute(
                """INSERT INTO earnings_dates (ticker, day, time, source, provider_day, provider_time, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (ticker, day) DO UPDATE SET time = excluded.time, source = excluded.source,
                       provider_day = excluded.provider_day, provider_time = excluded.provider_time,
                       updated_at = excluded.updated_at""",
                (
                    ticker,
                    day.isoformat(),
                    time,
                    source,
                    provider_day.isoformat() if provider_day else None,
                    provider_time,
                    now.isoformat(),
                ),
            )
            return await self._enqueue(tx, notices, now=now)

    async def subscribe_earnings(self, chat: ChatRef, ticker: str, days_before: int, *, now: datetime) -> bool:
        """Subscribe a chat to a ticker's earnings (or change its days); False if it already was."""
        async with self.transaction() as tx:
            row = await (
                await tx.execute(
                    "SELECT 1 FROM earnings_subscriptions WHERE platform = ? AND chat_id = ? AND ticker = ?",
                    (chat.platform, chat.chat_id, ticker),
                )
            ).fetchone()
            await tx.execute(
                """INSERT INTO earnings_subscriptions (platform, chat_id, chat_kind, ticker, days_before, created_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (platform, chat_id, ticker) DO UPDATE SET days_before = excluded.days_before""",
                (chat.platform, chat.chat_id, chat.kind.value, ticker, days_before, now.isoformat()),
            )
            return row is None

    async def unsubscribe_earnings(self, chat: ChatRef, ticker: str) -> bool:
        return await self._write(
            "DELETE FROM earnings_subscriptions WHERE platform = ? AND chat_id = ? AND ticker = ?",
            (chat.platform, chat.chat_id, ticker),
        )

    async def earnings_subscriptions(self, chat: ChatRef) -> list[tuple[str, int]]:
        """(ticker, days_before) for each ticker a chat is subscribed to, by ticker."""
        rows = await self._fetchall(
            "SELECT ticker, days_before FROM earnings_subscriptions WHERE platform = ? AND chat_id = ? ORDER BY ticker",
            (chat.platform, chat.chat_id),
        )
        return [(r["ticker"], int(r["days_before"])) for r in rows]

    async def earnings_subscribers(self, ticker: str) -> list[tuple[ChatRef, int]]:
        """(chat, days_before) for each chat subscribed to a ticker's earnings."""
        rows = await self._fetchall(
            """SELECT platform, chat_id, chat_kind, days_before FROM earnings_subscriptions
               WHERE ticker = ? ORDER BY platform, chat_id""",
            (ticker,),
        )
        return [(ChatRef(r["platform"], r["chat_id"], ChatKind(r["chat_kind"])), int(r["days_before"])) for r in rows]

    async def subscribed_tickers(self) -> list[str]:
        rows = await self._fetchall("SELECT DISTINCT ticker FROM earnings_subscriptions ORDER BY ticker")
        return [r["ticker"] for r in rows]


# -- row mapping -------------------------------------------------------------------


def _split_sql(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _armed_to_db(armed: bool | None) -> int | None:
    return None if armed is None else int(armed)


def _dt_to_db(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _rule_from_row(row: aiosqlite.Row) -> Rule:
    owner = UserRef(row["owner_platform"], row["owner_id"], row["owner_name"] or "") if row["owner_platform"] else None
    chat = ChatRef(row["chat_platform"], row["chat_id"], ChatKind(row["chat_kind"] or "private")) if row["chat_platform"] else None
    return Rule(
        id=row["id"],
        ticker=row["ticker"],
        kind=RuleKind(row["kind"]),
        threshold=row["threshold"],
        source=RuleSource(row["source"]),
        direction=Direction(row["direction"]),
        owner=owner,
        chat=chat,
        level_name=LevelName(row["level_name"]) if row["level_name"] else None,
        note=row["note"],
        armed=None if row["armed"] is None else bool(row["armed"]),
        snoozed_until=datetime.fromisoformat(row["snoozed_until"]) if row["snoozed_until"] else None,
        created_at=datetime.fromisoformat(row["created_at"]),
        multiple=row["multiple"],
        basis=row["basis"],
        met_session=date.fromisoformat(row["met_session"]) if row["met_session"] else None,
    )


def _state_from_row(row: aiosqlite.Row) -> TickerState:
    return TickerState(
        ticker=row["ticker"],
        last_price=row["last_price"],
        session=date.fromisoformat(row["session"]) if row["session"] else None,
        max_up_pct=row["max_up_pct"],
        max_down_pct=row["max_down_pct"],
        peak=row["peak"],
        max_drawdown_pct=row["max_drawdown_pct"],
    )
