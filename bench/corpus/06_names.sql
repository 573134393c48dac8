-- Renames, schemas, long names, odd UPDATEs.
BEGIN;
ALTER TABLE customers RENAME TO clients;
ALTER VIEW active_clients RENAME TO current_clients;
ALTER SEQUENCE client_seq RENAME TO clients_seq;
ALTER TABLE clients SET SCHEMA archive;
CREATE TABLE IF NOT EXISTS a_table_name_that_is_much_longer_than_postgres_allows_for_identifiers (id bigint);
UPDATE clients SET status = 'a', status = 'b' WHERE id = 1;
COMMIT;
