-- The station's local archive, version 1. Read this file to know the data: every table says
-- what it holds; every status is a closed list; nothing in the ledger is ever changed.

-- A person the station has served (the applicant or a guardian).
CREATE TABLE persons (
    ssn           TEXT PRIMARY KEY CHECK (length(ssn) = 18),   -- resident ID number
    name          TEXT NOT NULL,
    sex           TEXT CHECK (sex IN ('1', '2')),
    birth_date    TEXT,                                        -- YYYYMMDD
    ethnicity     TEXT,                                        -- GB 3304 code
    birthplace    TEXT,                                        -- GB/T 2260 code
    nationality   TEXT NOT NULL DEFAULT 'CHN',
    phone         TEXT,
    address       TEXT,
    created_at    INTEGER NOT NULL,                            -- unix seconds
    updated_at    INTEGER NOT NULL
) STRICT;

-- One application for a card: new, re-issue (old card stopped), or replacement.
CREATE TABLE applications (
    application_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ssn            TEXT NOT NULL REFERENCES persons (ssn),
    kind           TEXT NOT NULL CHECK (kind IN ('new', 'reissue', 'replacement')),
    status         TEXT NOT NULL CHECK (status IN ('open', 'verified', 'claimed', 'personalised', 'printed',
                                                    'issued', 'failed', 'cancelled')),
    claim_id       INTEGER,                                    -- provincial claim
    card_number    TEXT,                                       -- allocated by the province
    reissue_of     TEXT,                                       -- the card it replaces
    failure        TEXT,                                       -- why it failed, for the operator
    data           TEXT NOT NULL DEFAULT '{}',                 -- the applicant form (JSON)
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX one_open_application ON applications (ssn)
    WHERE status IN ('open', 'verified', 'claimed', 'personalised', 'printed');

-- Cards this station made.
CREATE TABLE cards (
    card_number    TEXT PRIMARY KEY,
    ssn            TEXT NOT NULL REFERENCES persons (ssn),
    application_id INTEGER NOT NULL REFERENCES applications (application_id),
    card_id        TEXT,                                       -- card identification code (hex)
    atr            TEXT,
    bank           TEXT,
    account        TEXT,
    status         TEXT NOT NULL CHECK (status IN ('made', 'issued', 'active', 'stopped', 'recalled',
                                                    'cancelled', 'failed')),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX one_live_card ON cards (ssn) WHERE status IN ('made', 'issued', 'active');

-- The ledger: every event of every card and application, in order, each entry chained to
-- the one before by SM3 (hash = SM3(prev_hash || canonical entry)), so a removed or edited
-- entry shows. Append-only: the triggers refuse UPDATE and DELETE.
CREATE TABLE ledger (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    station        TEXT NOT NULL,
    operator       TEXT NOT NULL,
    application_id INTEGER REFERENCES applications (application_id),
    card_number    TEXT,
    event          TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '{}',                 -- JSON; never keys, PINs or full ID numbers
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
) STRICT;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
