-- The call event whose status stands. Two call objects of one instant with
-- the same status (a call's end and its recording, say) used to leave the
-- facts of whichever was stored last; the event's name now breaks that tie,
-- as the worker does within a batch. NULL on rows stored before, which any
-- event of the same instant and status then replaces. A nullable column
-- without a default: adding it rewrites nothing.
ALTER TABLE calls ADD COLUMN status_event text;
