-- A failed delivery is terminal (Meta's status state machine): `failed` now
-- ranks above every other state (DeliveryState::rank, 7), so a status that
-- arrives later, in any order, no longer turns it back into delivered or read.
-- Messages whose failure an earlier version let a success replace keep that
-- success: which came last by timestamp is not known for every row.
UPDATE message_statuses SET rank = 7 WHERE state = 'failed' AND rank <> 7;
UPDATE messages SET status_rank = 7 WHERE status = 'failed' AND status_rank <> 7;
