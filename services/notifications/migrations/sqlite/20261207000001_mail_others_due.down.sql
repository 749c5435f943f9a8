CREATE INDEX mail_due ON mail (next_attempt_at) WHERE status = 'pending';
DROP INDEX mail_others_due;
