-- Version 9: identity verification's correction loop. A job whose verification answered a
-- mismatch waits `correcting` (the journal's line `mismatch` with the register's hints) until
-- the operator corrects the applicant (the line `corrected`, the job running again) or ends it
-- (the line `ended`). The tables are rebuilt as in version 8 (SQLite changes a CHECK only so),
-- their rows and job numbers kept.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE journal_v8 AS SELECT * FROM journal;
CREATE TEMP TABLE jobs_v8 AS SELECT * FROM jobs;
CREATE TEMP TABLE jobs_seq_v8 AS SELECT seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE journal;
DROP TABLE jobs;
CREATE TABLE jobs (
    job_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications (application_id),
    kind           TEXT NOT NULL CHECK (kind IN ('instant', 'batch')),
    status         TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'rolled_back', 'held',
                                                   'restored', 'correcting')),
    state          TEXT NOT NULL DEFAULT '{}',                 -- JSON: what the steps produced
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE TABLE journal (
    job_id         INTEGER NOT NULL REFERENCES jobs (job_id),
    seq            INTEGER NOT NULL,
    step           TEXT NOT NULL,
    phase          TEXT NOT NULL CHECK (phase IN ('begin', 'done', 'failed', 'undone', 'held', 'resumed',
                                                 'mismatch', 'corrected', 'ended')),
    detail         TEXT NOT NULL DEFAULT '{}',                 -- JSON; never keys, PINs or full ID numbers
    at             INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) STRICT;
INSERT INTO jobs SELECT * FROM jobs_v8;
INSERT INTO journal SELECT * FROM journal_v8;
-- AUTOINCREMENT: job numbers never repeat, whatever the rebuild (the copy set the sequence to
-- the highest job kept; the old sequence may be higher).
DELETE FROM sqlite_sequence WHERE name = 'jobs';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'jobs', max(coalesce((SELECT max(seq) FROM jobs_seq_v8), 0), coalesce((SELECT max(job_id) FROM jobs), 0));
DROP TABLE journal_v8;
DROP TABLE jobs_v8;
DROP TABLE jobs_seq_v8;
