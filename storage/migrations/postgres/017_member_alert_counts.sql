-- tickerbell schema, version 17 (PostgreSQL; issue 15): how many alerts each member has, kept by a trigger
-- as rules are added, removed or moved; as SQLite's 017. `/alert` reads one row instead of counting the
-- member's rows. Derived data: the copy from SQLite does not copy it (the trigger counts the rules copied).
CREATE TABLE member_alert_counts (
    owner_platform TEXT COLLATE "C" NOT NULL,
    owner_id       TEXT COLLATE "C" NOT NULL,
    alerts         INTEGER NOT NULL,
    PRIMARY KEY (owner_platform, owner_id)
);

INSERT INTO member_alert_counts (owner_platform, owner_id, alerts)
SELECT owner_platform, owner_id, COUNT(*) FROM rules
WHERE source = 'member' AND owner_platform IS NOT NULL AND owner_id IS NOT NULL
GROUP BY owner_platform, owner_id;

CREATE FUNCTION member_alert_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.source = 'member' AND OLD.owner_platform IS NOT NULL AND OLD.owner_id IS NOT NULL THEN
        UPDATE member_alert_counts SET alerts = alerts - 1 WHERE owner_platform = OLD.owner_platform AND owner_id = OLD.owner_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.source = 'member' AND NEW.owner_platform IS NOT NULL AND NEW.owner_id IS NOT NULL THEN
        INSERT INTO member_alert_counts (owner_platform, owner_id, alerts) VALUES (NEW.owner_platform, NEW.owner_id, 1)
        ON CONFLICT (owner_platform, owner_id) DO UPDATE SET alerts = member_alert_counts.alerts + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER member_alert_counted AFTER INSERT OR DELETE OR UPDATE OF source, owner_platform, owner_id ON rules
FOR EACH ROW EXECUTE FUNCTION member_alert_counted();
