//! The recovery layer: what a recovery is, between the HTTP layer (`crate::http`) that
//! parses requests and the store (`crate::store`) that holds the rows. It never builds
//! SQL and never sees HTTP; it takes typed requests and gives typed answers or an
//! [`ApiError`](crate::error::ApiError).
//!
//! - [`sessions`]: starting a session, its status, the hand-off to a phone, and which
//!   token a request holds.
//! - [`devices`]: a device registering its own key.
//! - [`evidence`]: the uploaded evidence, decoded and checked against its digests.
//! - [`decision`]: from the attestation to a grant, a review or a refusal; the policy it
//!   asks is `crate::policy`, a pure function of the verified facts.
//! - [`review`]: the cases a decision leaves to a trusted referee, decided in the admin
//!   console; an approval issues the grant the waiting app collects.
//! - [`resets`]: the grant used, the reset applied exactly once, resumed after failures.
//! - [`idv`]: the identity-verification provider's steps (`[idv]`, docs/idv.md), from a
//!   relying party's pushed request to its ID token.
//! - [`password`]: the password policy and a password's problems under it.
//! - [`notices`]: the "this wasn't me" link of the recovery notices (`crate::notify`
//!   mails them).

pub mod decision;
pub mod devices;
pub mod evidence;
pub mod idv;
pub mod notices;
pub mod password;
pub mod resets;
pub mod review;
pub mod sessions;
