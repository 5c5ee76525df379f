-- tickerbell schema, version 14 (PostgreSQL; issue 14, more conditions): alerts on indicators of the daily closes.
-- kind 'ma': the price crossing its moving average (indicator 'sma' or 'ema', period in sessions);
-- kind 'rsi': the RSI crossing the level in threshold (indicator 'rsi', period 14);
-- kind 'change': the change in percent (threshold) against the close `period` sessions earlier.
-- Both columns are NULL for every other kind. As SQLite's 014.
ALTER TABLE rules ADD COLUMN indicator TEXT COLLATE "C";
ALTER TABLE rules ADD COLUMN period INTEGER;
