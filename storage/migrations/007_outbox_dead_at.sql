-- tickerbell schema, version 7: when a delivery was given up (status 'dead'), for /status and /metrics.

ALTER TABLE outbox ADD COLUMN dead_at TEXT;
CREATE INDEX outbox_dead_at ON outbox (dead_at) WHERE status = 'dead';
