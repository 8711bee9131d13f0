-- The admin console (issue 17). A case waiting for a trusted referee keeps, beside its
-- sealed evidence, what the queue lists without unsealing anything (the login, the
-- action, the device and its tier) and what a referee reads once they open it, sealed
-- (`facts_sealed`: the document's fields, the scores, the directory record). A case needs
-- one approval, or two from different reviewers for a privileged account. Deciding it
-- destroys the evidence and the facts; an approval keeps the grant, sealed, for the
-- waiting app to collect, until the grant expires.
ALTER TABLE reviews ADD COLUMN login TEXT NOT NULL DEFAULT ''
;
ALTER TABLE reviews ADD COLUMN action TEXT NOT NULL DEFAULT ''
;
ALTER TABLE reviews ADD COLUMN device_key TEXT NOT NULL DEFAULT ''
;
ALTER TABLE reviews ADD COLUMN tier TEXT NOT NULL DEFAULT ''
;
ALTER TABLE reviews ADD COLUMN facts_sealed TEXT NOT NULL DEFAULT ''
;
ALTER TABLE reviews ADD COLUMN approvals_needed BIGINT NOT NULL DEFAULT 1
;
-- An approval waits this long before it takes effect, as the policy row's
-- `approve_notify_delay` asked before doubts sent the attempt to a person.
ALTER TABLE reviews ADD COLUMN delay_s BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE reviews ADD COLUMN decided_at BIGINT
;
ALTER TABLE reviews ADD COLUMN grant_sealed TEXT
;
CREATE INDEX reviews_open ON reviews (outcome, created_at)
;
-- One vote per reviewer per case: the primary key is what stops a reviewer counting twice.
CREATE TABLE review_votes (
    session_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    vote TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (session_id, reviewer)
)
;
-- A sign-in under way: the provider's `state` (hashed) names it, and the rest (the nonce
-- and the PKCE verifier) waits sealed until the provider sends the browser back, once.
CREATE TABLE admin_logins (
    state_hash TEXT PRIMARY KEY,
    pending_sealed TEXT NOT NULL,
    expires_at BIGINT NOT NULL
)
;
-- A console sign-in: the cookie's secret, hashed; who it is and their roles as the
-- provider said at sign-in, and the names their own account goes by (`aliases`: login
-- and mail, lower case, comma-joined), so they cannot decide their own recovery; the
-- form token every change must carry.
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    aliases TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
)
;
