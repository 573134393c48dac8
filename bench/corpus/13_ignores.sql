-- squawk-ignore-file prefer-robust-stmts
-- Silenced on purpose: both tools must honour squawk's comments.
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN retired;
-- squawk-ignore renaming-column
ALTER TABLE users RENAME COLUMN handle TO username;
ALTER TABLE users DROP COLUMN also_retired;
COMMIT;
