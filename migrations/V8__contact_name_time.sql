-- A contact's name follows the newest message that named it. Without a time,
-- the message stored last won, so a provider's late retry of an old message
-- brought back a name the contact had since changed.
ALTER TABLE contacts ADD COLUMN name_at timestamptz;
