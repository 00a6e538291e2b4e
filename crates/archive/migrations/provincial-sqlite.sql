-- The provincial archive on SQLite (one machine serves). The same rules as the PostgreSQL
-- schema of the provincial service: at most one live claim and one live card per person,
-- enforced by unique partial indexes.
CREATE TABLE IF NOT EXISTS persons (
    ssn          TEXT PRIMARY KEY,              -- 18-character resident ID number
    name         TEXT NOT NULL DEFAULT '',
    deceased_at  INTEGER                        -- unix seconds; set: no claims, no live cards
);

CREATE TABLE IF NOT EXISTS claims (
    claim_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ssn          TEXT NOT NULL REFERENCES persons (ssn),
    station      TEXT NOT NULL,
    card_number  TEXT NOT NULL,                 -- allocated for the card this claim makes
    reissue_of   TEXT,                          -- the live card it replaces
    state        TEXT NOT NULL CHECK (state IN ('live', 'committed', 'released', 'expired', 'cancelled')),
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_claim ON claims (ssn) WHERE state = 'live';

CREATE TABLE IF NOT EXISTS cards (
    card_number  TEXT PRIMARY KEY,
    ssn          TEXT NOT NULL REFERENCES persons (ssn),
    card_id      TEXT,
    atr          TEXT,
    status       TEXT NOT NULL CHECK (status IN ('made', 'issued', 'active', 'stopped', 'recalled', 'cancelled', 'failed')),
    station      TEXT NOT NULL,
    claim_id     INTEGER REFERENCES claims (claim_id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_card ON cards (ssn) WHERE status IN ('made', 'issued', 'active');

-- Card numbers: a counter per prefix, and the numbers of released or expired claims, which
-- are handed out again first so the sequence has no gaps.
CREATE TABLE IF NOT EXISTS card_number_counter (prefix TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS free_card_numbers (card_number TEXT PRIMARY KEY);

-- Idempotency: the first answer to every request id, returned to any retry.
CREATE TABLE IF NOT EXISTS requests (
    request_id   TEXT PRIMARY KEY,
    station      TEXT NOT NULL,
    op           TEXT NOT NULL,
    answer       TEXT NOT NULL,                 -- JSON: {"ok": ...} or {"refused": ...}
    created_at   INTEGER NOT NULL
);
