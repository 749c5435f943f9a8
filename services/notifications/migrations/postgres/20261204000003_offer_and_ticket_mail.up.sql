-- Emails of waiting-list offers, and of tickets given to someone.
ALTER TABLE mail DROP CONSTRAINT mail_kind_check;
ALTER TABLE mail ADD CONSTRAINT mail_kind_check CHECK (kind IN ('tickets', 'refund', 'event_cancelled', 'offer', 'ticket_given'));
