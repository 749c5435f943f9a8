DROP TABLE closed_events;
DROP TABLE idempotency_keys;
DROP TABLE tickets;
DROP TABLE booking_units;
DROP TABLE bookings;
