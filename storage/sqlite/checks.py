"""The price check's memory: each ticker's engine state, rules fired or re-armed, splits applied."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime

from bot.core.messages import Envelope
from bot.core.models import TickerState
from bot.core.ports import BasketState
from storage.sqlite.database import Database, insert_envelopes
from storage.sqlite.rows import armed_to_db, day_text, state_of

StateRow = tuple[int, int | None, str | None]  # a row of rule_state: rule id, armed, last alert (None: unchanged)


def rule_state_rows(armed_changes: Mapping[int, bool | None], alerted: Collection[int], stamp: str) -> tuple[list[StateRow], list[int]]:
    """A check's rows of `rule_state`, in id order (both backends): each rule whose armed flag
    changed, with `stamp` if it alerted; and the alerted rules whose flag did not change (a firing
    disarms its rule: seldom, if ever), whose flag the storage copies from `rules`."""
    alerted_ids = set(alerted)
    rows = [(rule_id, armed_to_db(armed_changes[rule_id]), stamp if rule_id in alerted_ids else None) for rule_id in sorted(armed_changes)]
    return rows, sorted(alerted_ids.difference(armed_changes))


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
        stamp = now.isoformat()
        async with self._db.transaction(checkpoint_later=True) as tx:  # a busy check's commit is not kept waiting by a checkpoint
            await tx.executemany(
                """INSERT INTO basket_state (name, selloff_session, drawdown_peak_day, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET selloff_session = excluded.selloff_session,
                       drawdown_peak_day = excluded.drawdown_peak_day, updated_at = excluded.updated_at""",
                [(name, day_text(b.selloff_session), day_text(b.drawdown_peak_day), stamp) for name, b in (baskets or {}).items()],
            )
            await tx.executemany(
                """INSERT INTO ticker_state (ticker, last_price, session, max_up_pct, max_down_pct, peak,
                       max_drawdown_pct, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (ticker) DO UPDATE SET last_price = excluded.last_price, session = excluded.session,
                       max_up_pct = excluded.max_up_pct, max_down_pct = excluded.max_down_pct, peak = excluded.peak,
                       max_drawdown_pct = excluded.max_drawdown_pct, updated_at = excluded.updated_at""",
                [(s.ticker, s.last_price, day_text(s.session), s.max_up_pct, s.max_down_pct, s.peak, s.max_drawdown_pct, stamp) for s in states],
            )
            rows, alerted_only = rule_state_rows(armed_changes, alerted, stamp)
            await tx.executemany(
                """INSERT INTO rule_state (rule_id, armed, last_alert_at) VALUES (?, ?, ?)
                   ON CONFLICT (rule_id) DO UPDATE SET armed = excluded.armed,
                       last_alert_at = coalesce(excluded.last_alert_at, rule_state.last_alert_at)""",
                rows,
            )
            if alerted_only:  # no row yet means rules.armed holds the flag
                await tx.executemany(
                    """INSERT INTO rule_state (rule_id, armed, last_alert_at) SELECT id, armed, ? FROM rules WHERE id = ?
                       ON CONFLICT (rule_id) DO UPDATE SET last_alert_at = excluded.last_alert_at""",
                    [(stamp, rule_id) for rule_id in alerted_only],
                )
            return await insert_envelopes(tx, envelopes, now=now)

    async def last_alerts(self) -> dict[int, datetime]:
        rows = await self._db.fetchall("SELECT s.rule_id AS id, s.last_alert_at FROM rule_state AS s JOIN rules AS r ON r.id = s.rule_id WHERE s.last_alert_at IS NOT NULL")
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
