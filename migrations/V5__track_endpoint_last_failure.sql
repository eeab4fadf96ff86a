-- The most recent failure of an endpoint's current failure streak. A failure
-- that comes longer than INLET_DELIVERY_DISABLE_AFTER_SECS (at least one
-- delivery's longest retry spacing) after the previous one starts a new streak:
-- an endpoint that failed once days ago and has had nothing to receive since
-- is not "failing continuously".
ALTER TABLE forward_endpoints ADD COLUMN last_failed_at timestamptz;

-- Streaks already running: their last failure is the newest attempt logged for
-- the endpoint (a later success would have ended the streak). Where none is
-- logged the column stays NULL, and the next failure starts a new streak.
UPDATE forward_endpoints e
   SET last_failed_at = (SELECT max(a.attempted_at)
                           FROM forward_deliveries d
                           JOIN forward_delivery_attempts a ON a.delivery_id = d.id
                          WHERE d.endpoint_id = e.id)
 WHERE e.failing_since IS NOT NULL;
