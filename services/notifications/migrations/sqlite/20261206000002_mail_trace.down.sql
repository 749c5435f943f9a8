ALTER TABLE mail DROP COLUMN request_id;
ALTER TABLE mail DROP COLUMN traceparent;
