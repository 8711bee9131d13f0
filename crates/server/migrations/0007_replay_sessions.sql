-- Replayed captures (issue 14): what is kept of each judged selfie capture to recognise it
-- if it is sent again, one row per session: per frame, the 64-bit difference hash of the
-- face (16 hex digits) and the head's motion (yaw, pitch, roll to a tenth of a degree, the
-- face's shift since the previous frame in face widths), `;`-separated
-- (reclaim_verify::liveness::replay::SeenSession::encode). No image, no embedding.
-- `approved` (1 or 0): approved captures and the rest are bounded apart, so that a
-- stranger's refused captures cannot push the person's own out (replay_store.rs).
-- `frame_hashes` (0001) is no longer written; its rows are still read, as hash-only
-- sessions, until they age out (replay_store.rs).
CREATE TABLE replay_sessions (
    user_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    frames TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    approved BIGINT NOT NULL,
    PRIMARY KEY (user_key, session_id)
)
;
CREATE INDEX replay_sessions_seen_at ON replay_sessions (seen_at)
;
CREATE INDEX frame_hashes_seen_at ON frame_hashes (seen_at)
