-- A booking's units and tickets are written only in the transaction that writes or confirms the
-- booking, and no booking is ever deleted, so their booking always exists. The foreign keys
-- checked that again for every unit held and every ticket issued: a lookup of the booking and a
-- lock on its row, written to the WAL, per row. On a rush of holds that was about a quarter of
-- PostgreSQL's work (BENCHMARKS.md, "Durable holds per second").
ALTER TABLE booking_units DROP CONSTRAINT booking_units_booking_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_booking_id_fkey;
