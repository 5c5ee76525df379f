-- tickerbell schema, version 8: a member's alerts counted from the index alone. `/alert` counts
-- the member's alerts against the limit; without `source` in the index, each count read every
-- one of the member's rows (a backtest's script of 10,000 alerts read 50 million).

CREATE INDEX rules_by_member ON rules (owner_platform, owner_id, source);
