DROP TABLE processed_events;
DROP TABLE outbox_relay;
DROP TABLE outbox;
