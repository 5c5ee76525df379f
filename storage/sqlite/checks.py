"""The price check's memory: each ticker's engine state, rules fired or re-armed, splits applied."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime

from bot.core.messages import Envelope
from bot.core.models import TickerState
from bot.core.ports import BasketState
from storage.sqlite.database import Database, Statements, in_chunks, insert_envelopes
from storage.sqlite.rows import armed_to_db, day_text, state_of


async def set_armed(tx: Statements, armed_changes: Mapping[int, bool | None]) -> None:
    """Rules' armed flags, grouped by value, in id order, a few thousand ids a statement: a busy
    check changes tens of thousands, and one `UPDATE ... WHERE id IN (...)` per chunk costs a
    fraction of one statement per rule."""
    by_value: dict[int | None, list[int]] = {}
    for rule_id, armed in armed_changes.items():
        by_value.setdefault(armed_to_db(armed), []).append(rule_id)
    for value, rule_ids in by_value.items():
        rule_ids.sort()
        for chunk in in_chunks(rule_ids):
            marks = ",".join("?" * len(chunk))
            await tx.execute(f"UPDATE rules SET armed = ? WHERE id IN ({marks})", (value, *chunk))


class SqliteCheckStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ticker_states(self) -> dict[str, TickerState]:
        return {r["ticker"]: state_of(r) for r in await self._db.fetchall("SELECT * FROM ticker_state")}

    async def record_check(
        self,
        *,
        states: Iterable[TickerState],
        armed_changes: Mapping[int, bool | None],
        envelopes: Iterable[Envelope],
        now: datetime,
        alerted: Collection[int] = (),
        baskets: Mapping[str, BasketState] | None = None,
    ) -> int:
        async with self._db.transaction() as tx:
            await tx.executemany(
                """INSERT INTO basket_state (name, selloff_session, drawdown_peak_day, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET selloff_session = excluded.selloff_session,
                       drawdown_peak_day = excluded.drawdown_peak_day, updated_at = excluded.updated_at""",
                [(name, day_text(b.selloff_session), day_text(b.drawdown_peak_day), now.isoformat()) for name, b in (baskets or {}).items()],
            )
            await tx.executemany(
                """INSERT INTO ticker_state (ticker, last_price, session, max_up_pct, max_down_pct, peak,
                       max_drawdown_pct, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (ticker) DO UPDATE SET last_price = excluded.last_price, session = excluded.session,
                       max_up_pct = excluded.max_up_pct, max_down_pct = excluded.max_down_pct, peak = excluded.peak,
                       max_drawdown_pct = excluded.max_drawdown_pct, updated_at = excluded.updated_at""",
                [
                    (s.ticker, s.last_price, day_text(s.session), s.max_up_pct, s.max_down_pct, s.peak, s.max_drawdown_pct, now.isoformat())
                    for s in states
                ],
            )
            await set_armed(tx, armed_changes)
            if alerted:
                await tx.executemany("UPDATE rules SET last_alert_at = ? WHERE id = ?", [(now.isoformat(), rule_id) for rule_id in alerted])
            return await insert_envelopes(tx, envelopes, now=now)

    async def last_alerts(self) -> dict[int, datetime]:
        rows = await self._db.fetchall("SELECT id, last_alert_at FROM rules WHERE last_alert_at IS NOT NULL")
        return {int(r["id"]): datetime.fromisoformat(r["last_alert_at"]) for r in rows}

    async def split_applied(self, ticker: str, day: date) -> bool:
        row = await self._db.fetchone("SELECT 1 FROM applied_splits WHERE ticker = ? AND day = ?", (ticker, day.isoformat()))
        return row is not None

    async def apply_split(self, ticker: str, day: date, ratio: float, *, envelopes: Iterable[Envelope], now: datetime) -> bool:
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "INSERT OR IGNORE INTO applied_splits (ticker, day, ratio, applied_at) VALUES (?, ?, ?, ?)",
                (ticker, day.isoformat(), ratio, now.isoformat()),
            )
            if cur.rowcount == 0:
                return False
            await tx.execute(
                "UPDATE rules SET threshold = threshold / ? WHERE ticker = ? AND kind IN ('above', 'below', 'cross')", (ratio, ticker)
            )
            await tx.execute("UPDATE ticker_state SET last_price = last_price / ?, peak = peak / ? WHERE ticker = ?", (ratio, ratio, ticker))
            await insert_envelopes(tx, envelopes, now=now)
        return True
