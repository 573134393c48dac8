-- Index builds, as `alembic upgrade --sql` renders them (BEGIN ... COMMIT around the migration).
BEGIN;
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ix_users_login ON users (login);
CREATE INDEX CONCURRENTLY ix_users_created ON users (created_at);
DROP INDEX ix_users_old;
REINDEX INDEX ix_users_email;
REINDEX TABLE users;
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ix_audit_log_at ON audit_log (at);
COMMIT;
-- what autocommit_block() renders: outside the transaction, CONCURRENTLY is right
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_name ON users (name);
DROP INDEX CONCURRENTLY IF EXISTS ix_users_legacy;
REINDEX INDEX CONCURRENTLY ix_users_name;
BEGIN;
COMMIT;
