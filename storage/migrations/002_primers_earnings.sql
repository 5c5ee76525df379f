-- tickerbell schema, version 2: valuation levels, primer seeds, earnings dates and subscriptions.

-- A valuation level: the analyst's level as a multiple of EPS. `threshold` is then
-- multiple x EPS as of the last refresh; 0 means no usable EPS (the level is inactive:
-- a price rule at 0 can never be crossed by a positive price, so it never fires).
-- basis: 'pe' (trailing EPS) or 'fpe' (forward EPS); both NULL for a plain price level.
ALTER TABLE rules ADD COLUMN multiple REAL;
ALTER TABLE rules ADD COLUMN basis TEXT;

-- Primer seed levels already applied, with the seed as it was (spec, e.g. 'price:125' or
-- 'multiple:36:fpe'). A level is seeded once: a level an admin set or cleared in chat wins,
-- until the analyst changes that level in the seed file.
CREATE TABLE primer_seeds (
    ticker     TEXT NOT NULL,
    level_name TEXT NOT NULL,
    spec       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (ticker, level_name)
);

-- The earnings reports we believe in: every report date that was once the next one (the
-- past ones are the history recaps use), and at most one upcoming date per ticker.
-- time: bmo, amc or unknown. source: provider (from market data) or admin (/setearnings).
-- provider_day/provider_time: for an admin's date, what the provider said about that
-- quarter when the admin set it; the admin's date wins until the provider says otherwise.
CREATE TABLE earnings_dates (
    ticker        TEXT NOT NULL,
    day           TEXT NOT NULL,
    time          TEXT NOT NULL DEFAULT 'unknown',
    source        TEXT NOT NULL DEFAULT 'provider',
    provider_day  TEXT,
    provider_time TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (ticker, day)
);

-- Chats that get a ticker's earnings reminders and recaps.
CREATE TABLE earnings_subscriptions (
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    chat_kind   TEXT NOT NULL DEFAULT 'private',
    ticker      TEXT NOT NULL,
    days_before INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, ticker)
);
CREATE INDEX earnings_subscriptions_by_ticker ON earnings_subscriptions (ticker);
