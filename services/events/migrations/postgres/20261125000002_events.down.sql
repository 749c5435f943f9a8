DROP TABLE events;
DROP TABLE venues;
