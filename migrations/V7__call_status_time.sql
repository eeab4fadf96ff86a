-- A call's status follows the newest event that carries one. Summary and
-- transcript events carry no status but are often the newest, so judging a
-- status by last_event_at let an older call.ringing, arriving after a
-- summary, replace call.completed for good.
ALTER TABLE calls ADD COLUMN status_at timestamptz;

-- Stored calls: their status came from an event no later than their last.
UPDATE calls SET status_at = last_event_at WHERE status IS NOT NULL;
