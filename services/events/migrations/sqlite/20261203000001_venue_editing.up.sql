-- See the PostgreSQL migration for the reasons behind this shape.
ALTER TABLE venues ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE venues ADD COLUMN seats_locked BOOLEAN NOT NULL DEFAULT false;
UPDATE venues SET seats_locked = true
WHERE EXISTS (SELECT 1 FROM events WHERE events.venue_id = venues.id AND events.status <> 'draft');
CREATE INDEX events_by_venue ON events (venue_id);

CREATE TABLE door_staff (
    event_id BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    email TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
