-- A case's evidence, one sealed row per picture (issue 17): a reviewer's page asks for
-- its pictures one at a time, and each request now opens only its own picture instead of
-- the whole evidence (up to 48 MiB). `n` is the picture's place in the upload (ID sides
-- first, then the selfie frames in order); its name (`id_front`, `selfie_3`) and capture
-- time are not personal and stay readable, so a case page lists its pictures without
-- opening any. Each picture is sealed with the case's session and its place bound in, so
-- a row moved to another case or place does not open. Closing a case deletes its rows in
-- the same transaction. Cases opened before this migration keep their evidence as one
-- sealed list in `reviews.evidence_sealed` until the worker splits it into rows.
CREATE TABLE review_pictures (
    session_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    name TEXT NOT NULL,
    t_ms BIGINT,
    picture_sealed TEXT NOT NULL,
    PRIMARY KEY (session_id, n)
)
