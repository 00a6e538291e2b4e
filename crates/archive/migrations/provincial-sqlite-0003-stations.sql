-- Migration 3: many stations, one province (RULE 10). The same as the provincial service's
-- provincial-pg-0003-stations.sql.
-- Stored answers are each station's own: keyed by (station, request id), with the request's
-- SM3 so a replay of the id with another body is refused. Answers stored before carry no hash
-- ('': the operation alone is compared).
CREATE TABLE requests_by_station (
    station      TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    op           TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    answer       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (station, request_id)
);
INSERT INTO requests_by_station (station, request_id, op, body_hash, answer, created_at)
    SELECT station, request_id, op, '', answer, created_at FROM requests;
DROP TABLE requests;
ALTER TABLE requests_by_station RENAME TO requests;

-- Every request the province acted on, with the station that sent it: append-only.
CREATE TABLE audit (
    audit_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    station      TEXT NOT NULL,
    op           TEXT NOT NULL,
    request_id   TEXT,
    request      TEXT NOT NULL,                 -- the request as sent (JSON)
    outcome      TEXT NOT NULL                  -- ok | replayed | refused:<kind>
);
CREATE INDEX audit_by_station ON audit (station, at);

-- Deaths with their evidence; a correction by a second supervisor ends the record.
CREATE TABLE deaths (
    ssn            TEXT PRIMARY KEY REFERENCES persons (ssn),
    station        TEXT NOT NULL,
    supervisor     TEXT NOT NULL,
    evidence       TEXT NOT NULL,
    recorded_at    INTEGER NOT NULL
);
CREATE TABLE death_corrections (
    correction_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    ssn            TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,               -- station/supervisor of the death corrected
    evidence       TEXT NOT NULL,
    station        TEXT NOT NULL,
    supervisor     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    corrected_at   INTEGER NOT NULL
);

-- Numbers of claims that ended while a card carrying them may exist (a lapsed lease, a
-- release that could not say where the card is): out of circulation until the station says.
CREATE TABLE held_card_numbers (
    card_number  TEXT PRIMARY KEY,
    station      TEXT NOT NULL,
    claim_id     INTEGER NOT NULL,
    since        INTEGER NOT NULL
);

-- The station a kit belongs to (from its certificate): only that station sees and settles
-- the kit's conflicts.
ALTER TABLE kit_leases ADD COLUMN owner TEXT;
