-- Limits that expire and are pruned (issue 14). Statements are separated by lines
-- holding only `;`.
--
-- `expires_at`: after it, a row limits nothing (a fixed window that has run out, a run of
-- biometric failures that has decayed with its lock passed) and the background worker
-- deletes it. Rows written before this version: a window ends as it always did; a run of
-- failures, which never decayed then, ends with its lock.
ALTER TABLE limits ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0
;
UPDATE limits SET expires_at = CASE WHEN window_s > 0 THEN window_start + window_s ELSE locked_until END
;
CREATE INDEX limits_expires ON limits (expires_at)
;
-- The failed sessions of a device, and of an address, in the last hour are counted from
-- the sessions table at each session start.
CREATE INDEX sessions_device_created ON sessions (device_key, created_at)
;
CREATE INDEX sessions_addr_created ON sessions (client_addr, created_at)
