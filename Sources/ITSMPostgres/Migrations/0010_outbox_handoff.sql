-- The worker that commits a new ticket publishes its ticket.created itself, right after the
-- commit, and marks the row with one statement; the relay's poll takes a row only once its
-- relay_after has passed. A handed row gets a grace of seconds (the poll takes it over if that
-- worker dies before its broker confirmed it); every other row is due at once, as before.
ALTER TABLE outbox ADD COLUMN relay_after timestamptz NOT NULL DEFAULT now();
