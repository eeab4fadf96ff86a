-- The sender's claim finds the endpoints with deliveries waiting by a skip
-- scan of this index and takes each enabled one's oldest due deliveries from
-- it, so a claim costs the same behind a backlog of any size, and the waiting
-- deliveries of disabled endpoints are never read. (The index it replaces, which ordered every due row by time alone so
-- that each claim ranked the whole backlog, is dropped by V11.)
--
-- Building an index here blocks writes to forward_deliveries until it is
-- built, and migrations run in a transaction, so CONCURRENTLY is not
-- possible here. On a large table, create both indexes CONCURRENTLY by hand
-- before upgrading (docs/operations.md, "Upgrading"): these statements then
-- do nothing.
CREATE INDEX IF NOT EXISTS forward_deliveries_endpoint_due_idx
    ON forward_deliveries (endpoint_id, next_attempt_at, id)
    WHERE status IN ('pending', 'retrying', 'sending');

-- Deliveries in flight per endpoint, counted by every claim.
CREATE INDEX IF NOT EXISTS forward_deliveries_sending_idx
    ON forward_deliveries (endpoint_id, lease_until)
    WHERE status = 'sending';
