-- No transaction at all: each statement commits on its own.
SET lock_timeout = '2s';
SET statement_timeout = '5min';
CREATE TABLE tags (id bigint PRIMARY KEY, name text);
CREATE TABLE IF NOT EXISTS labels (id bigint PRIMARY KEY, name text);
ALTER TABLE posts ADD COLUMN tag_id bigint;
ALTER TABLE posts ADD COLUMN IF NOT EXISTS label_id bigint;
CREATE INDEX CONCURRENTLY ix_posts_tag ON posts (tag_id);
DROP INDEX CONCURRENTLY ix_posts_old;
ALTER TABLE posts DROP CONSTRAINT posts_old_check;
ALTER TABLE posts DROP CONSTRAINT IF EXISTS posts_older_check;
