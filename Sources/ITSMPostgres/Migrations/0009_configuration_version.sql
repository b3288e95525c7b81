-- One number that moves with every change to integrations and mappings, in the changing
-- transaction. Workers keep what they read of both and ask for this number once per
-- ITSM_CONFIG_CACHE_TTL instead of reading every entry again: a change is seen as soon as
-- before, and configuration that does not change is read once.
CREATE TABLE configuration_version (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version   bigint NOT NULL DEFAULT 0
);
INSERT INTO configuration_version DEFAULT VALUES;

CREATE FUNCTION bump_configuration_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE configuration_version SET version = version + 1;
    RETURN NULL;
END
$$;

-- BEFORE each statement: every writer takes the version's row lock before any row of either
-- table, so two transactions that change both tables queue instead of deadlocking.
-- (EXECUTE PROCEDURE, not FUNCTION: PostgreSQL 10 knows only that spelling.)
CREATE TRIGGER integrations_configuration_version
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON integrations
    FOR EACH STATEMENT EXECUTE PROCEDURE bump_configuration_version();
CREATE TRIGGER alert_mappings_configuration_version
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert_mappings
    FOR EACH STATEMENT EXECUTE PROCEDURE bump_configuration_version();
