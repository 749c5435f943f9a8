-- What the notifications service knows of each published event, from the events topic: what
-- its emails say about it. `changed_at` is when it last changed (an older message changes
-- nothing); `revision` counts its changes here (its calendar entry's SEQUENCE);
-- `cancelled_by` is the `event.cancelled` that cancelled it. Deleted, with its holders, a while
-- after it ended.
CREATE TABLE known_events (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    venue_name TEXT,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    categories TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    cancelled_by UUID
);

-- Who holds tickets of which event, from `booking.confirmed`: whom a cancellation notice goes
-- to, and whose tickets email is still wanted. A booking refunded at its owner's request
-- leaves.
CREATE TABLE ticket_holders (
    booking_id UUID PRIMARY KEY,
    event_id UUID NOT NULL,
    user_id UUID NOT NULL
);
CREATE INDEX ticket_holders_by_event ON ticket_holders (event_id);

-- The emails, one per domain event and recipient (the unique key is the last guard against a
-- second email for one event), written in the transaction that records the event processed.
-- Sent, skipped and failed ones are kept for a while, then deleted.
CREATE TABLE mail (
    id UUID PRIMARY KEY,
    source_event_id UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('tickets', 'refund', 'event_cancelled')),
    user_id UUID NOT NULL,
    event_id UUID NOT NULL,
    details TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    UNIQUE (source_event_id, user_id)
);
CREATE INDEX mail_due ON mail (next_attempt_at) WHERE status = 'pending';
-- Tickets are sent first: their own index, so a cancellation's thousands of notices never make
-- a claim sort them all.
CREATE INDEX mail_tickets_due ON mail (next_attempt_at) WHERE status = 'pending' AND kind = 'tickets';
CREATE INDEX known_events_by_end ON known_events (ends_at);
CREATE INDEX mail_finished ON mail (finished_at) WHERE finished_at IS NOT NULL;
