DROP TABLE door_staff;
DROP INDEX events_by_venue;
ALTER TABLE venues DROP COLUMN seats_locked;
ALTER TABLE venues DROP COLUMN version;
