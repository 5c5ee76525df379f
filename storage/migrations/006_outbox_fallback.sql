-- tickerbell schema, version 6.
-- A direct message's fallback chat (where it goes if the member's direct chat refuses the bot)
-- is a column of the delivery, chosen by the routing step, no longer a field inside the alert.

ALTER TABLE outbox ADD COLUMN fallback_platform TEXT;
ALTER TABLE outbox ADD COLUMN fallback_chat_id TEXT;
ALTER TABLE outbox ADD COLUMN fallback_kind TEXT;

-- Deliveries queued by an older tickerbell carry their fallback inside the payload: move it out.
UPDATE outbox SET
    fallback_platform = substr(json_extract(payload, '$.extra.fallback_chat'), 1,
                               instr(json_extract(payload, '$.extra.fallback_chat'), ':') - 1),
    fallback_chat_id = substr(json_extract(payload, '$.extra.fallback_chat'),
                              instr(json_extract(payload, '$.extra.fallback_chat'), ':') + 1),
    fallback_kind = coalesce(json_extract(payload, '$.extra.fallback_kind'), 'private'),
    payload = json_remove(payload, '$.extra.fallback_chat', '$.extra.fallback_kind')
WHERE json_extract(payload, '$.extra.fallback_chat') IS NOT NULL;
