-- The identity-verification provider (`[idv]`, docs/idv.md): one row per pushed
-- authorization request (RFC 9126), from the push to the ID token. Nothing here is a
-- secret in clear: the request_uri, the browser's cookie and the code are kept as
-- SHA-256 hashes, the verified claims sealed with the data key.
--
-- A row is one use of each step: the request_uri starts at most one verification
-- (`session_id`, set once, unique: a session is bound to one request at its creation and
-- no session of another flow can ever be), and the code is redeemed at most once.
CREATE TABLE idv_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    claims TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    session_id TEXT UNIQUE,
    browser_hash TEXT,
    verified_sealed TEXT,
    verified_at BIGINT,
    code_hash TEXT UNIQUE,
    code_expires_at BIGINT,
    code_used BIGINT NOT NULL DEFAULT 0
);
