-- The sender's claim walks the enabled endpoints and takes each one's oldest
-- due deliveries from this index, so a claim costs the same behind a backlog
-- of any size, and the waiting deliveries of disabled endpoints are never
-- read. The index it replaces ordered every due row by time alone: each claim
-- ranked the whole backlog.
CREATE INDEX forward_deliveries_endpoint_due_idx
    ON forward_deliveries (endpoint_id, next_attempt_at, id)
    WHERE status IN ('pending', 'retrying', 'sending');

-- Deliveries in flight per endpoint, counted by every claim.
CREATE INDEX forward_deliveries_sending_idx
    ON forward_deliveries (endpoint_id, lease_until)
    WHERE status = 'sending';

DROP INDEX forward_deliveries_due_idx;
