-- Migration 0007: temporary losses (口头挂失). A report suspends a live card until `until`;
-- the holder at a counter lifts it (解挂), a formal loss (a stop) ends it, or it lapses by
-- itself (`until` passed, nothing ended it: the card is live again). At most one in force per
-- card: checked under the person's row lock, which every change to the card takes first.
-- The same as the SQLite archive's provincial-sqlite-0007-losses.sql.
CREATE TABLE IF NOT EXISTS card_suspensions (
    suspension_id  bigserial PRIMARY KEY,
    card_number    text NOT NULL REFERENCES cards (card_number),
    station        text NOT NULL,                       -- took the report
    channel        text NOT NULL CHECK (channel IN ('phone', 'counter')),
    operator       text NOT NULL,
    since          bigint NOT NULL,                     -- unix time
    until          bigint NOT NULL,
    ended          text CHECK (ended IN ('lifted', 'stopped')),
    ended_at       bigint,
    ended_by       text                                 -- station/operator
);
CREATE INDEX IF NOT EXISTS card_suspensions_by_card ON card_suspensions (card_number, suspension_id);
