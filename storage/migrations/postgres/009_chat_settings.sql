-- tickerbell schema, version 9 (PostgreSQL): each chat's own settings (/settings, /digest) as one JSON
-- value (text, `ChatSettings.to_json()`, as on SQLite), and the sell-off and drawdown watch rules per
-- percentage (a chat may set its own).

CREATE TABLE chat_settings (
    platform   TEXT COLLATE "C" NOT NULL,
    chat_id    TEXT COLLATE "C" NOT NULL,
    data       TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

DROP INDEX rules_one_watch_rule;
CREATE UNIQUE INDEX rules_one_watch_rule ON rules (ticker, kind, threshold) WHERE source = 'watch';
