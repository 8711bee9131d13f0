-- The screen-light sequence a session drew (issue 19), as `cyan:450,amber:350,...`; the
-- server judges the selfie's light against it. NULL when the policy leaves the light out.
ALTER TABLE sessions ADD COLUMN light TEXT
