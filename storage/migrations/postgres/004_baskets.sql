-- tickerbell schema, version 4 (PostgreSQL): baskets, the chats that follow them, what was told about each.
CREATE TABLE baskets (
    name       TEXT COLLATE "C" PRIMARY KEY,
    tickers    TEXT COLLATE "C" NOT NULL,          -- space-separated, in the order given
    updated_by TEXT COLLATE "C",
    updated_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE basket_watches (
    platform   TEXT COLLATE "C" NOT NULL,
    chat_id    TEXT COLLATE "C" NOT NULL,
    chat_kind  TEXT COLLATE "C" NOT NULL DEFAULT 'private',
    name       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (platform, chat_id, name)
);
CREATE INDEX basket_watches_by_name ON basket_watches (name);

CREATE TABLE basket_state (
    name             TEXT COLLATE "C" PRIMARY KEY,
    selloff_session  TEXT COLLATE "C",
    drawdown_peak    DOUBLE PRECISION,             -- the peak level the drawdown alert was told for
    updated_at       TEXT COLLATE "C" NOT NULL
);
