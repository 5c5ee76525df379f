-- tickerbell schema, version 2 (PostgreSQL): valuation levels, primer seeds, earnings dates and
-- subscriptions. The same as SQLite's 002_primers_earnings.sql, which explains each column.

ALTER TABLE rules ADD COLUMN multiple DOUBLE PRECISION;
ALTER TABLE rules ADD COLUMN basis TEXT COLLATE "C";

CREATE TABLE primer_seeds (
    ticker     TEXT COLLATE "C" NOT NULL,
    level_name TEXT COLLATE "C" NOT NULL,
    spec       TEXT COLLATE "C" NOT NULL,
    applied_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (ticker, level_name)
);

CREATE TABLE earnings_dates (
    ticker        TEXT COLLATE "C" NOT NULL,
    day           TEXT COLLATE "C" NOT NULL,
    time          TEXT COLLATE "C" NOT NULL DEFAULT 'unknown',
    source        TEXT COLLATE "C" NOT NULL DEFAULT 'provider',
    provider_day  TEXT COLLATE "C",
    provider_time TEXT COLLATE "C",
    updated_at    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (ticker, day)
);

CREATE TABLE earnings_subscriptions (
    platform    TEXT COLLATE "C" NOT NULL,
    chat_id     TEXT COLLATE "C" NOT NULL,
    chat_kind   TEXT COLLATE "C" NOT NULL DEFAULT 'private',
    ticker      TEXT COLLATE "C" NOT NULL,
    days_before INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (platform, chat_id, ticker)
);
CREATE INDEX earnings_subscriptions_by_ticker ON earnings_subscriptions (ticker);
