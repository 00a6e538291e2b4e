-- Migration 8: the ledger heads each station anchors (its last entry's sequence number and
-- SM3 chain hash), append-only. A head behind or different from the last one is refused, so a
-- station's ledger cut short or rewritten after an anchor no longer matches the province.
-- The same as the provincial service's provincial-pg-0008-ledger-anchors.sql.
CREATE TABLE IF NOT EXISTS ledger_anchors (
    station      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    anchored_at  INTEGER NOT NULL,                    -- unix time
    PRIMARY KEY (station, seq)
);
