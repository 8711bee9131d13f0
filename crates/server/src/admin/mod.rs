//! Who may use the admin console, and as what: the company's identity provider
//! ([`oidc`], authorization code with PKCE) signs people in, and their groups give them
//! a role (`admin`, `reviewer`, `auditor`: [`role`]).
//!
//! The console's pages live in `http::admin`; the cases it decides, in
//! `recovery::review`.

pub mod oidc;
pub mod role;

pub use role::{roles, Role};
