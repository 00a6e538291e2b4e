-- Migration 0003: many stations, one province (RULE 10). The same as the SQLite archive's
-- provincial-sqlite-0003-stations.sql.
-- Stored answers are each station's own: keyed by (station, request id), with the request's
-- SM3 so a replay of the id with another body is refused ('' before: the operation alone).
ALTER TABLE requests ADD COLUMN body_hash text NOT NULL DEFAULT '';
ALTER TABLE requests DROP CONSTRAINT requests_pkey;
ALTER TABLE requests ADD PRIMARY KEY (station, request_id);

-- Every request the province acted on, with the station that sent it: append-only.
CREATE TABLE audit (
    audit_id     bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    station      text NOT NULL,                               -- client certificate CN
    op           text NOT NULL,
    request_id   text,
    request      jsonb NOT NULL,                              -- the request as sent
    outcome      text NOT NULL                                -- ok | replayed | refused:<kind>
);
CREATE INDEX audit_by_station ON audit (station, at);

-- Deaths with their evidence; a correction by a second supervisor ends the record.
CREATE TABLE deaths (
    ssn          text PRIMARY KEY REFERENCES persons (ssn),
    station      text NOT NULL,
    supervisor   text NOT NULL,
    evidence     text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE death_corrections (
    correction_id bigserial PRIMARY KEY,
    ssn          text NOT NULL,
    recorded_by  text NOT NULL,                               -- station/supervisor corrected
    evidence     text NOT NULL,
    station      text NOT NULL,
    supervisor   text NOT NULL,
    reason       text NOT NULL,
    corrected_at timestamptz NOT NULL DEFAULT now()
);

-- Numbers of claims that ended while a card carrying them may exist (a lapsed lease, a
-- release that could not say where the card is): out of circulation until the station says.
CREATE TABLE held_card_numbers (
    card_number  text PRIMARY KEY,
    station      text NOT NULL,
    claim_id     bigint NOT NULL,
    since        timestamptz NOT NULL DEFAULT now()
);

-- The station a kit belongs to (its certificate's OU): only that station sees and settles
-- the kit's conflicts.
ALTER TABLE kit_leases ADD COLUMN owner text;
