-- Dropping a table or a foreign key locks the table it references.
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
CREATE TABLE IF NOT EXISTS carts (id bigint PRIMARY KEY, user_id bigint, CONSTRAINT fk_carts_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID);
CREATE TABLE IF NOT EXISTS wishlists (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
COMMIT;
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE carts DROP CONSTRAINT fk_carts_user;
DROP TABLE wishlists;
COMMIT;
