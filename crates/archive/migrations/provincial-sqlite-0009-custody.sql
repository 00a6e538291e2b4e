-- Migration 9: custody approvals (RULE 4) at the province. A station records the approvals of
-- the live cards it answers for, so an outreach kit that carries such a card hands it to the
-- approved custodian offline, and the province checks the approval again when the hand-over
-- record arrives. Append-only: a later approval supersedes by its later date; none is edited.
-- The same as the provincial service's provincial-pg-0009-custody.sql.
CREATE TABLE IF NOT EXISTS custody_approvals (
    approval_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    station        TEXT NOT NULL,
    card_number    TEXT NOT NULL REFERENCES cards (card_number),
    holder_group   TEXT NOT NULL CHECK (holder_group IN ('minimum-living-allowance', 'extremely-poor', 'disabled', 'minor')),
    custodian      TEXT NOT NULL CHECK (length(custodian) > 0),
    custodian_id   TEXT NOT NULL CHECK (instr(custodian_id, '*') > 0),   -- masked
    approved_by    TEXT NOT NULL,
    reason         TEXT NOT NULL CHECK (length(reason) > 0),
    valid_until    TEXT NOT NULL CHECK (length(valid_until) = 8),     -- YYYYMMDD
    recorded_at    INTEGER NOT NULL                                    -- unix time
);
CREATE INDEX IF NOT EXISTS custody_approvals_card ON custody_approvals (card_number);
