-- Several tables in one transaction: the first ACCESS EXCLUSIVE is held until COMMIT.
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE users ADD COLUMN referrer_id bigint;
ALTER TABLE orders ADD COLUMN coupon text;
CREATE INDEX ix_orders_coupon ON orders (coupon);
CREATE TABLE IF NOT EXISTS referrals (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
COMMIT;
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE items ADD COLUMN weight numeric;
COMMIT;
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_items_weight ON items (weight);
