-- Version 5: the requests the API accepted, kept before it answers 202 so that a crash loses
-- none. A request is queued, then started by the worker (with the job that serves it, once the
-- job exists), then ended with its outcome; after a crash, queued ones run, started ones
-- without a job end with their reason, and the others follow their job. Request numbers come
-- from AUTOINCREMENT: never reused, not even after a crash.
CREATE TABLE job_requests (
    request_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    operator       TEXT NOT NULL,
    request        TEXT NOT NULL,                              -- JSON: the applicant, the card it replaces
    status         TEXT NOT NULL CHECK (status IN ('queued', 'started', 'ended')),
    job_id         INTEGER REFERENCES jobs (job_id),
    outcome        TEXT,                                       -- issued | refused | rolled-back | error | interrupted
    detail         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX job_requests_open ON job_requests (status) WHERE status <> 'ended';
CREATE INDEX job_requests_job ON job_requests (job_id);
