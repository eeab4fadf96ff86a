-- The due index ordered by time alone, which the claim no longer uses (V10).
-- Dropped in a migration of its own: in V10's transaction, which holds a lock
-- on forward_deliveries from its index builds, the drop's exclusive lock
-- could deadlock with a worker of the previous version recording an attempt.
DROP INDEX IF EXISTS forward_deliveries_due_idx;
