-- The console's other pages (issue 17): what they search and browse, by index, so a page
-- stays fast with a million audit entries. Recoveries newest first, by account (in any
-- case: a login is kept as typed) or by state; one recovery's timeline (its entries by
-- subject, in order); the chain by kind, newest first. A device's last use reads
-- `sessions_device_created` (0004).
CREATE INDEX sessions_created ON sessions (created_at)
;
CREATE INDEX sessions_login_created ON sessions (lower(login), created_at)
;
CREATE INDEX sessions_state_created ON sessions (state, created_at)
;
CREATE INDEX audit_subject_seq ON audit (subject, seq)
;
CREATE INDEX audit_kind_seq ON audit (kind, seq)
;
CREATE INDEX devices_created ON devices (created_at)
