-- Status events (acknowledged / resolved) as received. One that arrives before its ticket exists
-- waits here (applied_at NULL) and is applied when the ticket is created; older ones than the
-- last applied are marked superseded.
CREATE TABLE status_events (
    event_id      text PRIMARY KEY,
    customer_id   text NOT NULL,
    network_id    text NOT NULL,
    alert_id      text NOT NULL,
    alert_type    text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('acknowledged', 'resolved')),
    occurred_at   timestamptz NOT NULL,
    actor_name    text,
    actor_email   text,
    note          text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    applied_at    timestamptz,
    outcome       text
);
CREATE INDEX status_events_waiting ON status_events (customer_id, alert_id, occurred_at) WHERE applied_at IS NULL;

-- One row per integration for the polling sync: a lease so that one worker at a time syncs it,
-- and the watermark (ServiceNow's own sys_updated_on) of the last changes seen.
CREATE TABLE sync_state (
    customer_id      text PRIMARY KEY,
    watermark        text,
    cycles           bigint NOT NULL DEFAULT 0,
    locked_by        text,
    locked_until     timestamptz,
    last_run_at      timestamptz,
    last_success_at  timestamptz,
    last_error       text
);

ALTER TABLE ticket_links ADD COLUMN reopen_count integer NOT NULL DEFAULT 0;
