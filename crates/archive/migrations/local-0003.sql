-- Version 3: the card's later life (FLOW B). Approvals of custody by another person, the
-- attempts to hand over stock and dormant cards, and replacements with the person's choices.

-- Custody of a card by another person: only for the allowed groups, only with an approval
-- that says who approved, for whom, why, and until when (RULE 4).
CREATE TABLE custody_approvals (
    approval_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    card_number    TEXT NOT NULL REFERENCES cards (card_number),
    holder_group   TEXT NOT NULL CHECK (holder_group IN ('minimum-living-allowance', 'extremely-poor', 'disabled', 'minor')),
    custodian      TEXT NOT NULL,                              -- name
    custodian_id   TEXT NOT NULL,                              -- masked ID number
    approved_by    TEXT NOT NULL,                              -- supervisor
    reason         TEXT NOT NULL CHECK (length(reason) > 0),
    valid_until    TEXT NOT NULL,                              -- YYYYMMDD
    created_at     INTEGER NOT NULL
) STRICT;

-- Attempts to hand over a card that waits in stock (dormant): a failed second attempt records
-- its reason before the card may be recalled (RULE 6).
CREATE TABLE handover_attempts (
    attempt_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    card_number    TEXT NOT NULL REFERENCES cards (card_number),
    attempt        INTEGER NOT NULL CHECK (attempt >= 1),
    succeeded      INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
    reason         TEXT,                                       -- why it failed
    at             INTEGER NOT NULL,
    CHECK (succeeded = 1 OR (reason IS NOT NULL AND length(reason) > 0))
) STRICT;

-- Replacements: the bank is the person's choice (RULE 8), the first one is free (RULE 7).
CREATE TABLE replacements (
    replacement_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ssn            TEXT NOT NULL REFERENCES persons (ssn),
    old_card       TEXT NOT NULL,
    bank           TEXT NOT NULL,
    chosen_by      TEXT NOT NULL CHECK (chosen_by = 'person'),
    fee_fen        INTEGER NOT NULL CHECK (fee_fen >= 0),
    created_at     INTEGER NOT NULL
) STRICT;
CREATE TRIGGER first_replacement_is_free BEFORE INSERT ON replacements
    WHEN NEW.fee_fen > 0 AND NOT EXISTS (SELECT 1 FROM replacements WHERE ssn = NEW.ssn)
BEGIN
    SELECT RAISE(ABORT, 'the first replacement is free');
END;
