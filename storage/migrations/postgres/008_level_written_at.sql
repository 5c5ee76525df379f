-- tickerbell schema, version 8 (PostgreSQL): when an analyst's level was written (a seed level: its
-- notes' date), for the note's age in /levels and /primer. Levels stored before keep their creation time.

ALTER TABLE rules ADD COLUMN written_at TEXT COLLATE "C";
UPDATE rules SET written_at = created_at WHERE source = 'analyst';
