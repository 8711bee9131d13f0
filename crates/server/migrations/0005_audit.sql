-- The audit chain's head gets a MAC of its own (issue 14), under a key derived from the
-- data key: without it, deleting the last entries and pointing the head at the new last
-- one left a chain that verified. Empty until the server first opens the database: it
-- then seals the head as found (an `audit_head_sealed` entry when the chain has entries).
ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT ''
;
