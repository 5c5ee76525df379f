-- tickerbell schema, version 5 (PostgreSQL).
-- A move alert set after its session had already moved enough stays quiet in that session.
ALTER TABLE rules ADD COLUMN met_session TEXT COLLATE "C";
-- The day of the basket peak whose drawdown was told: a later peak re-arms the alert.
ALTER TABLE basket_state ADD COLUMN drawdown_peak_day TEXT COLLATE "C";
-- Drawdowns told before this column existed keep counting as told (from their last update).
UPDATE basket_state SET drawdown_peak_day = substr(updated_at, 1, 10) WHERE drawdown_peak IS NOT NULL;
