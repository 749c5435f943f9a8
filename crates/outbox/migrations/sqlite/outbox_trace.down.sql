ALTER TABLE outbox DROP COLUMN request_id;
ALTER TABLE outbox DROP COLUMN traceparent;
