-- tickerbell schema, version 15 (PostgreSQL; issue 15): as SQLite's 015, the member's alerts on one ticker
-- and kind found from an index, for `/alert`'s test of an alert the member already has.
CREATE INDEX rules_same_alert ON rules (owner_platform, owner_id, ticker, kind, threshold);
