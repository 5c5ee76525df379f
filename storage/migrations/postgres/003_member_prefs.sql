-- tickerbell schema, version 3 (PostgreSQL): members' delivery preferences (dm = 1: personal alerts by direct message).
CREATE TABLE member_prefs (
    platform   TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    dm         INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (platform, user_id)
);
