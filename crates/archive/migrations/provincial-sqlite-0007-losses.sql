-- Migration 7: temporary losses (口头挂失). A report suspends a live card until `until`; the
-- holder at a counter lifts it (解挂), a formal loss (a stop) ends it, or it lapses by itself
-- (`until` passed, nothing ended it: the card is live again). At most one in force per card
-- (checked under the transaction's lock). The same as the provincial service's
-- provincial-pg-0007-losses.sql.
CREATE TABLE IF NOT EXISTS card_suspensions (
    suspension_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    card_number    TEXT NOT NULL REFERENCES cards (card_number),
    station        TEXT NOT NULL,                       -- took the report
    channel        TEXT NOT NULL CHECK (channel IN ('phone', 'counter')),
    operator       TEXT NOT NULL,
    since          INTEGER NOT NULL,                    -- unix time
    until          INTEGER NOT NULL,
    ended          TEXT CHECK (ended IN ('lifted', 'stopped')),
    ended_at       INTEGER,
    ended_by       TEXT                                 -- station/operator
);
CREATE INDEX IF NOT EXISTS card_suspensions_by_card ON card_suspensions (card_number, suspension_id);
