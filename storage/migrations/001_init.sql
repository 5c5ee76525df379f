-- tickerbell schema, version 1.

-- Chats the bot talks to; a chat that blocked or removed the bot is inactive until it speaks again.
CREATE TABLE chats (
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'private',
    active          INTEGER NOT NULL DEFAULT 1,
    inactive_reason TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

-- Every rule the engine checks: members' alerts, chats' sell-off watches, the analyst's levels.
-- threshold is a price (above/below/cross) or a percent (move/drawdown).
-- armed: 1 ready to fire, 0 fired and waiting to re-arm, NULL no price seen yet.
CREATE TABLE rules (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ticker         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    threshold      REAL NOT NULL,
    direction      TEXT NOT NULL DEFAULT 'either',
    source         TEXT NOT NULL,
    owner_platform TEXT,
    owner_id       TEXT,
    owner_name     TEXT,
    chat_platform  TEXT,
    chat_id        TEXT,
    chat_kind      TEXT,
    level_name     TEXT,
    note           TEXT,
    armed          INTEGER,
    snoozed_until  TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX rules_by_ticker ON rules (ticker);
CREATE INDEX rules_by_owner ON rules (owner_platform, owner_id);
CREATE UNIQUE INDEX rules_one_analyst_level ON rules (ticker, level_name) WHERE source = 'analyst';
CREATE UNIQUE INDEX rules_one_watch_rule ON rules (ticker, kind) WHERE source = 'watch';

-- Tickers a chat follows: the analyst's levels and sell-off alerts for them reach the chat.
CREATE TABLE watches (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    chat_kind  TEXT NOT NULL DEFAULT 'private',
    ticker     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, ticker)
);
CREATE INDEX watches_by_ticker ON watches (ticker);

-- What the engine remembers of each ticker between checks.
CREATE TABLE ticker_state (
    ticker           TEXT PRIMARY KEY,
    last_price       REAL,
    session          TEXT,
    max_up_pct       REAL NOT NULL DEFAULT 0,
    max_down_pct     REAL NOT NULL DEFAULT 0,
    peak             REAL,
    max_drawdown_pct REAL NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
);

-- Splits already applied to stored levels and rules, so a restart never applies one twice.
CREATE TABLE applied_splits (
    ticker     TEXT NOT NULL,
    day        TEXT NOT NULL,
    ratio      REAL NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (ticker, day)
);

-- Deliveries: written in the same transaction that records a rule firing; sent once.
-- status: pending, sent, dead (undeliverable: the chat is gone).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT NOT NULL,
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    chat_kind       TEXT NOT NULL DEFAULT 'private',
    kind            TEXT NOT NULL,
    ticker          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
