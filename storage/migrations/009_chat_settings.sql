-- tickerbell schema, version 9: each chat's own settings (/settings, /digest) as one JSON value,
-- and the sell-off and drawdown watch rules per percentage (a chat may set its own).

CREATE TABLE chat_settings (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

DROP INDEX rules_one_watch_rule;
CREATE UNIQUE INDEX rules_one_watch_rule ON rules (ticker, kind, threshold) WHERE source = 'watch';
