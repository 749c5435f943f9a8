-- The emails other than tickets that are due, in an index of their own. The postman asks for
-- them whenever fewer tickets emails than it can send are due, which during a sale is nearly
-- every claim; they walked `mail_due`, past the entries of every tickets email due and of
-- those just sent (dead until vacuumed), or PostgreSQL read the whole table, sent emails too.
-- The count of pending emails adds the two indexes' counts.
CREATE INDEX mail_others_due ON mail (next_attempt_at) WHERE status = 'pending' AND kind <> 'tickets';
DROP INDEX mail_due;
