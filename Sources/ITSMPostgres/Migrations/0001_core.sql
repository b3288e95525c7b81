-- The worker's own tables. Customer-scoped integrations, network-scoped mappings, one row per
-- ticket the worker opened, the events it has handled, and the outbox of events to publish.

CREATE TABLE integrations (
    customer_id              text PRIMARY KEY,
    instance_url             text NOT NULL,
    client_id                text NOT NULL,
    -- AES-256-GCM sealed box (nonce | ciphertext | tag) of the OAuth client secret, and the id
    -- of the key that sealed it, so keys can rotate.
    client_secret_sealed     bytea NOT NULL,
    secret_key_id            text NOT NULL,
    -- Per-integration behaviour: state values, close code, notes field, reopen window, ….
    settings                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_test                jsonb,
    last_tested_at           timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_mappings (
    customer_id   text NOT NULL,
    network_id    text NOT NULL,
    alert_type    text NOT NULL,
    target_table  text NOT NULL DEFAULT 'incident',
    fields        jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, network_id, alert_type)
);

-- One row per ticket. A row is claimed ('pending') before ServiceNow is called, so that only
-- one worker creates the incident for an alert; claim_expires_at lets another worker take over
-- after a crash, and it then looks the incident up by correlation_id before creating one.
CREATE TABLE ticket_links (
    id                  bigserial PRIMARY KEY,
    customer_id         text NOT NULL,
    network_id          text NOT NULL,
    alert_id            text NOT NULL,
    alert_type          text NOT NULL,
    correlation_id      text NOT NULL,
    target_table        text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'open', 'closed', 'failed', 'deleted')),
    sys_id              text,
    number              text,
    url                 text,
    state               text,
    sys_updated_on      text,
    warnings            jsonb NOT NULL DEFAULT '[]'::jsonb,
    create_attempts     integer NOT NULL DEFAULT 0,
    claimed_by          text,
    claim_expires_at    timestamptz,
    -- Ceburu's status as last applied, and the occurred_at of the event that set it.
    alert_status        text NOT NULL DEFAULT 'open',
    status_event_at     timestamptz,
    resolved_at         timestamptz,
    previous_link_id    bigint REFERENCES ticket_links (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- At most one live ticket per customer and alert.
CREATE UNIQUE INDEX ticket_links_live_alert ON ticket_links (customer_id, alert_id)
    WHERE status IN ('pending', 'open');
CREATE INDEX ticket_links_open_by_customer ON ticket_links (customer_id) WHERE status = 'open';
CREATE INDEX ticket_links_by_alert ON ticket_links (customer_id, alert_id, id DESC);

-- Events whose effect is committed; a redelivered event finds its id here and does nothing.
CREATE TABLE processed_events (
    event_id      text PRIMARY KEY,
    customer_id   text NOT NULL,
    event_type    text NOT NULL,
    outcome       text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- Events to publish, written in the same transaction as the change they report; the relay
-- publishes them with confirms and stamps published_at.
CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    routing_key    text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
