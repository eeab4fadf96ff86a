-- A revoked client's token no longer authenticates. Its endpoints are disabled
-- in the same transaction (nothing more is delivered to them) and its endpoints,
-- deliveries and attempt logs are kept for audit: revoking is not deleting.
ALTER TABLE forward_clients ADD COLUMN revoked_at timestamptz;
