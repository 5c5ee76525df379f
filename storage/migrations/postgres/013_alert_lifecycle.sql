-- tickerbell schema, version 13 (PostgreSQL; issue 14): a member's alert may fire once, or expire.
-- once: 1 removed after it fires. expires_on: the last day it is checked (ISO date), then removed.
-- As SQLite's 013.
ALTER TABLE rules ADD COLUMN once INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rules ADD COLUMN expires_on TEXT COLLATE "C";
CREATE INDEX rules_expiring ON rules (expires_on) WHERE expires_on IS NOT NULL;

-- Catalysts beyond earnings (/setcatalyst NVDA 2025-03-18 GTC keynote): one per ticker and day.
CREATE TABLE catalysts (
    ticker     TEXT COLLATE "C" NOT NULL,
    day        TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    set_by     TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (ticker, day)
);
CREATE INDEX catalysts_by_day ON catalysts (day);
