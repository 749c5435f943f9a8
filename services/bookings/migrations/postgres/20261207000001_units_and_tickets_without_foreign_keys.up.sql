-- The application writes a booking's units and tickets only in the transaction that writes or
-- confirms the booking, and never deletes a booking, so their booking always exists. The foreign
-- keys checked that again for every unit held and every ticket issued: a lookup of the booking
-- and a lock on its row. Without them, durable holds are 15% faster (BENCHMARKS.md, the second
-- performance round, "A fourth session"). Delete no booking by hand: nothing cascades now.
ALTER TABLE booking_units DROP CONSTRAINT booking_units_booking_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_booking_id_fkey;
