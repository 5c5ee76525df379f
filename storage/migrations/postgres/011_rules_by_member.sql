-- tickerbell schema, version 11 (PostgreSQL): a member's alerts counted from the index alone (as
-- SQLite's 011). `/alert` counts the member's alerts against the limit; with `source` in the index,
-- the count is an index-only scan instead of a read of every one of the member's rows.

CREATE INDEX rules_by_member ON rules (owner_platform, owner_id, source);
