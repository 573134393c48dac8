-- Constraints: the scan they do, and the NOT VALID / VALIDATE way.
BEGIN;
ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE orders ADD CONSTRAINT fk_orders_shop FOREIGN KEY (shop_id) REFERENCES shops (id) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT ck_orders_amount CHECK (amount > 0);
ALTER TABLE orders ADD CONSTRAINT ck_orders_qty CHECK (qty > 0) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT uq_orders_ref UNIQUE (ref);
ALTER TABLE orders ADD CONSTRAINT uq_orders_code UNIQUE USING INDEX ix_orders_code;
ALTER TABLE orders DROP CONSTRAINT ck_orders_old;
ALTER TABLE legacy_items ADD PRIMARY KEY (id);
ALTER TABLE legacy_parts ADD CONSTRAINT legacy_parts_pkey PRIMARY KEY USING INDEX ix_legacy_parts_id;
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0);
COMMIT;
BEGIN;
ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_shop;
ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_qty;
COMMIT;
