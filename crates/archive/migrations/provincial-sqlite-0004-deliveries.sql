-- Migration 4: cards made elsewhere. The card-making centre delivers a card it made to the
-- station where its holder collects it (`deliver_to`); that station takes it in once
-- (`received_at`) and from then answers for it (`station`), the centre kept in `made_by`.
-- The same as the provincial service's provincial-pg-0004-deliveries.sql.
ALTER TABLE cards ADD COLUMN deliver_to TEXT;
ALTER TABLE cards ADD COLUMN made_by TEXT;
ALTER TABLE cards ADD COLUMN received_at INTEGER;
