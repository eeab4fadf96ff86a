-- Secrets rotated out before the newest one, each still signing until its own
-- grace period ends: [{"secret": "whsec_…", "until": "<timestamptz>"}], newest
-- first. Rotating twice within a grace period (a client retrying a rotation
-- whose answer it lost, say) used to stop the first secret at once, although
-- the receiver may still verify with it. The newest rotated-out secret stays in
-- previous_secret, which binaries from before this column still read.
ALTER TABLE forward_endpoints ADD COLUMN older_secrets jsonb NOT NULL DEFAULT '[]'::jsonb;
