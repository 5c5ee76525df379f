"""The price check's memory: each ticker's engine state, rules fired or re-armed, splits applied (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime

from bot.core.messages import Envelope
from bot.core.models import TickerState
from bot.core.ports import BasketState
from storage.postgres.database import PostgresDatabase, changed, insert_envelopes
from storage.postgres.rows import day_text, state_of
from storage.sqlite.checks import rule_state_rows


class PostgresCheckStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def ticker_states(self) -> dict[str, TickerState]:
        return {r["ticker"]: state_of(r) for r in await self._db.fetch("SELECT * FROM ticker_state")}

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
        state_rows = [(s.ticker, s.last_price, day_text(s.session), s.max_up_pct, s.max_down_pct, s.peak, s.max_drawdown_pct, stamp) for s in states]
        rows, alerted_only = rule_state_rows(armed_changes, alerted, stamp)
        basket_rows = [(name, day_text(b.selloff_session), day_text(b.drawdown_peak_day), stamp) for name, b in (baskets or {}).items()]
        async with self._db.transaction() as tx:
            if basket_rows:
                await tx.executemany(
                    """INSERT INTO basket_state (name, selloff_session, drawdown_peak_day, updated_at) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (name) DO UPDATE SET selloff_session = excluded.selloff_session,
                           drawdown_peak_day = excluded.drawdown_peak_day, updated_at = excluded.updated_at""",
                    basket_rows,
                )
            if state_rows:
                await tx.executemany(
                    """INSERT INTO ticker_state (ticker, last_price, session, max_up_pct, max_down_pct, peak,
                           max_drawdown_pct, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (ticker) DO UPDATE SET last_price = excluded.last_price, session = excluded.session,
                           max_up_pct = excluded.max_up_pct, max_down_pct = excluded.max_down_pct, peak = excluded.peak,
                           max_drawdown_pct = excluded.max_drawdown_pct, updated_at = excluded.updated_at""",
                    state_rows,
                )
            if rows:
                await tx.execute(
                    """INSERT INTO rule_state (rule_id, armed, last_alert_at) SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[])
                       ON CONFLICT (rule_id) DO UPDATE SET armed = excluded.armed,
                           last_alert_at = coalesce(excluded.last_alert_at, rule_state.last_alert_at)""",
                    [row[0] for row in rows],
                    [row[1] for row in rows],
                    [row[2] for row in rows],
                )
            if alerted_only:  # no row yet means rules.armed holds the flag
                await tx.execute(
                    """INSERT INTO rule_state (rule_id, armed, last_alert_at) SELECT id, armed, $1 FROM rules WHERE id = ANY($2::bigint[])
                       ON CONFLICT (rule_id) DO UPDATE SET last_alert_at = excluded.last_alert_at""",
                    stamp,
                    alerted_only,
                )
            return await insert_envelopes(tx, envelopes, now=now)

    async def last_alerts(self) -> dict[int, datetime]:
        rows = await self._db.fetch("SELECT s.rule_id AS id, s.last_alert_at FROM rule_state AS s JOIN rules AS r ON r.id = s.rule_id WHERE s.last_alert_at IS NOT NULL")
        return {int(r["id"]): datetime.fromisoformat(r["last_alert_at"]) for r in rows}

    async def split_applied(self, ticker: str, day: date) -> bool:
        return await self._db.fetchval("SELECT 1 FROM applied_splits WHERE ticker = $1 AND day = $2", ticker, day.isoformat()) is not None

    async def apply_split(self, ticker: str, day: date, ratio: float, *, envelopes: Iterable[Envelope], now: datetime) -> bool:
        async with self._db.transaction() as tx:
            status = await tx.execute(
                "INSERT INTO applied_splits (ticker, day, ratio, applied_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                ticker,
                day.isoformat(),
                ratio,
                now.isoformat(),
            )
            if changed(status) == 0:
                return False
            await tx.execute("UPDATE rules SET threshold = threshold / $1 WHERE ticker = $2 AND kind IN ('above', 'below', 'cross')", ratio, ticker)
            await tx.execute("UPDATE ticker_state SET last_price = last_price / $1, peak = peak / $1 WHERE ticker = $2", ratio, ticker)
            await insert_envelopes(tx, envelopes, now=now)
        return True
