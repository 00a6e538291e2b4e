-- Version 6: a card made for an application may wait for its holder (FLOW B: stock cards).
-- The application is then `made`: its card exists and is live (one live card per person holds
-- the person), so it no longer counts as open: a recall closes it, a hand-over issues it, and
-- the person may apply again once the card has ended. SQLite changes a CHECK only by rebuilding
-- the table: the rows are copied back with their ids (the other tables' foreign keys point at
-- them, checked when the transaction commits), the index made again.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE applications_v5 AS SELECT * FROM applications;
DROP TABLE applications;
CREATE TABLE applications (
    application_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ssn            TEXT NOT NULL REFERENCES persons (ssn),
    kind           TEXT NOT NULL CHECK (kind IN ('new', 'reissue', 'replacement')),
    status         TEXT NOT NULL CHECK (status IN ('open', 'verified', 'claimed', 'personalised', 'printed',
                                                    'made', 'issued', 'failed', 'cancelled')),
    claim_id       INTEGER,                                    -- provincial claim
    card_number    TEXT,                                       -- allocated by the province
    reissue_of     TEXT,                                       -- the card it replaces
    failure        TEXT,                                       -- why it failed, for the operator
    data           TEXT NOT NULL DEFAULT '{}',                 -- the applicant form (JSON)
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
INSERT INTO applications SELECT * FROM applications_v5;
DROP TABLE applications_v5;
CREATE UNIQUE INDEX one_open_application ON applications (ssn)
    WHERE status IN ('open', 'verified', 'claimed', 'personalised', 'printed');
