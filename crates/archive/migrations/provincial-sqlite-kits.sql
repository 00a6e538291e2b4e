-- Outreach kits (the same tables as the provincial service's migration 0002). A kit's claims
-- live in `claims` (one live claim per person, whoever holds it); these tables tie them to
-- the lease. Numbers of kit claims go back to the pool only at check-in: a card may carry one.
CREATE TABLE IF NOT EXISTS kit_leases (
    lease_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    kit          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    expires_at   INTEGER NOT NULL,
    next_seq     INTEGER NOT NULL DEFAULT 1,         -- the record expected next
    checkin      TEXT,                               -- JSON answer of the check-in
    created_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS kit_claims (
    claim_id     INTEGER PRIMARY KEY REFERENCES claims (claim_id),
    lease_id     INTEGER NOT NULL REFERENCES kit_leases (lease_id),
    ssn          TEXT NOT NULL,
    premade_card TEXT REFERENCES cards (card_number)  -- in the kit's custody
);
CREATE INDEX IF NOT EXISTS kit_claims_by_lease ON kit_claims (lease_id);

CREATE TABLE IF NOT EXISTS kit_records (
    record_id    TEXT PRIMARY KEY,
    lease_id     INTEGER NOT NULL REFERENCES kit_leases (lease_id),
    seq          INTEGER NOT NULL,
    ssn          TEXT NOT NULL,
    event        TEXT NOT NULL,                       -- JSON
    result       TEXT NOT NULL,                       -- JSON, returned to every retry
    created_at   INTEGER NOT NULL,
    UNIQUE (lease_id, seq)
);

CREATE TABLE IF NOT EXISTS kit_conflicts (
    record_id    TEXT PRIMARY KEY REFERENCES kit_records (record_id),
    kit          TEXT NOT NULL,
    lease_id     INTEGER NOT NULL,
    ssn          TEXT NOT NULL,
    card_number  TEXT,
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

-- A supervisor's settling of a conflict; the conflict leaves the open list.
CREATE TABLE IF NOT EXISTS kit_conflict_resolutions (
    record_id    TEXT PRIMARY KEY REFERENCES kit_conflicts (record_id),
    resolved_by  TEXT NOT NULL,
    station      TEXT NOT NULL,
    note         TEXT NOT NULL,
    resolved_at  INTEGER NOT NULL
);
