-- Version 10: each ledger entry carries a MAC (issue #25): the MAC of its chain hash under the
-- station's ledger key, which stays in the station's token (AES-CMAC, hex). Whoever can write
-- station.db can recompute the plain hash chain, not the MACs. Entries written before the
-- station had its key have none (NULL); once one entry carries a MAC, every later one must.
-- The append-only triggers of version 1 cover the new column too (BEFORE UPDATE: any column).
ALTER TABLE ledger ADD COLUMN mac TEXT;
