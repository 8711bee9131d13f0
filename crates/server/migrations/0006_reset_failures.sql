-- Pending resets that end (issue 14). A directory answer no retry can cure (the action is
-- unsupported, the account is gone, the service account may not make the change, the
-- connector is misconfigured), or a directory that stayed unreachable past the retry
-- bound, ends the grant as `failed`; `failure` keeps the stable code the person is shown.
ALTER TABLE grants ADD COLUMN failure TEXT
;
-- Transient directory failures in a row while pending: the next try waits longer after
-- each (reset.rs), and after reset::MAX_DIRECTORY_FAILURES the reset is given up.
ALTER TABLE grants ADD COLUMN directory_failures BIGINT NOT NULL DEFAULT 0
