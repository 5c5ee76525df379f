-- tickerbell schema, version 6 (PostgreSQL).
-- A direct message's fallback chat is a column of the delivery, no longer a field inside the alert.

ALTER TABLE outbox ADD COLUMN fallback_platform TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN fallback_chat_id TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN fallback_kind TEXT COLLATE "C";

-- Deliveries queued by an older tickerbell carry their fallback inside the payload: move it out.
UPDATE outbox SET
    fallback_platform = split_part(payload::jsonb #>> '{extra,fallback_chat}', ':', 1),
    fallback_chat_id = substr(payload::jsonb #>> '{extra,fallback_chat}', strpos(payload::jsonb #>> '{extra,fallback_chat}', ':') + 1),
    fallback_kind = coalesce(payload::jsonb #>> '{extra,fallback_kind}', 'private'),
    payload = (payload::jsonb #- '{extra,fallback_chat}' #- '{extra,fallback_kind}')::text
WHERE payload::jsonb #>> '{extra,fallback_chat}' IS NOT NULL;
