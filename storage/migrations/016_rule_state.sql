-- tickerbell schema, version 16 (issue 15): what a price check writes of each rule, out of the wide rules table.
-- A busy check disarms and re-arms tens of thousands of rules. As columns of `rules` (rows of a hundred
-- bytes and more) those writes touched most pages of a million-rule table at every commit; in this
-- narrow table a check upserts one small row per rule it changed, packed hundreds to a page.
-- A rule with a row here takes its armed flag from it (what the checks last recorded); a rule without
-- one keeps rules.armed (as /alert and the levels set it). Setting rules.armed (a level moved) sets
-- the row's too, and removing a rule removes its row (the triggers below). No foreign key: a check
-- recorded beside a rule's removal may leave a row for an id never given again, which nothing reads.
-- The stores read rules through the view `rules_now`, which is `rules` with armed and last_alert_at
-- from here. A later migration adding a column to `rules` recreates the view with it.
CREATE TABLE rule_state (
    rule_id       INTEGER PRIMARY KEY,
    armed         INTEGER,
    last_alert_at TEXT
);

-- The re-arm cooldown's times move here (rules.last_alert_at stays, unused, for older SQLite cannot drop a column).
INSERT INTO rule_state (rule_id, armed, last_alert_at) SELECT id, armed, last_alert_at FROM rules WHERE last_alert_at IS NOT NULL;
UPDATE rules SET last_alert_at = NULL WHERE last_alert_at IS NOT NULL;

CREATE TRIGGER rule_state_follows_armed AFTER UPDATE OF armed ON rules
BEGIN
    UPDATE rule_state SET armed = NEW.armed WHERE rule_id = NEW.id;
END;

CREATE TRIGGER rule_state_goes_with_its_rule AFTER DELETE ON rules
BEGIN
    DELETE FROM rule_state WHERE rule_id = OLD.id;
END;

CREATE VIEW rules_now AS
SELECT r.id, r.ticker, r.kind, r.threshold, r.direction, r.source, r.owner_platform, r.owner_id, r.owner_name,
       r.chat_platform, r.chat_id, r.chat_kind, r.level_name, r.note,
       CASE WHEN s.rule_id IS NULL THEN r.armed ELSE s.armed END AS armed,
       r.snoozed_until, r.created_at, r.multiple, r.basis, r.met_session, r.written_at,
       s.last_alert_at AS last_alert_at,
       r.once, r.expires_on, r.indicator, r.period
FROM rules AS r LEFT JOIN rule_state AS s ON s.rule_id = r.id;
