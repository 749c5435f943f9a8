-- The trace context and request id of the domain event that queued each email, so that
-- sending it is part of the same trace.
ALTER TABLE mail ADD COLUMN traceparent TEXT;
ALTER TABLE mail ADD COLUMN request_id TEXT;
