-- tickerbell schema, version 17 (issue 15): how many alerts each member has, kept by triggers as rules are
-- added and removed. `/alert` refuses an alert past `[bot] max_alerts_per_user`; counting the member's rows
-- in the index read every one of them (a member of 10,000 alerts: 0.7 ms an /alert, quadratic over a script).
-- Derived data: `tickerbell migrate --from sqlite:///... --to postgresql://...` does not copy it, the
-- target's triggers count the rules as they arrive.
CREATE TABLE member_alert_counts (
    owner_platform TEXT NOT NULL,
    owner_id       TEXT NOT NULL,
    alerts         INTEGER NOT NULL,
    PRIMARY KEY (owner_platform, owner_id)
) WITHOUT ROWID;

INSERT INTO member_alert_counts (owner_platform, owner_id, alerts)
SELECT owner_platform, owner_id, COUNT(*) FROM rules
WHERE source = 'member' AND owner_platform IS NOT NULL AND owner_id IS NOT NULL
GROUP BY owner_platform, owner_id;

CREATE TRIGGER member_alert_added AFTER INSERT ON rules
WHEN NEW.source = 'member' AND NEW.owner_platform IS NOT NULL AND NEW.owner_id IS NOT NULL
BEGIN
    INSERT INTO member_alert_counts (owner_platform, owner_id, alerts) VALUES (NEW.owner_platform, NEW.owner_id, 1)
    ON CONFLICT (owner_platform, owner_id) DO UPDATE SET alerts = alerts + 1;
END;

CREATE TRIGGER member_alert_removed AFTER DELETE ON rules
WHEN OLD.source = 'member' AND OLD.owner_platform IS NOT NULL AND OLD.owner_id IS NOT NULL
BEGIN
    UPDATE member_alert_counts SET alerts = alerts - 1 WHERE owner_platform = OLD.owner_platform AND owner_id = OLD.owner_id;
END;

CREATE TRIGGER member_alert_moved AFTER UPDATE OF source, owner_platform, owner_id ON rules
BEGIN
    UPDATE member_alert_counts SET alerts = alerts - 1
    WHERE OLD.source = 'member' AND owner_platform = OLD.owner_platform AND owner_id = OLD.owner_id;
    INSERT INTO member_alert_counts (owner_platform, owner_id, alerts)
    SELECT NEW.owner_platform, NEW.owner_id, 1 WHERE NEW.source = 'member' AND NEW.owner_platform IS NOT NULL AND NEW.owner_id IS NOT NULL
    ON CONFLICT (owner_platform, owner_id) DO UPDATE SET alerts = alerts + 1;
END;
