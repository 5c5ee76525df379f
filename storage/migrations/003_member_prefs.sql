-- Members' delivery preferences: dm = 1 sends their personal alerts by direct message.
CREATE TABLE member_prefs (
    platform   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    dm         INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
