-- The data key's fingerprint (issue 17): the server records which key sealed this
-- database at its first start, and refuses to start with another key or none. Before,
-- a lost data.key was replaced by a new one and everything sealed with the old one
-- became unreadable without a word. One row (id 1); the fingerprint is a one-way value
-- derived from the key (crypto.rs), not the key.
CREATE TABLE data_key (
    id BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
)
