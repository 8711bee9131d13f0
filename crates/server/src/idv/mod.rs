//! Reclaim as an identity-verification (IDV) provider: an OpenID provider a relying
//! party (Okta Identity Engine's "custom IDV vendor") sends a person to, to have them
//! prove who they are with an ID document and a live selfie (docs/idv.md).
//!
//! The relying party pushes its authorization request (PAR, RFC 9126, with PKCE S256 and
//! a `claims` parameter asking for `verified_claims`); the person's browser comes to the
//! authorization endpoint with the request_uri, which starts one verification-only
//! session (action `verify_identity`: it changes nothing in the directory, and no grant
//! is ever issued for it) bound to that request at its creation; the person continues in
//! the Reclaim app by the usual hand-off; the attestation is judged as any other
//! (recovery/decision.rs); a passed verification keeps its document facts sealed on the
//! request; the browser then goes back with a one-time code, which the relying party
//! redeems (client authentication, redirect_uri, PKCE verifier) for an ID token signed
//! with the current key, carrying `verified_claims`.
//!
//! Here: [`keys`], the signing keys and the JWKS, and [`claims`], what a verification
//! proves and the `verified_claims` made of it. The settings are `crate::config::idv`;
//! the steps, from the push to the token, are `crate::recovery::idv`.
//!
//! - [`keys`]: the signing keys and the JWKS.
//! - [`claims`]: what a verification proves and the `verified_claims` made of it.

pub mod claims;
pub mod keys;

pub use crate::config::idv::{IdvClient, IdvConfig};

/// The provider as it runs: its settings' keys, loaded at start.
#[derive(Debug)]
pub struct Provider {
    pub keys: keys::Keyring,
}

impl Provider {
    /// The provider of `config`, or `None` when `[idv]` is off.
    pub fn open(config: &IdvConfig) -> Result<Option<Provider>, String> {
        if !config.enabled {
            return Ok(None);
        }
        Ok(Some(Provider {
            keys: keys::Keyring::load(&config.signing_keys)?,
        }))
    }
}
