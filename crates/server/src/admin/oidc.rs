//! Sign-in to the admin console through the company's OpenID provider: authorization
//! code flow with PKCE (S256), the ID token's signature, issuer, audience, nonce and
//! expiry checked, and the person's groups read from a configured claim.
