-- tickerbell schema, version 12 (PostgreSQL; issue 14): chats that answer cashtags ($NVDA) in
-- ordinary messages. A chat without a row has them off (the default). As SQLite's 012.
CREATE TABLE cashtag_chats (
    platform   TEXT COLLATE "C" NOT NULL,
    chat_id    TEXT COLLATE "C" NOT NULL,
    enabled    INTEGER NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

-- /history reads what fired in a chat, newest first.
CREATE INDEX outbox_by_chat ON outbox (platform, chat_id, id);
