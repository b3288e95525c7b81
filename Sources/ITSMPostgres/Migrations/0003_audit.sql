-- What happened to each alert: every ServiceNow call made for it and every decision the worker
-- took, kept for ITSM_AUDIT_RETENTION and shown by `itsm-worker ticket show --alert A`.
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    customer_id   text NOT NULL,
    alert_id      text NOT NULL,
    event_id      text,
    kind          text NOT NULL CHECK (kind IN ('servicenow', 'decision')),
    method        text,
    target_table  text,
    sys_id        text,
    status        integer,
    duration_ms   integer,
    message       text
);
CREATE INDEX audit_log_by_alert ON audit_log (customer_id, alert_id, at);
CREATE INDEX audit_log_age ON audit_log (at);
