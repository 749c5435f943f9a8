-- See the PostgreSQL migration for the reasons behind this shape.
CREATE TABLE venues (
    id BLOB PRIMARY KEY,
    organizer_id BLOB NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    address TEXT NOT NULL,
    layout TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX venues_organizer_id ON venues (organizer_id);

-- `seq` is an explicit rowid, so that the search index can point at it and VACUUM cannot
-- renumber it.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    organizer_id BLOB NOT NULL,
    venue_id BLOB REFERENCES venues (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    city TEXT NOT NULL,
    city_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    sale_starts_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    max_tickets_per_booking INTEGER NOT NULL CHECK (max_tickets_per_booking BETWEEN 1 AND 50),
    categories TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX events_published_by_start ON events (starts_at, id) WHERE status = 'published';
CREATE INDEX events_organizer_by_start ON events (organizer_id, starts_at, id);

-- Substring search of name and description with FTS5's trigram tokenizer, kept in step with
-- the events table by triggers.
CREATE VIRTUAL TABLE events_search USING fts5(search_text, tokenize = 'trigram');
CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_search (rowid, search_text) VALUES (NEW.seq, NEW.search_text);
END;
CREATE TRIGGER events_search_update AFTER UPDATE OF search_text ON events BEGIN
    UPDATE events_search SET search_text = NEW.search_text WHERE rowid = NEW.seq;
END;
CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
    DELETE FROM events_search WHERE rowid = OLD.seq;
END;
