DELETE FROM mail WHERE kind IN ('offer', 'ticket_given');
ALTER TABLE mail DROP CONSTRAINT mail_kind_check;
ALTER TABLE mail ADD CONSTRAINT mail_kind_check CHECK (kind IN ('tickets', 'refund', 'event_cancelled'));
