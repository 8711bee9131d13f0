//! Every bound the app and the server both apply, in one place: the app refuses early what
//! the server would refuse, and `crates/server/openapi.json` states the same numbers (its
//! test checks them against these).

pub use crate::attestation::MAX_TOKEN_BYTES;
pub use crate::password::{MAX_PASSWORD_INPUT_BYTES, MAX_PASSWORD_INPUT_CHARS};

/// Most characters of a login (username or email address), once trimmed.
pub const MAX_LOGIN_CHARS: usize = 256;

/// Most characters of a device's name, as administrators see it.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Most bytes of a device's key id as a session names it.
pub const MAX_DEVICE_ID_BYTES: usize = 64;

/// Most bytes of a session id; the server's ids are 22 characters.
pub const MAX_SESSION_ID_BYTES: usize = 64;

/// Most bytes of a bearer secret: a session token, a reset grant.
pub const MAX_SECRET_BYTES: usize = 128;

/// Most selfie frames one capture (and one attestation) may carry: a challenge takes a few
/// seconds of video at a handful of frames a second.
pub const MAX_SELFIE_FRAMES: usize = 60;

/// Most pieces of evidence in one upload: the ID's two sides and the selfie frames.
pub const MAX_EVIDENCE_ITEMS: usize = MAX_SELFIE_FRAMES + 2;

/// Most actions one challenge may ask for; longer sequences tire people and gain nothing.
pub const MAX_CHALLENGE_ACTIONS: usize = 8;
