-- The two links to a user account that had no index: erasing a user (and every
-- DELETE of a user row, whose foreign key checks look these up) read all the
-- contacts and notes of every tenant to find the ones the user owned or wrote
-- (0.7 s a whole tenant's erasure at 100,000 contacts).
CREATE INDEX contacts_owner_user_idx ON contacts (tenant_id, owner_user_id);
CREATE INDEX notes_author_user_idx ON notes (tenant_id, author_user_id);
