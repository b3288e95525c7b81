-- Several alerts may share one incident: alerts of a mapping with a group key join their group's
-- open incident, and past the storm limit a network's alerts join its storm incident. Each alert
-- keeps its own link (its status, its processed events); the links of one incident point at its
-- group, whose opener link is the one that created the incident.
CREATE TABLE ticket_groups (
    id              bigserial PRIMARY KEY,
    customer_id     text NOT NULL,
    network_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('group', 'storm')),
    -- The mapping's rendered group key, or the network id for a storm.
    group_key       text NOT NULL,
    resolve_policy  text NOT NULL CHECK (resolve_policy IN ('last', 'first', 'never')),
    -- 'open' takes new alerts until window_ends_at; 'ended' once its window passed, its incident
    -- was resolved or closed, or its creation failed.
    status          text NOT NULL CHECK (status IN ('open', 'ended')),
    opener_link_id  bigint NOT NULL,
    size            integer NOT NULL DEFAULT 1,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    window_ends_at  timestamptz NOT NULL,
    -- Work notes naming the alerts that joined are written in batches, one writer at a time.
    notes_locked_until timestamptz,
    last_note_at    timestamptz
);
-- One open group per key: two workers racing to open a group's first incident open one.
CREATE UNIQUE INDEX ticket_groups_open_key ON ticket_groups (customer_id, kind, group_key) WHERE status = 'open';

ALTER TABLE ticket_links
    ADD COLUMN group_id bigint REFERENCES ticket_groups (id),
    ADD COLUMN group_kind text,
    -- A member whose joining is not yet in the incident's work notes.
    ADD COLUMN note_pending boolean NOT NULL DEFAULT false;
CREATE INDEX ticket_links_group ON ticket_links (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX ticket_links_note_pending ON ticket_links (group_id) WHERE note_pending;

-- New incidents opened per customer and network (storm protection): in the minute that began at
-- window_start, and in the minute before it, so the last 60 seconds can be estimated (a sliding
-- window) rather than counted from a fixed minute's start.
CREATE TABLE incident_budgets (
    customer_id   text NOT NULL,
    network_id    text NOT NULL,
    window_start  timestamptz NOT NULL,
    opened        integer NOT NULL,
    previous      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, network_id)
);

ALTER TABLE alert_mappings
    ADD COLUMN group_key text,
    ADD COLUMN group_window_seconds integer,
    ADD COLUMN group_resolve text;
