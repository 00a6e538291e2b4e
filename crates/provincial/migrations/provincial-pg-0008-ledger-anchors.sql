-- Migration 0008: the ledger heads each station anchors (its last entry's sequence number and
-- SM3 chain hash), append-only. A head behind or different from the last one is refused, so a
-- station's ledger cut short or rewritten after an anchor no longer matches the province.
-- The same as the SQLite archive's provincial-sqlite-0008-ledger-anchors.sql.
CREATE TABLE IF NOT EXISTS ledger_anchors (
    station      text NOT NULL,
    seq          bigint NOT NULL,
    hash         text NOT NULL,
    anchored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, seq)
);
