DROP TABLE ticket_transfers;
DROP INDEX tickets_by_holder;
ALTER TABLE tickets DROP COLUMN generation;
ALTER TABLE tickets DROP COLUMN holder_id;
DROP TABLE waiting_list;
