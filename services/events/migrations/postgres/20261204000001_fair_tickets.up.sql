-- How long an offer from a sold-out category's waiting list lasts (0: no waiting list), and
-- whether the door still accepts a ticket's static code beside its rotating one.
ALTER TABLE events ADD COLUMN waiting_list_offer_minutes BIGINT NOT NULL DEFAULT 720;
ALTER TABLE events ADD COLUMN static_codes BOOLEAN NOT NULL DEFAULT TRUE;
