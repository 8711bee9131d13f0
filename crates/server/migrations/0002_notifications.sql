-- Recovery notices (NIST SP 800-63B-4: notice of recovery), version 2.
-- The outbox: one row per recipient, written in the transaction of the event that causes
-- it, sent by the background worker of any instance (a lease in the row keeps two from
-- sending one notice). The body holds the "this wasn't me" link, a bearer secret, so it
-- is sealed with the server's key and erased once the mail is sent.
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    user_ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_try_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    sent_at BIGINT,
    gave_up_at BIGINT
)
;
CREATE INDEX notices_due ON notices (sent_at, gave_up_at, next_try_at)
;
-- "This wasn't me" links: only the SHA-256 of the token is kept, like every bearer secret.
CREATE TABLE notice_links (
    token_hash TEXT PRIMARY KEY,
    user_ref TEXT NOT NULL,
    session_id TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    happened_at BIGINT NOT NULL,
    effective_at BIGINT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
)
;
-- Refusals per account, to mail every refusal but the first of a series: `count` is the
-- refusals since the series began, `last_at` the latest; a quiet period starts a new one.
CREATE TABLE refusal_series (
    user_ref TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    last_at BIGINT NOT NULL
)
;
-- Accounts whose owner said "this wasn't me": no self-service until an admin clears it.
CREATE TABLE self_service_locks (
    user_ref TEXT PRIMARY KEY,
    locked_at BIGINT NOT NULL,
    reason TEXT NOT NULL
)
