-- tickerbell schema, version 12 (issue 14): chats that answer cashtags ($NVDA) in ordinary messages.
-- A chat without a row has them off (the default).
CREATE TABLE cashtag_chats (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

-- /history reads what fired in a chat, newest first.
CREATE INDEX outbox_by_chat ON outbox (platform, chat_id, id);
