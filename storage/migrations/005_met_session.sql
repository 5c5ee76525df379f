-- A move alert set after its session had already moved enough stays quiet in that session.
ALTER TABLE rules ADD COLUMN met_session TEXT;
-- The day of the basket peak whose drawdown was told: a later peak re-arms the alert.
ALTER TABLE basket_state ADD COLUMN drawdown_peak_day TEXT;
