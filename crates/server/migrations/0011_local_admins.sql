-- Local console accounts for bootstrap and break-glass (issue 17): people who sign in to
-- the console with a passkey (WebAuthn, user verification required) instead of through
-- the company's OpenID provider. An account is made on the server's command line with
-- its roles and a one-time enrolment link: the link's secret is kept hashed, with its
-- expiry, until a passkey is enrolled with it (then both are cleared). `user_id` is the
-- account's WebAuthn user handle (a random UUID), which a discoverable passkey returns
-- at sign-in.
CREATE TABLE admin_local_accounts (
    name TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_used BIGINT,
    enrol_hash TEXT,
    enrol_expires BIGINT
)
;
-- An account's passkeys: the credential id (base64url), the passkey as webauthn-rs keeps
-- it (the public key, its signature counter and flags: public, nothing secret), the
-- counter the last sign-in recorded (0 until one did; a sign-in is recorded only over a
-- lower one, so two racing with one counter value count once), and when it was enrolled
-- and last used. The ceremonies under way wait sealed in `admin_logins` (0009), like the
-- OpenID sign-ins.
CREATE TABLE admin_passkeys (
    cred_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    passkey TEXT NOT NULL,
    counter BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used BIGINT
)
;
CREATE INDEX admin_passkeys_account ON admin_passkeys (account)
