-- tickerbell schema, version 7 (PostgreSQL): when a delivery was given up (status 'dead'), for /status and /metrics.

ALTER TABLE outbox ADD COLUMN dead_at TEXT COLLATE "C";
CREATE INDEX outbox_dead_at ON outbox (dead_at) WHERE status = 'dead';
