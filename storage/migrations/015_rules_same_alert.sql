-- tickerbell schema, version 15 (issue 15): `/alert` refuses an alert the member already has. With the
-- member's ticker and kind in one index, that test reads the few rows that could match instead of every
-- one of the member's alerts (a script of 10,000 `/alert` lines read 50 million rows before).
CREATE INDEX rules_same_alert ON rules (owner_platform, owner_id, ticker, kind, threshold);
