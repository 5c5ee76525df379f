"""Rules: members' alerts, chats' watch rules and the analyst's levels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bot.core.models import Direction, Rule, RuleSource, UserRef
from storage.sqlite.database import Database
from storage.sqlite.rows import armed_to_db, close_range, day_text, moment_text, rule_of, same_of


class SqliteRuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, rule: Rule, *, now: datetime, replacing: Sequence[int] = ()) -> Rule:
        async with self._db.transaction() as tx:
            if replacing:
                await tx.executemany("DELETE FROM rules WHERE id = ?", [(rule_id,) for rule_id in replacing])
            cur = await tx.execute(
                """INSERT INTO rules (ticker, kind, threshold, direction, source, owner_platform, owner_id,
                       owner_name, chat_platform, chat_id, chat_kind, level_name, note, armed, snoozed_until, created_at,
                       multiple, basis, met_session, written_at, once, expires_on, indicator, period)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
                ),
            )
            rule.id = int(cur.lastrowid or 0)
            rule.created_at = now
            if rule.written_at is None and rule.source is RuleSource.ANALYST:
                rule.written_at = now
        return rule

    async def get(self, rule_id: int) -> Rule | None:
        row = await self._db.fetchone("SELECT * FROM rules_now WHERE id = ?", (rule_id,))
        return rule_of(row) if row else None

    async def delete(self, rule_ids: Sequence[int]) -> None:
        async with self._db.transaction() as tx:
            await tx.executemany("DELETE FROM rules WHERE id = ?", [(rule_id,) for rule_id in rule_ids])

    async def all(self) -> list[Rule]:
        return [rule_of(r) for r in await self._db.fetchall("SELECT * FROM rules_now ORDER BY id")]

    async def of_ticker(self, ticker: str) -> list[Rule]:
        return [rule_of(r) for r in await self._db.fetchall("SELECT * FROM rules_now WHERE ticker = ? ORDER BY id", (ticker,))]

    async def of_member(self, owner: UserRef) -> list[Rule]:
        rows = await self._db.fetchall(
            "SELECT * FROM rules_now WHERE source = 'member' AND owner_platform = ? AND owner_id = ? ORDER BY id",
            (owner.platform, owner.user_id),
        )
        return [rule_of(r) for r in rows]

    async def count_of_member(self, owner: UserRef) -> int:
        row = await self._db.fetchone(  # kept by triggers (migration 017)
            "SELECT alerts FROM member_alert_counts WHERE owner_platform = ? AND owner_id = ?", (owner.platform, owner.user_id)
        )
        return int(row[0]) if row else 0

    async def same_member_rule(self, rule: Rule) -> Rule | None:
        if rule.owner is None:
            return None
        low, high = close_range(rule.threshold)
        rows = await self._db.fetchall(
            """SELECT * FROM rules_now WHERE owner_platform = ? AND owner_id = ? AND ticker = ? AND kind = ? AND threshold BETWEEN ? AND ?
                   AND source = 'member' AND direction = ? AND indicator IS ? AND period IS ? ORDER BY id""",
            (rule.owner.platform, rule.owner.user_id, rule.ticker, rule.kind.value, low, high, rule.direction.value, rule.indicator, rule.period),
        )
        return same_of(rule, [rule_of(r) for r in rows])

    async def expiring(self, before: date) -> list[Rule]:
        rows = await self._db.fetchall("SELECT * FROM rules_now WHERE expires_on IS NOT NULL AND expires_on < ? ORDER BY id", (before.isoformat(),))
        return [rule_of(r) for r in rows]

    async def analyst_levels(self, ticker: str | None = None) -> list[Rule]:
        if ticker is None:
            rows = await self._db.fetchall("SELECT * FROM rules_now WHERE source = 'analyst' ORDER BY ticker, level_name")
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM rules_now WHERE source = 'analyst' AND ticker = ? ORDER BY level_name", (ticker,)
            )
        return [rule_of(r) for r in rows]

    async def set_snooze(self, rule_id: int, until: datetime | None) -> None:
        await self._db.write("UPDATE rules SET snoozed_until = ? WHERE id = ?", (moment_text(until), rule_id))

    async def update_level(self, rule_id: int, *, threshold: float, direction: Direction, armed: bool | None) -> None:
        await self._db.write(
            "UPDATE rules SET threshold = ?, direction = ?, armed = ? WHERE id = ?",
            (threshold, direction.value, armed_to_db(armed), rule_id),
        )


def _written_at(rule: Rule, now: datetime) -> str | None:
    """An analyst's level was written when it says (a seed: its notes' date), else now."""
    if rule.source is not RuleSource.ANALYST:
        return None
    return (rule.written_at or now).isoformat()
