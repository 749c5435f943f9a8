-- What each domain event carries to its consumers besides its envelope: the W3C trace context
-- of the request that made it and that request's id, sent as Kafka message headers.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
ALTER TABLE outbox ADD COLUMN request_id TEXT;
