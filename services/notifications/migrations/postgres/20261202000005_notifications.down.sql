DROP TABLE mail;
DROP TABLE ticket_holders;
DROP TABLE known_events;
