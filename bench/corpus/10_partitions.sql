-- Partitions and materialized views.
BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE measurements DETACH PARTITION measurements_2020;
ALTER TABLE measurements ATTACH PARTITION measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
REFRESH MATERIALIZED VIEW daily_totals;
COMMIT;
ALTER TABLE measurements DETACH PARTITION measurements_2021 CONCURRENTLY;
REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;
