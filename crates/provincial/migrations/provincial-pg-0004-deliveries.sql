-- Migration 0004: cards made elsewhere. The card-making centre delivers a card it made to the
-- station where its holder collects it (`deliver_to`); that station takes it in once
-- (`received_at`) and from then answers for it (`station`), the centre kept in `made_by`.
-- The same as the SQLite archive's provincial-sqlite-0004-deliveries.sql.
ALTER TABLE cards ADD COLUMN deliver_to text;
ALTER TABLE cards ADD COLUMN made_by text;
ALTER TABLE cards ADD COLUMN received_at timestamptz;
