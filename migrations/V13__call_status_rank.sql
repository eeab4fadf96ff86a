-- Two events of one call at the same instant (OpenPhone's times are
-- milliseconds, but a ringing and an end can share one) decide the call's
-- status by its lifecycle, not by which was stored last: the rank of the
-- stored status, as the worker ranks them (queued and initiated 1, ringing 2,
-- in progress and answered 3, any other status, an end, 4).
ALTER TABLE calls ADD COLUMN status_rank smallint NOT NULL DEFAULT 0;

UPDATE calls
   SET status_rank = CASE status
                         WHEN 'queued' THEN 1
                         WHEN 'initiated' THEN 1
                         WHEN 'ringing' THEN 2
                         WHEN 'in-progress' THEN 3
                         WHEN 'answered' THEN 3
                         ELSE 4
                     END
 WHERE status IS NOT NULL;
