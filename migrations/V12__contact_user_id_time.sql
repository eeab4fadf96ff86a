-- A contact's user id (Meta's business-scoped user id, which can change)
-- follows the newest message that gave one, as its name does (V8): without a
-- time, the message stored last won, so a provider's late retry of an old
-- message brought back a user id the contact had since changed.
ALTER TABLE contacts ADD COLUMN user_id_at timestamptz;
