-- Flapping alerts: when each alert fired again after resolving (within the flap window), and
-- since when it counts as flapping. While it flaps its incident stays open and gets one summary
-- note per period; the sync resolves it once the alert has stayed resolved for the quiet time.
CREATE TABLE flapping_alerts (
    customer_id          text NOT NULL,
    alert_id             text NOT NULL,
    -- Times the alert fired again after resolving, oldest first, within the flap window.
    cycles               jsonb NOT NULL DEFAULT '[]'::jsonb,
    flapping_since       timestamptz,
    summary_at           timestamptz,
    fires_since_summary  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, alert_id)
);
CREATE INDEX flapping_alerts_flapping ON flapping_alerts (customer_id) WHERE flapping_since IS NOT NULL;
