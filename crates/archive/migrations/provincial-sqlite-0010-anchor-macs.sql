-- Migration 10: an anchored ledger head carries the head entry's MAC under the station's ledger
-- key (hex; NULL from a station without one, or before it had one). The province cannot check
-- it (the key never leaves the station's token); an auditor with the station's token checks the
-- heads the province kept, so a station's anchors are known to be its key's.
-- The same as the provincial service's provincial-pg-0010-anchor-macs.sql.
ALTER TABLE ledger_anchors ADD COLUMN mac TEXT;
