-- Bookings: the record of every hold and sale. The inventory store decides fast; this decides
-- last: `booking_units_live` makes a unit belong to at most one live (pending or confirmed)
-- booking, whatever the store answered.
CREATE TABLE bookings (
    id BLOB PRIMARY KEY,
    event_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired', 'refunded')),
    items TEXT NOT NULL,
    seats TEXT NOT NULL,
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    currency TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    charge_id TEXT
);
CREATE INDEX bookings_pending_by_expiry ON bookings (expires_at) WHERE status = 'pending';
CREATE INDEX bookings_by_user ON bookings (user_id, created_at, id);
CREATE INDEX bookings_by_event ON bookings (event_id, created_at, id);

-- The units of each booking. A unit is released (released_at set) when its booking expires, is
-- cancelled or refunded, in the same transaction as that status change.
CREATE TABLE booking_units (
    booking_id BLOB NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    event_id BLOB NOT NULL,
    category_id BLOB NOT NULL,
    unit_id TEXT NOT NULL,
    released_at TEXT,
    PRIMARY KEY (booking_id, unit_id)
);
CREATE UNIQUE INDEX booking_units_live ON booking_units (event_id, unit_id) WHERE released_at IS NULL;

-- One ticket per unit of a confirmed booking. `code` is signed, so check-in verifies it
-- without this table; the table records who was admitted, once.
CREATE TABLE tickets (
    id BLOB PRIMARY KEY,
    booking_id BLOB NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    event_id BLOB NOT NULL,
    category_id BLOB NOT NULL,
    unit_id TEXT NOT NULL,
    seat TEXT,
    price_cents INTEGER NOT NULL,
    code TEXT NOT NULL,
    checked_in_at TEXT
);
CREATE INDEX tickets_by_booking ON tickets (booking_id);
CREATE INDEX tickets_by_event ON tickets (event_id);

-- Idempotency-Key of POST /bookings: the same key and body give the same booking.
CREATE TABLE idempotency_keys (
    user_id BLOB NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    booking_id BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Events whose organizer cancelled them: a confirmation never succeeds for them, whatever it
-- raced with, so refunding an event's bookings cannot miss one.
CREATE TABLE closed_events (
    event_id BLOB PRIMARY KEY,
    closed_at TEXT NOT NULL
);
