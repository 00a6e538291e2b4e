-- Migration 0011: an outreach kit's record-signing public key (P-256, SEC1 hex), sent at its
-- checkout, kept with the lease; every record of the lease must carry a signature by it,
-- kept with the record. A lease from before has no key: its records are refused (upgrade when
-- no kit is out). The same as the SQLite archive's provincial-sqlite-0011-kit-record-keys.sql.
ALTER TABLE kit_leases ADD COLUMN IF NOT EXISTS record_key text;
ALTER TABLE kit_records ADD COLUMN IF NOT EXISTS signature text;
