-- One definition of the outbox tables for every service: each service's migrations link here.
-- The transactional outbox (crates/outbox): domain events written in the transaction of the
-- change they tell of, published by the relay in the order of `id`, deleted some time after.
-- (SQLite: a rowid, always above every row present, which is all the order needs.)
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    event_id BLOB NOT NULL,
    topic TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    envelope BLOB NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- The relay's turn: the replica that holds this row's lock publishes.
CREATE TABLE outbox_relay (id INTEGER PRIMARY KEY);
INSERT INTO outbox_relay (id) VALUES (1);

-- The domain events each consumer of this service has handled, for deduplication.
CREATE TABLE processed_events (
    consumer TEXT NOT NULL,
    event_id BLOB NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);
