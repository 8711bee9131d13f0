-- A code an MFA reset gives the person (Entra ID's Temporary Access Pass, a Duo bypass
-- code: issue 18), sealed with the grant's id bound in, until the first answer to the
-- grant's holder carries it; then erased, so it is shown once. NULL for every other reset.
ALTER TABLE grants ADD COLUMN sign_in_code_sealed TEXT
