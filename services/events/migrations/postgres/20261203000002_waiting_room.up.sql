-- An event's waiting room settings, a JSON document read and written with its event; NULL: none.
ALTER TABLE events ADD COLUMN waiting_room TEXT;
