-- Emails of waiting-list offers, and of tickets given to someone.
-- SQLite cannot change a CHECK constraint: the table is rebuilt with the new one.
CREATE TABLE mail_rebuilt (
    id BLOB PRIMARY KEY,
    source_event_id BLOB NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('tickets', 'refund', 'event_cancelled', 'offer', 'ticket_given')),
    user_id BLOB NOT NULL,
    event_id BLOB NOT NULL,
    details TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (source_event_id, user_id)
);
INSERT INTO mail_rebuilt (id, source_event_id, kind, user_id, event_id, details, status, attempts, next_attempt_at,
    last_error, created_at, finished_at)
SELECT id, source_event_id, kind, user_id, event_id, details, status, attempts, next_attempt_at, last_error,
    created_at, finished_at FROM mail WHERE kind IN ('tickets', 'refund', 'event_cancelled', 'offer', 'ticket_given');
DROP TABLE mail;
ALTER TABLE mail_rebuilt RENAME TO mail;
CREATE INDEX mail_due ON mail (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_tickets_due ON mail (next_attempt_at) WHERE status = 'pending' AND kind = 'tickets';
CREATE INDEX mail_finished ON mail (finished_at) WHERE finished_at IS NOT NULL;
