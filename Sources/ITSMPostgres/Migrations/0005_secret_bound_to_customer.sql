-- Secrets sealed from now on carry the customer id as AES-GCM associated data, so a sealed
-- secret copied to another customer's row no longer opens. Rows sealed before stay readable
-- (false here) until `itsm-worker integration rotate-keys` reseals them bound.
ALTER TABLE integrations ADD COLUMN secret_bound_to_customer boolean NOT NULL DEFAULT false;
