-- A venue may be edited: `version` guards read-modify-write updates, and `seats_locked`, set in
-- the transaction that publishes an event in the venue, freezes its seats from then on.
ALTER TABLE venues ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE venues ADD COLUMN seats_locked BOOLEAN NOT NULL DEFAULT false;
UPDATE venues SET seats_locked = true
WHERE EXISTS (SELECT 1 FROM events WHERE events.venue_id = venues.id AND events.status <> 'draft');
CREATE INDEX events_by_venue ON events (venue_id);

-- Door staff: accounts an organizer lets check tickets in for one event, and do nothing else.
CREATE TABLE door_staff (
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    email TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
