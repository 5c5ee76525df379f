-- tickerbell schema, version 10 (PostgreSQL): when each rule last alerted, for the re-arm cooldown
-- ([alerts] rearm_cooldown_minutes) across restarts.
ALTER TABLE rules ADD COLUMN last_alert_at TEXT COLLATE "C";
