"""The outbox on PostgreSQL: the SQLite outbox's behaviour, plus claims so that several processes
share the deliveries.

A process *claims whole chats* (`claim`): in one transaction it picks the oldest due deliveries
with `SELECT ... FOR UPDATE SKIP LOCKED` (so concurrent claimers look at different rows and
never wait for each other), takes a claim row per chat in `outbox_claims` (primary key: the chat,
so a chat has one claim at most; taken only if free, lapsed, or already ours), and reads the
claimed chats' due deliveries in id order. Holding the chat, not single rows, keeps one chat's
deliveries in order and sent by one process at a time, including deliveries queued after the
claim. The claim lasts `claim_seconds` from the database's clock (no skew between hosts),
is renewed while the chat is served (`renew_claims`), and is deleted on `release`. A claim
whose process died lapses after `claim_seconds`, and its chat returns to the queue: the
delivery that process had in flight, if the platform accepted it, is sent again (at most one
per chat it was serving), and none is lost.

Times of deliveries are the injected clock's ISO text, as in SQLite; claim expiry is the
server's `clock_timestamp()`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from bot.core.messages import Alert, Delivery, Envelope
from bot.core.models import ChatRef
from bot.core.ports import OutboxCounts, StorageError
from storage.payloads import read_payload
from storage.postgres.database import PostgresDatabase, insert_envelopes
from storage.postgres.rows import chat_of

CLAIM_SECONDS = 30.0  # how long a claim lasts without renewal (the dispatcher renews every 5 s)

_COLUMNS = "id, platform, chat_id, chat_kind, payload, attempts"

_CANDIDATES = """
SELECT o.platform, o.chat_id FROM outbox o
WHERE o.status = 'pending' AND o.next_attempt_at <= $1 AND o.platform = ANY($2::text[])
  AND NOT EXISTS (SELECT 1 FROM outbox_claims c
                  WHERE c.platform = o.platform AND c.chat_id = o.chat_id
                    AND c.owner <> $3 AND c.expires_at > clock_timestamp())
