-- Transactions the migration opens and closes itself.
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE users ADD COLUMN note text;
BEGIN;
ALTER TABLE users ADD COLUMN memo text;
COMMIT;
BEGIN;
ALTER TABLE users ADD COLUMN flag boolean;
