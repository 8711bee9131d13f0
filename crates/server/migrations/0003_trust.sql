-- Trust tiers and the policy table (issue 13).
-- A change approved with notice and delay is applied no sooner than `apply_after` (Unix
-- seconds; 0: at once), unless cancelled through the link in the notice.
ALTER TABLE grants ADD COLUMN apply_after BIGINT NOT NULL DEFAULT 0
;
-- TPM registrations between their two steps (`reclaim device tpm-challenge`, then
-- `reclaim device register --tpm-attestation`): what the verifier keeps, which holds only
-- the SHA-256 of the secret wrapped for the TPM. Deleted when the proof is tried (single
-- use) or when expired.
CREATE TABLE tpm_registrations (
    registration_id TEXT PRIMARY KEY,
    pending TEXT NOT NULL,
    name TEXT NOT NULL,
    expires_at BIGINT NOT NULL
)
;