ORDER BY o.id
LIMIT $4
FOR UPDATE OF o SKIP LOCKED
"""

# Sorted, so two claimers meeting on the same chats take them in one order and never deadlock.
_TAKE = """
INSERT INTO outbox_claims (platform, chat_id, owner, expires_at)
SELECT p, c, $3, clock_timestamp() + make_interval(secs => $4)
FROM unnest($1::text[], $2::text[]) AS t (p, c)
ORDER BY p, c
ON CONFLICT (platform, chat_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
    WHERE outbox_claims.owner = EXCLUDED.owner OR outbox_claims.expires_at <= clock_timestamp()
RETURNING platform, chat_id
"""

_CLAIMED_DUE = f"""
SELECT {_COLUMNS} FROM outbox
WHERE status = 'pending' AND next_attempt_at <= $1
  AND (platform, chat_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
ORDER BY id
LIMIT $4
"""

_DROP = """
DELETE FROM outbox_claims
WHERE owner = $1 AND (platform, chat_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
"""

_NEXT_DUE = """
SELECT MIN(o.next_attempt_at) FILTER (WHERE c.owner IS NULL OR c.owner = $2 OR c.expires_at <= clock_timestamp()) AS free_at,
       MIN(c.expires_at) FILTER (WHERE c.owner <> $2 AND c.expires_at > clock_timestamp()) AS lapses_at
FROM outbox o LEFT JOIN outbox_claims c ON c.platform = o.platform AND c.chat_id = o.chat_id
WHERE o.status = 'pending' AND o.platform = ANY($1::text[])
"""


def owner_name() -> str:
    """Who holds a claim: host, process and a random part (a restarted process is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PostgresOutboxStore:
    def __init__(self, db: PostgresDatabase, *, claim_seconds: float = CLAIM_SECONDS, owner: str | None = None) -> None:
        self._db = db
        self.claim_seconds = claim_seconds
        self.owner = owner or owner_name()

    async def enqueue(self, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        async with self._db.transaction() as tx:
            return await insert_envelopes(tx, envelopes, now=now)

    async def due(self, *, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[Delivery]:
        names = sorted(set(platforms))
        if not names:
            return []
        rows = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND platform = ANY($2::text[])
                ORDER BY id LIMIT $3""",
            now.isoformat(), names, limit,
        )
        return [_delivery(r) for r in rows]

    async def claim(self, *, now: datetime, platforms: Iterable[str], limit: int = 100, chats: int | None = None) -> list[Delivery]:
        names = sorted(set(platforms))
        if not names:
            return []
        stamp = now.isoformat()
        async with self._db.transaction() as tx:
            candidates = await tx.fetch(_CANDIDATES, stamp, names, self.owner, limit)
            wanted = list(dict.fromkeys((r["platform"], r["chat_id"]) for r in candidates))[:chats]  # no more than it can serve
            if not wanted:
                return []
            taken = await tx.fetch(_TAKE, [p for p, _ in wanted], [c for _, c in wanted], self.owner, self.claim_seconds)
            if not taken:
                return []
            platforms_, ids = [r["platform"] for r in taken], [r["chat_id"] for r in taken]
            rows = await tx.fetch(_CLAIMED_DUE, stamp, platforms_, ids, limit)
            served = {(r["platform"], r["chat_id"]) for r in rows}
            unserved = [(p, c) for p, c in zip(platforms_, ids, strict=True) if (p, c) not in served]
            if unserved:  # claimed, but beyond this batch: give them back now
                await tx.execute(_DROP, self.owner, [p for p, _ in unserved], [c for _, c in unserved])
        return [_delivery(r) for r in rows]

    async def release(self, chats: Iterable[ChatRef]) -> None:
        given = list(chats)
        if given:
            await self._db.execute(_DROP, self.owner, [c.platform for c in given], [c.chat_id for c in given])

    async def renew_claims(self) -> bool:
        await self._db.execute(
            "UPDATE outbox_claims SET expires_at = clock_timestamp() + make_interval(secs => $2) WHERE owner = $1",
            self.owner, self.claim_seconds,
        )
        return True

    async def pending_for_chat(self, chat: ChatRef) -> list[Delivery]:
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM outbox WHERE status = 'pending' AND platform = $1 AND chat_id = $2 ORDER BY id",
            chat.platform, chat.chat_id,
        )
        return [_delivery(r) for r in rows]

    async def next_due_at(self, platforms: Iterable[str]) -> datetime | None:
        """The earliest moment a delivery this process could claim becomes due: a free chat's next
        attempt, or the moment another process's claim lapses if it is not renewed."""
        names = sorted(set(platforms))
        if not names:
            return None
        row = await self._db.fetchrow(_NEXT_DUE, names, self.owner)
        if row is None:
            return None
        moments = [datetime.fromisoformat(row["free_at"]) if row["free_at"] else None, row["lapses_at"]]
        present = [m for m in moments if m is not None]
        return min(present) if present else None

    async def mark_sent(self, delivery_id: int, *, now: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1 WHERE id = $2 AND status = 'pending'",
            now.isoformat(), delivery_id,
        )

    async def mark_retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + $1, next_attempt_at = $2, last_error = $3 WHERE id = $4 AND status = 'pending'",
            int(count), at.isoformat(), error[:500], delivery_id,
        )

    async def next_attempt_at(self, delivery_id: int) -> datetime:
        value = await self._db.fetchval("SELECT next_attempt_at FROM outbox WHERE id = $1", delivery_id)
        if value is None:
            raise StorageError(f"no delivery {delivery_id}")
        return datetime.fromisoformat(value)

    async def mark_dead(self, delivery_id: int, *, error: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $1, dead_at = $2 WHERE id = $3",
            error[:500], now.isoformat(), delivery_id,
        )

    async def counts(self) -> OutboxCounts:
        rows = await self._db.fetch("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        counts = {r["status"]: int(r["n"]) for r in rows}
        return OutboxCounts(counts.get("pending", 0), counts.get("sent", 0), counts.get("dead", 0))

    async def delivered_to(self, chat: ChatRef, *, since: datetime, limit: int = 500) -> list[Alert]:
        # created_at is ISO 8601 with whatever offset the clock gave: compared as moments, not as text
        rows = await self._db.fetch(
            "SELECT created_at, payload FROM outbox WHERE platform = $1 AND chat_id = $2 AND status <> 'dead' ORDER BY id DESC LIMIT $3",
            chat.platform, chat.chat_id, limit,
        )
        return [read_payload(r["payload"]) for r in reversed(rows) if datetime.fromisoformat(r["created_at"]) >= since]


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(id=int(row["id"]), chat=chat_of(row), alert=read_payload(row["payload"]), attempts=int(row["attempts"]))
