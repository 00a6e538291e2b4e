-- Version 2: issuance jobs and their journal. Every step of a job is written here before it
-- starts and after it ends (each its own transaction), so after a crash the station knows the
-- last step begun and whether it finished, and resumes or rolls back from there.
CREATE TABLE jobs (
    job_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications (application_id),
    kind           TEXT NOT NULL CHECK (kind IN ('instant', 'batch')),
    status         TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'rolled_back')),
    state          TEXT NOT NULL DEFAULT '{}',                 -- JSON: what the steps produced
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE journal (
    job_id         INTEGER NOT NULL REFERENCES jobs (job_id),
    seq            INTEGER NOT NULL,
    step           TEXT NOT NULL,
    phase          TEXT NOT NULL CHECK (phase IN ('begin', 'done', 'failed', 'undone')),
    detail         TEXT NOT NULL DEFAULT '{}',                 -- JSON; never keys, PINs or full ID numbers
    at             INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) STRICT;
