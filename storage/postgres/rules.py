"""Rules: members' alerts, chats' watch rules and the analyst's levels (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bot.core.models import Direction, Rule, RuleSource, UserRef
from storage.postgres.database import PostgresDatabase
from storage.postgres.rows import armed_to_db, close_range, day_text, moment_text, rule_of, same_of


class PostgresRuleStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, rule: Rule, *, now: datetime, replacing: Sequence[int] = ()) -> Rule:
        async with self._db.transaction() as tx:
            if replacing:
                await tx.execute("DELETE FROM rules WHERE id = ANY($1::bigint[])", list(replacing))
            rule_id = await tx.fetchval(
                """INSERT INTO rules (ticker, kind, threshold, direction, source, owner_platform, owner_id,
                       owner_name, chat_platform, chat_id, chat_kind, level_name, note, armed, snoozed_until, created_at,
                       multiple, basis, met_session, written_at, once, expires_on, indicator, period)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
                   RETURNING id""",
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
                armed_to_db(rule.armed),
                moment_text(rule.snoozed_until),
                now.isoformat(),
                rule.multiple,
                rule.basis,
                day_text(rule.met_session),
                _written_at(rule, now),
                int(rule.once),
                day_text(rule.expires_on),
                rule.indicator,
                rule.period,
            )
        rule.id = int(rule_id)
        rule.created_at = now
        if rule.written_at is None and rule.source is RuleSource.ANALYST:
            rule.written_at = now
        return rule

    async def get(self, rule_id: int) -> Rule | None:
        row = await self._db.fetchrow("SELECT * FROM rules_now WHERE id = $1", rule_id)
        return rule_of(row) if row else None

    async def delete(self, rule_ids: Sequence[int]) -> None:
        if rule_ids:
            await self._db.execute("DELETE FROM rules WHERE id = ANY($1::bigint[])", list(rule_ids))

    async def all(self) -> list[Rule]:
        return [rule_of(r) for r in await self._db.fetch("SELECT * FROM rules_now ORDER BY id")]

    async def of_ticker(self, ticker: str) -> list[Rule]:
        return [rule_of(r) for r in await self._db.fetch("SELECT * FROM rules_now WHERE ticker = $1 ORDER BY id", ticker)]

    async def of_member(self, owner: UserRef) -> list[Rule]:
        rows = await self._db.fetch(
            "SELECT * FROM rules_now WHERE source = 'member' AND owner_platform = $1 AND owner_id = $2 ORDER BY id", owner.platform, owner.user_id
        )
        return [rule_of(r) for r in rows]

    async def count_of_member(self, owner: UserRef) -> int:
        count = await self._db.fetchval(  # kept by a trigger (migration 017)
            "SELECT alerts FROM member_alert_counts WHERE owner_platform = $1 AND owner_id = $2", owner.platform, owner.user_id
        )
        return int(count or 0)

    async def same_member_rule(self, rule: Rule) -> Rule | None:
        if rule.owner is None:
            return None
        low, high = close_range(rule.threshold)
        rows = await self._db.fetch(
            """SELECT * FROM rules_now WHERE owner_platform = $1 AND owner_id = $2 AND ticker = $3 AND kind = $4 AND threshold BETWEEN $5 AND $6
                   AND source = 'member' AND direction = $7 AND indicator IS NOT DISTINCT FROM $8 AND period IS NOT DISTINCT FROM $9
                   ORDER BY id""",
            rule.owner.platform, rule.owner.user_id, rule.ticker, rule.kind.value, low, high, rule.direction.value, rule.indicator, rule.period,
        )
        return same_of(rule, [rule_of(r) for r in rows])

    async def expiring(self, before: date) -> list[Rule]:
        rows = await self._db.fetch("SELECT * FROM rules_now WHERE expires_on IS NOT NULL AND expires_on < $1 ORDER BY id", before.isoformat())
        return [rule_of(r) for r in rows]

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        if ticker is None:
            rows = await self._db.fetch("SELECT * FROM rules_now WHERE source = 'analyst' ORDER BY ticker, level_name")
        else:
            rows = await self._db.fetch("SELECT * FROM rules_now WHERE source = 'analyst' AND ticker = $1 ORDER BY level_name", ticker)
        return [rule_of(r) for r in rows]

    async def set_snooze(self, rule_id: int, until: datetime | None) -> None:
        await self._db.execute("UPDATE rules SET snoozed_until = $1 WHERE id = $2", moment_text(until), rule_id)

    async def update_level(self, rule_id: int, *, threshold: float, direction: Direction, armed: bool | None) -> None:
        await self._db.execute(
            "UPDATE rules SET threshold = $1, direction = $2, armed = $3 WHERE id = $4", threshold, direction.value, armed_to_db(armed), rule_id
        )


def _written_at(rule: Rule, now: datetime) -> str | None:
    """An analyst's level was written when it says (a seed: its notes' date), else now."""
    if rule.source is not RuleSource.ANALYST:
        return None
    return (rule.written_at or now).isoformat()
