-- Outreach kits (the same tables as the SQLite archive's provincial-sqlite-kits.sql). A kit's
-- claims live in `claims` (one live claim per person, whoever holds it); these tables tie them
-- to the lease. Numbers of kit claims go back to the pool only at check-in: a card made
-- offline may carry one.
CREATE TABLE IF NOT EXISTS kit_leases (
    lease_id     bigserial PRIMARY KEY,
    kit          text NOT NULL,                              -- client certificate CN
    state        text NOT NULL CHECK (state IN ('open', 'closed')),
    expires_at   timestamptz NOT NULL,
    next_seq     bigint NOT NULL DEFAULT 1,                  -- the record expected next
    checkin      jsonb,                                      -- the check-in's answer
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS kit_claims (
    claim_id     bigint PRIMARY KEY REFERENCES claims (claim_id),
    lease_id     bigint NOT NULL REFERENCES kit_leases (lease_id),
    ssn          text NOT NULL,
    premade_card text REFERENCES cards (card_number)         -- in the kit's custody
);
CREATE INDEX IF NOT EXISTS kit_claims_by_lease ON kit_claims (lease_id);

CREATE TABLE IF NOT EXISTS kit_records (
    record_id    text PRIMARY KEY,
    lease_id     bigint NOT NULL REFERENCES kit_leases (lease_id),
    seq          bigint NOT NULL,
    ssn          text NOT NULL,
    event        jsonb NOT NULL,
    result       jsonb NOT NULL,                             -- returned to every retry
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lease_id, seq)
);

CREATE TABLE IF NOT EXISTS kit_conflicts (
    record_id    text PRIMARY KEY REFERENCES kit_records (record_id),
    kit          text NOT NULL,
    lease_id     bigint NOT NULL,
    ssn          text NOT NULL,
    card_number  text,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A supervisor's settling of a conflict; the conflict leaves the open list.
CREATE TABLE IF NOT EXISTS kit_conflict_resolutions (
    record_id    text PRIMARY KEY REFERENCES kit_conflicts (record_id),
    resolved_by  text NOT NULL,
    station      text NOT NULL,
    note         text NOT NULL,
    resolved_at  timestamptz NOT NULL DEFAULT now()
);
