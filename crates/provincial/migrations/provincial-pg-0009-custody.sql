-- Migration 0009: custody approvals (RULE 4) at the province. A station records the approvals
-- of the live cards it answers for, so an outreach kit that carries such a card hands it to the
-- approved custodian offline, and the province checks the approval again when the hand-over
-- record arrives. Append-only: none is edited.
-- The same as the SQLite archive's provincial-sqlite-0009-custody.sql.
CREATE TABLE IF NOT EXISTS custody_approvals (
    approval_id    bigserial PRIMARY KEY,
    station        text NOT NULL,
    card_number    text NOT NULL REFERENCES cards (card_number),
    holder_group   text NOT NULL CHECK (holder_group IN ('minimum-living-allowance', 'extremely-poor', 'disabled', 'minor')),
    custodian      text NOT NULL CHECK (length(custodian) > 0),
    custodian_id   text NOT NULL CHECK (strpos(custodian_id, '*') > 0),   -- masked
    approved_by    text NOT NULL,
    reason         text NOT NULL CHECK (length(reason) > 0),
    valid_until    text NOT NULL CHECK (length(valid_until) = 8),         -- YYYYMMDD
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS custody_approvals_card ON custody_approvals (card_number);
