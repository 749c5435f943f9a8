-- Venues with their seat maps. The layout (sections, rows, seats per row) is one JSON document:
-- seat ids are derived from it ("<section>/<row>/<number>"), so a venue of 100,000 seats is one
-- row written and read at once.
CREATE TABLE venues (
    id UUID PRIMARY KEY,
    organizer_id UUID NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    address TEXT NOT NULL,
    layout TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX venues_organizer_id ON venues (organizer_id);

-- Events. Categories are a JSON document too: they are read and written with their event, and
-- frozen once it is published. `city_key` and `search_text` are lower-case copies for
-- case-insensitive filters; `version` guards read-modify-write updates.
CREATE TABLE events (
    id UUID PRIMARY KEY,
    organizer_id UUID NOT NULL,
    venue_id UUID REFERENCES venues (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    city TEXT NOT NULL,
    city_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    sale_starts_at TIMESTAMPTZ,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    max_tickets_per_booking BIGINT NOT NULL,
    categories TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL,
    CHECK (starts_at < ends_at),
    CHECK (sale_starts_at IS NULL OR sale_starts_at <= starts_at),
    CHECK (max_tickets_per_booking BETWEEN 1 AND 50)
);
-- The public listing: published events, soonest first, paged by (starts_at, id).
CREATE INDEX events_published_by_start ON events (starts_at, id) WHERE status = 'published';
CREATE INDEX events_organizer_by_start ON events (organizer_id, starts_at, id);
-- Substring search of name and description: trigrams make `LIKE '%word%'` use an index.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX events_search_trigram ON events USING gin (search_text public.gin_trgm_ops);
