-- A sold-out category's waiting list. Units that come back (an expired hold, a cancellation, a
-- refund) go to its entries in order, each as a pending booking of its own (`booking_id`, the
-- offer) that lasts the entry's `offer_minutes`; only what no entry waits for returns to sale.
CREATE TABLE waiting_list (
    id UUID PRIMARY KEY,
    event_id UUID NOT NULL,
    category_id UUID NOT NULL,
    user_id UUID NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    offer_minutes BIGINT NOT NULL CHECK (offer_minutes > 0),
    status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'bought', 'declined', 'lapsed', 'left', 'closed')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    booking_id UUID,
    offered_quantity BIGINT
);
-- One live entry per account and category.
CREATE UNIQUE INDEX waiting_list_one_live ON waiting_list (event_id, category_id, user_id)
    WHERE status IN ('waiting', 'offered');
CREATE INDEX waiting_list_queue ON waiting_list (event_id, category_id, created_at, id) WHERE status = 'waiting';
CREATE INDEX waiting_list_by_user ON waiting_list (user_id, created_at);
CREATE UNIQUE INDEX waiting_list_by_offer ON waiting_list (booking_id) WHERE booking_id IS NOT NULL;

-- Tickets change hands: `holder_id` is the account that holds the ticket now (NULL: the
-- booking's buyer), and `generation` counts its transfers; a code names its generation, so the
-- codes of an earlier holder no longer admit.
ALTER TABLE tickets ADD COLUMN holder_id UUID;
ALTER TABLE tickets ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tickets_by_holder ON tickets (holder_id) WHERE holder_id IS NOT NULL;

-- Every transfer of a ticket, the record of who held it when.
CREATE TABLE ticket_transfers (
    id UUID PRIMARY KEY,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    from_user_id UUID NOT NULL,
    to_user_id UUID NOT NULL,
    generation BIGINT NOT NULL,
    transferred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_transfers_by_ticket ON ticket_transfers (ticket_id, transferred_at);
