-- tickerbell schema, version 16 (PostgreSQL; issue 15): what a price check writes of each rule, out of the
-- wide rules table. As SQLite's 016: a narrow table of each rule's armed flag and last alert, upserted by
-- the checks; a rule with a row takes its armed flag from it, one without keeps rules.armed; setting
-- rules.armed sets the row's, removing a rule removes its row; the stores read the view `rules_now`.
-- (PostgreSQL rewrites a whole row on any update, so the wide table cost a busy check here too.)
CREATE TABLE rule_state (
    rule_id       BIGINT PRIMARY KEY,
    armed         INTEGER,
    last_alert_at TEXT COLLATE "C"
);

INSERT INTO rule_state (rule_id, armed, last_alert_at) SELECT id, armed, last_alert_at FROM rules WHERE last_alert_at IS NOT NULL;
UPDATE rules SET last_alert_at = NULL WHERE last_alert_at IS NOT NULL;

CREATE FUNCTION rule_state_follows_armed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rule_state SET armed = NEW.armed WHERE rule_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rule_state_follows_armed AFTER UPDATE OF armed ON rules FOR EACH ROW EXECUTE FUNCTION rule_state_follows_armed();

CREATE FUNCTION rule_state_goes_with_its_rule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rule_state WHERE rule_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rule_state_goes_with_its_rule AFTER DELETE ON rules FOR EACH ROW EXECUTE FUNCTION rule_state_goes_with_its_rule();

CREATE VIEW rules_now AS
SELECT r.id, r.ticker, r.kind, r.threshold, r.direction, r.source, r.owner_platform, r.owner_id, r.owner_name,
       r.chat_platform, r.chat_id, r.chat_kind, r.level_name, r.note,
       CASE WHEN s.rule_id IS NULL THEN r.armed ELSE s.armed END AS armed,
       r.snoozed_until, r.created_at, r.multiple, r.basis, r.met_session, r.written_at,
       s.last_alert_at AS last_alert_at,
       r.once, r.expires_on, r.indicator, r.period
FROM rules AS r LEFT JOIN rule_state AS s ON s.rule_id = r.id;
