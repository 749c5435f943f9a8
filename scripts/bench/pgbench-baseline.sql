-- The baseline: how peers decide a sale, one database transaction per booking that locks the
-- category's counter row. Every buyer of the category queues on that one row.
\set quantity random(1, 4)
BEGIN;
UPDATE baseline_inventory SET available = available - :quantity
    WHERE category_id = 1 AND available >= :quantity;
INSERT INTO baseline_bookings (quantity, created_at) VALUES (:quantity, now());
COMMIT;
