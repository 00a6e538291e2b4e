-- Migration 0005: a re-issue that never strands the holder. A stop that is the replacement of
-- a live re-issue claim records that claim (`stopped_for_claim`) and the status the card had
-- (`status_before_stop`): only that claim, while live, may restore the card to that status.
-- The same as the SQLite archive's provincial-sqlite-0005-restore.sql.
ALTER TABLE cards ADD COLUMN stopped_for_claim bigint;
ALTER TABLE cards ADD COLUMN status_before_stop text;
