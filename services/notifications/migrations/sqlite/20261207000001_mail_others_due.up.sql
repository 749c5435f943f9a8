-- The emails other than tickets that are due, in an index of their own: a claim of them walked
-- `mail_due`, every pending email, past each tickets email due (or read the whole table, sent
-- emails too), so with a sale's backlog of tickets emails every claim cost time in proportion
-- to it. The count of pending emails adds the two indexes' counts.
CREATE INDEX mail_others_due ON mail (next_attempt_at) WHERE status = 'pending' AND kind <> 'tickets';
DROP INDEX mail_due;
