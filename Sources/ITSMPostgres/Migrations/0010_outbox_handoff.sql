-- The worker that commits a new ticket hands its ticket.created to its own relay, which publishes
-- it right after the commit and deletes the row once the broker confirmed it. The relay's poll
-- takes a row only once its relay_after has passed: a handed row gets a grace of seconds (the
-- poll takes it over if that worker dies first); every other row is due at once, as before.
ALTER TABLE outbox ADD COLUMN relay_after timestamptz NOT NULL DEFAULT now();
