-- Event ids are unique per customer, not across customers: with event_id alone as the key, a
-- publisher for one customer could reuse another customer's event id and have that customer's
-- real event taken for a duplicate and dropped.
ALTER TABLE processed_events DROP CONSTRAINT processed_events_pkey, ADD PRIMARY KEY (customer_id, event_id);
ALTER TABLE status_events DROP CONSTRAINT status_events_pkey, ADD PRIMARY KEY (customer_id, event_id);

-- Published outbox rows are pruned by age (ITSM_EVENT_RETENTION), as processed_events are.
CREATE INDEX outbox_published_age ON outbox (published_at) WHERE published_at IS NOT NULL;
