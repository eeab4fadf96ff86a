-- Two events of one call at the same instant (OpenPhone's times are
-- milliseconds, but a ringing and an end can share one) decide the call's
-- status by its place in the call's life, not by which was stored last:
-- queued and initiated 1, ringing 2, in progress and answered 3, any other
-- status (an end) 4. The worker ranks a batch's statuses the same way
-- (`call_status_rank`; a test checks that the two agree). A function of the
-- status rather than a stored rank, so rows written by a previous version
-- during an upgrade are ranked too, and nothing is rewritten.
CREATE OR REPLACE FUNCTION inlet_call_status_rank(status text) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE status
                   WHEN 'queued' THEN 1
                   WHEN 'initiated' THEN 1
                   WHEN 'ringing' THEN 2
                   WHEN 'in-progress' THEN 3
                   WHEN 'answered' THEN 3
                   ELSE 4
               END::smallint
    $$;
