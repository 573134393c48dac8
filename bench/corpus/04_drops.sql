-- Dropping things running code still uses.
BEGIN;
DROP TABLE old_sessions;
DROP VIEW active_users;
DROP FUNCTION score(integer);
DROP TYPE mood;
DROP SCHEMA archive;
DROP SEQUENCE order_seq;
DROP DOMAIN email_address;
DROP EXTENSION pg_trgm;
TRUNCATE audit CASCADE;
TRUNCATE staging;
COMMIT;
DROP DATABASE legacy;
-- table maintenance (prefer-repack speaks from PostgreSQL 19 only)
VACUUM FULL audit;
CLUSTER staging USING ix_staging_id;
