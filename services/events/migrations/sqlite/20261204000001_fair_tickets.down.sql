ALTER TABLE events DROP COLUMN static_codes;
ALTER TABLE events DROP COLUMN waiting_list_offer_minutes;
