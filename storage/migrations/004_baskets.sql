-- Baskets: a named group of tickers followed as one equal-weight index (rebalanced daily).
CREATE TABLE baskets (
    name       TEXT PRIMARY KEY,
    tickers    TEXT NOT NULL,          -- space-separated, in the order given
    updated_by TEXT,
    updated_at TEXT NOT NULL
);

-- Chats that follow a basket's sell-offs and drawdowns.
CREATE TABLE basket_watches (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    chat_kind  TEXT NOT NULL DEFAULT 'private',
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, name)
);
CREATE INDEX basket_watches_by_name ON basket_watches (name);

-- What a basket's watch remembers: the session its sell-off was told, and whether the
-- drawdown from its current peak was told.
CREATE TABLE basket_state (
    name             TEXT PRIMARY KEY,
    selloff_session  TEXT,
    drawdown_peak    REAL,             -- the peak level the drawdown alert was told for
    updated_at       TEXT NOT NULL
);
