-- Reclaim's schema, version 1. Written once for SQLite and PostgreSQL: only TEXT and
-- BIGINT columns, no engine-specific types, so the same statements run on both.
-- Statements are separated by lines holding only `;`.
CREATE TABLE devices (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    tier TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
)
;
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    login TEXT NOT NULL,
    user_ref TEXT,
    action TEXT NOT NULL,
    device_key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    nonce_used BIGINT NOT NULL,
    challenge TEXT NOT NULL,
    steps TEXT NOT NULL,
    state TEXT NOT NULL,
    reasons TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    handoff_hash TEXT,
    handoff_expires_at BIGINT,
    follower_token_hash TEXT,
    client_addr TEXT NOT NULL
)
;
CREATE INDEX sessions_token ON sessions (token_hash)
;
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    user_ref TEXT NOT NULL,
    login TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    template_sealed TEXT,
    password_sealed TEXT,
    lease_until BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
)
;
CREATE INDEX grants_state ON grants (state)
;
CREATE TABLE templates (
    user_ref TEXT PRIMARY KEY,
    template_sealed TEXT NOT NULL,
    updated_at BIGINT NOT NULL
)
;
CREATE TABLE frame_hashes (
    user_key TEXT NOT NULL,
    hash TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_key, hash)
)
;
CREATE TABLE reviews (
    session_id TEXT PRIMARY KEY,
    evidence_sealed TEXT NOT NULL,
    reasons TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delete_after BIGINT NOT NULL,
    outcome TEXT
)
;
CREATE TABLE limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    window_s BIGINT NOT NULL DEFAULT 0
)
;
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
;
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
)
;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
