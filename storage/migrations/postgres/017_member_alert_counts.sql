-- tickerbell schema, version 17 (PostgreSQL; issue 15): how many alerts each member has, kept by triggers
-- as rules are added, removed or moved; as SQLite's 017. `/alert` reads one row instead of counting the
-- member's rows. The triggers run once a statement, over its rows (transition tables): a row trigger
-- would update one member's counter once per rule, and a COPY of 100,000 rules of one member would leave
-- 100,000 versions of that row in one transaction, each update walking the ones before it.
-- Derived data: the copy from SQLite does not copy it (the triggers count the rules copied).
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

CREATE FUNCTION member_alerts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member_alert_counts (owner_platform, owner_id, alerts)
    SELECT owner_platform, owner_id, COUNT(*) FROM added
    WHERE source = 'member' AND owner_platform IS NOT NULL AND owner_id IS NOT NULL
    GROUP BY owner_platform, owner_id
    ON CONFLICT (owner_platform, owner_id) DO UPDATE SET alerts = member_alert_counts.alerts + excluded.alerts;
    RETURN NULL;
END
$$;
CREATE TRIGGER member_alerts_added AFTER INSERT ON rules REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION member_alerts_added();

CREATE FUNCTION member_alerts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE member_alert_counts AS c SET alerts = c.alerts - gone.alerts
    FROM (SELECT owner_platform, owner_id, COUNT(*) AS alerts FROM removed
          WHERE source = 'member' AND owner_platform IS NOT NULL AND owner_id IS NOT NULL
          GROUP BY owner_platform, owner_id) AS gone
    WHERE c.owner_platform = gone.owner_platform AND c.owner_id = gone.owner_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER member_alerts_removed AFTER DELETE ON rules REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION member_alerts_removed();

-- A rule given to another member, or turned into or out of a member's alert (nothing does this today):
-- out of the old owner's count, into the new one's. Other updates of rules change no count.
CREATE FUNCTION member_alerts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member_alert_counts (owner_platform, owner_id, alerts)
    SELECT owner_platform, owner_id, SUM(change) FROM (
        SELECT b.owner_platform, b.owner_id, -1 AS change FROM before AS b JOIN after AS a ON a.id = b.id
        WHERE b.source = 'member' AND b.owner_platform IS NOT NULL AND b.owner_id IS NOT NULL
          AND (a.source, a.owner_platform, a.owner_id) IS DISTINCT FROM (b.source, b.owner_platform, b.owner_id)
        UNION ALL
        SELECT a.owner_platform, a.owner_id, 1 AS change FROM before AS b JOIN after AS a ON a.id = b.id
        WHERE a.source = 'member' AND a.owner_platform IS NOT NULL AND a.owner_id IS NOT NULL
          AND (a.source, a.owner_platform, a.owner_id) IS DISTINCT FROM (b.source, b.owner_platform, b.owner_id)
    ) AS moves
    GROUP BY owner_platform, owner_id
    ON CONFLICT (owner_platform, owner_id) DO UPDATE SET alerts = member_alert_counts.alerts + excluded.alerts;
    RETURN NULL;
END
$$;
CREATE TRIGGER member_alerts_moved AFTER UPDATE ON rules REFERENCING OLD TABLE AS before NEW TABLE AS after
FOR EACH STATEMENT EXECUTE FUNCTION member_alerts_moved();
