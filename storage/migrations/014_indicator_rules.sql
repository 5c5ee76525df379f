-- tickerbell schema, version 14 (issue 14, more conditions): alerts on indicators of the daily closes.
-- kind 'ma'     : the price crossing its moving average; indicator 'sma' or 'ema', period 2..250 (sessions).
-- kind 'rsi'    : the RSI crossing the level in threshold; indicator 'rsi', period 14.
-- kind 'change' : the change in percent (threshold) against the close `period` sessions earlier; indicator NULL.
-- Both columns are NULL for every other kind.
ALTER TABLE rules ADD COLUMN indicator TEXT;
ALTER TABLE rules ADD COLUMN period INTEGER;
