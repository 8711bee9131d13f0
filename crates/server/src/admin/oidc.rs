//! Sign-in to the admin console through the company's OpenID provider: authorization
//! code flow with PKCE (S256), the ID token's signature, issuer, audience, nonce and
//! expiry checked, and the person's groups read from a configured claim.
//!
//! Small and strict on purpose: discovery (whose `issuer` must be the configured one,
//! character for character), the JWKS, the token endpoint, and nothing else (no userinfo,
//! no refresh tokens, no dynamic registration). ID tokens are accepted signed with RS256
//! or ES256 only, by a key of the provider's JWKS named by `kid`; keys a token carries
//! itself (`jwk`, `jku`, `x5u`, `x5c`) are never looked at. Every URL is https, except on
//! a loopback host (tests); every answer is read within [`TIMEOUT`] and up to
//! [`MAX_RESPONSE_BYTES`] before it is parsed.
//!
//! Errors ([`OidcError`]) say what failed, never with a token, a code or a secret in them;
//! the console shows one neutral refusal for all of them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::OidcConfig;
use crate::siem::net::{connect, tls_config};

/// The most read of any answer from the provider (discovery, JWKS, token endpoint).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// The longest ID token accepted (real ones are a few KiB).
pub const MAX_ID_TOKEN_BYTES: usize = 64 * 1024;

/// The longest a request to the provider may take, connection and answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Clock difference allowed between the provider and us, seconds, for `exp` and `iat`.
pub const LEEWAY_S: i64 = 60;

/// An unknown `kid` makes us fetch the JWKS again (the provider rotated its keys), but
/// not more often than this: tokens with made-up kids must not make us hammer it.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a started sign-in may take until it is finished.
pub const PENDING_TTL_S: i64 = 600;

/// Scopes always asked for.
const BASE_SCOPES: &str = "openid profile email";

/// Why a sign-in failed. No variant carries a token, a code or a secret.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{what}: {reason}")]
    Network { what: &'static str, reason: String },
    #[error("{what}: timed out")]
    Timeout { what: &'static str },
    #[error("{what}: answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    #[error("{what}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge { what: &'static str },
    #[error("{what}: {reason}")]
    BadDocument { what: &'static str, reason: String },
    #[error("discovery: the document's issuer is not the configured one")]
    IssuerMismatch,
    #[error("no randomness from the system")]
    Random,
    #[error("the sign-in was started more than {PENDING_TTL_S} s ago")]
    PendingExpired,
    #[error("the redirect URI is not the one the sign-in started with")]
    RedirectMismatch,
    #[error("the authorization code is malformed")]
    BadCode,
    /// The token endpoint refused the code (`error` is its OAuth error code, e.g.
    /// `invalid_grant` for a code used twice).
    #[error("token endpoint refused the code (HTTP {status}, {})", error.as_deref().unwrap_or("no error code"))]
    TokenRefused { status: u16, error: Option<String> },
    #[error("the token endpoint's answer has no id_token")]
    NoIdToken,
    #[error("ID token is larger than {MAX_ID_TOKEN_BYTES} bytes")]
    TokenTooLarge,
    #[error("ID token is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `alg` (cut to 16 characters) is not RS256 or ES256.
    #[error("ID token is signed with {0}, not RS256 or ES256")]
    UnsupportedAlg(String),
    #[error("ID token header has a `crit` extension")]
    CriticalHeader,
    #[error("ID token header has no kid")]
    MissingKid,
    #[error("ID token's kid is not in the provider's JWKS")]
    UnknownKid,
    #[error("ID token's key in the JWKS is not one for its alg")]
    KeyMismatch,
    #[error("ID token's signature does not verify")]
    BadSignature,
    #[error("ID token has no valid `{0}` claim")]
    MissingClaim(&'static str),
    #[error("ID token's iss is not the configured issuer")]
    WrongIssuer,
    #[error("ID token's aud does not contain the client id")]
    WrongAudience,
    #[error("ID token has several audiences and no azp")]
    MissingAzp,
    #[error("ID token's azp is not the client id")]
    WrongAzp,
    #[error("ID token has expired")]
    Expired,
    #[error("ID token was issued in the future")]
    IssuedInFuture,
    #[error("ID token's nonce is not the sign-in's")]
    NonceMismatch,
    #[error("ID token shows no multi-factor sign-in (amr/acr)")]
    NotMultiFactor,
}

/// Who signed in, as the provider's ID token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    /// The mail, unless the provider says it is not verified (`email_verified: false`).
    pub email: Option<String>,
    /// The person's own login, from the configured `username_claim`.
    pub username: Option<String>,
    /// From the configured groups claim: an array of strings, or a single string as one
    /// group; anything else gives none.
    pub groups: Vec<String>,
}

/// A sign-in started by [`Provider::begin`], for the caller to keep (server-side, or
/// sealed in a cookie) until the provider sends the browser back. Its Debug shows no
/// secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    state: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    /// Unix seconds.
    created_at: i64,
}

impl PendingLogin {
    /// The `state` sent to the provider: the callback's must be the same
    /// ([`PendingLogin::state_matches`]), and a caller may key its store by it.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Whether `state` from the callback is this sign-in's (constant time).
    pub fn state_matches(&self, state: &str) -> bool {
        bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Unix seconds.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A URL we send requests to, checked: https, or http on a loopback host.
#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    tls: bool,
    /// As in the URL: `[::1]` for IPv6.
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
}

/// `url` split for a request, once [`OidcConfig::check_url`] accepts it.
fn parse_url(url: &str) -> Result<Endpoint, String> {
    OidcConfig::check_url(url)?;
    let uri: hyper::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
    let tls = uri.scheme_str() == Some("https");
    let authority = uri.authority().ok_or("no host")?;
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Endpoint {
        url: url.to_string(),
        tls,
        host,
        port,
        authority: authority.as_str().to_string(),
        path_and_query: uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string()),
    })
}

/// A public key from the provider's JWKS.
#[derive(Debug, Clone)]
struct Jwk {
    kid: String,
    /// The key's own `alg`, when it names one: a token must then use that one.
    alg: Option<String>,
    material: KeyMaterial,
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// P-256, uncompressed (`04 || x || y`).
    P256(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

#[derive(Debug)]
struct KeySet {
    keys: Vec<Jwk>,
    /// When the JWKS was last fetched (or a fetch was last started).
    fetched: Instant,
}

/// The company's OpenID provider as discovery found it.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    authorization_endpoint: Endpoint,
    token_endpoint: Endpoint,
    jwks_uri: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    keys: Mutex<KeySet>,
}

impl Provider {
    /// Reads `{issuer}/.well-known/openid-configuration` (whose `issuer` must equal the
    /// configured one exactly) and the provider's JWKS.
    pub async fn discover(config: &OidcConfig) -> Result<Provider, OidcError> {
        Provider::discover_within(config, TIMEOUT).await
    }

    async fn discover_within(
        config: &OidcConfig,
        timeout: Duration,
    ) -> Result<Provider, OidcError> {
        config.check().map_err(|e| OidcError::Config(e.0))?;
        let tls = tls_config(config.ca_file.as_deref()).map_err(OidcError::Config)?;
        const WHAT: &str = "discovery";
        // OpenID Connect Discovery 1.0, 4: the issuer without its trailing slash, then
        // the well-known path.
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let url =
            parse_url(&url).map_err(|reason| OidcError::BadDocument { what: WHAT, reason })?;
        let (status, body) = request(&tls, timeout, &url, None, None, WHAT).await?;
        if status != 200 {
            return Err(OidcError::Status { what: WHAT, status });
        }
        let doc = json_object(&body, WHAT)?;
        if doc.get("issuer").and_then(Value::as_str) != Some(config.issuer.as_str()) {
            return Err(OidcError::IssuerMismatch);
        }
        let endpoint = |name: &'static str| -> Result<Endpoint, OidcError> {
            let url =
                doc.get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| OidcError::BadDocument {
                        what: WHAT,
                        reason: format!("no {name}"),
                    })?;
            parse_url(url).map_err(|e| OidcError::BadDocument {
                what: WHAT,
                reason: format!("{name}: {e}"),
            })
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?;
        let token_endpoint = endpoint("token_endpoint")?;
        let jwks_uri = endpoint("jwks_uri")?;
        // A provider that says which PKCE methods it has, and not S256, would ignore ours.
        if let Some(methods) = doc.get("code_challenge_methods_supported") {
            let s256 = methods
                .as_array()
                .is_some_and(|m| m.iter().any(|v| v.as_str() == Some("S256")));
            if !s256 {
                return Err(OidcError::BadDocument {
                    what: WHAT,
                    reason: "the provider does not support PKCE with S256".into(),
                });
            }
        }
        let keys = fetch_jwks(&tls, timeout, &jwks_uri).await?;
        Ok(Provider {
            config: config.clone(),
            authorization_endpoint,
            token_endpoint,
            jwks_uri,
            tls,
            timeout,
            keys: Mutex::new(KeySet {
                keys,
                fetched: Instant::now(),
            }),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Starts a sign-in: the URL to send the browser to, and what to keep until it
    /// comes back to `redirect_uri` (new `state`, `nonce` and PKCE verifier, from the
    /// system's randomness).
    pub fn begin(&self, redirect_uri: &str) -> Result<(String, PendingLogin), OidcError> {
        let pending = PendingLogin {
            state: random_token()?,
            nonce: random_token()?,
            code_verifier: random_token()?,
            redirect_uri: redirect_uri.to_string(),
            created_at: now(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.code_verifier.as_bytes()));
        let mut scope = BASE_SCOPES.to_string();
        for extra in &self.config.scopes {
            if !scope.split(' ').any(|s| s == extra) {
                scope.push(' ');
                scope.push_str(extra);
            }
        }
        let acr_values = self.config.mfa_acr.join(" ");
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", &pending.state),
            ("nonce", &pending.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        if !acr_values.is_empty() {
            params.push(("acr_values", &acr_values));
        }
        let query = form_encode(&params);
        let base = &self.authorization_endpoint.url;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok((format!("{base}{separator}{query}"), pending))
    }

    /// Finishes a sign-in: redeems `code` at the token endpoint (with the client secret
    /// when one is configured, `client_secret_basic`; with PKCE always) and verifies the
    /// ID token that comes back. The caller has checked the callback's `state` against
    /// `pending` ([`PendingLogin::state_matches`]) and maps the identity's groups to
    /// roles ([`super::roles`]).
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Identity, OidcError> {
        if pending.redirect_uri != redirect_uri {
            return Err(OidcError::RedirectMismatch);
        }
        let age = now() - pending.created_at;
        if !(-LEEWAY_S..=PENDING_TTL_S).contains(&age) {
            return Err(OidcError::PendingExpired);
        }
        if code.is_empty() || code.len() > 4096 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OidcError::BadCode);
        }
        const WHAT: &str = "token endpoint";
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pending.code_verifier.as_str()),
        ];
        let authorization = match &self.config.client_secret {
            // RFC 6749, 2.3.1: both form-encoded, then Basic.
            Some(secret) => Some(format!(
                "Basic {}",
                STANDARD.encode(format!(
                    "{}:{}",
                    form_component(&self.config.client_id),
                    form_component(secret)
                ))
            )),
            None => {
                form.push(("client_id", self.config.client_id.as_str()));
                None
            }
        };
        let body = form_encode(&form);
        let (status, answer) = request(
            &self.tls,
            self.timeout,
            &self.token_endpoint,
            Some(body),
            authorization,
            WHAT,
        )
        .await?;
        if status != 200 {
            // Only the OAuth error code is kept: the description is the provider's free
            // text, and nothing from the answer should carry a code into our logs.
            let error = serde_json::from_slice::<Value>(&answer)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .filter(|e| {
                    e.len() <= 64 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
            return Err(OidcError::TokenRefused { status, error });
        }
        let answer = json_object(&answer, WHAT)?;
        let id_token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or(OidcError::NoIdToken)?;
        self.verify(id_token, &pending.nonce).await
    }

    /// Verifies an ID token obtained outside [`Provider::finish`] against `pending`'s
    /// nonce: only tests hand tokens in directly (one redeemed by another client, to see
    /// its audience refused).
    #[cfg(any(test, feature = "test-hooks"))]
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        pending: &PendingLogin,
    ) -> Result<Identity, OidcError> {
        self.verify(id_token, &pending.nonce).await
    }

    async fn verify(&self, id_token: &str, nonce: &str) -> Result<Identity, OidcError> {
        let jws = Jws::parse(id_token)?;
        let key = self.key(&jws.kid, jws.alg).await?;
        jws.verify(&key)?;
        check_claims(&jws.claims, &self.config, nonce, now())
    }

    /// The JWKS key named `kid` for `alg`; an unknown kid fetches the JWKS again, at most
    /// once per [`JWKS_REFETCH_INTERVAL`].
    async fn key(&self, kid: &str, alg: Alg) -> Result<Jwk, OidcError> {
        let refetch = {
            let mut set = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = set.keys.iter().find(|k| k.kid == kid) {
                return usable(k, alg);
            }
            if set.fetched.elapsed() < JWKS_REFETCH_INTERVAL {
                false
            } else {
                // Taken now, so concurrent sign-ins with unknown kids fetch once.
                set.fetched = Instant::now();
                true
            }
        };
        if !refetch {
            return Err(OidcError::UnknownKid);
        }
        let keys = fetch_jwks(&self.tls, self.timeout, &self.jwks_uri).await?;
        let found = keys.iter().find(|k| k.kid == kid).cloned();
        {
            let mut set = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            set.keys = keys;
        }
        match found {
            Some(k) => usable(&k, alg),
            None => Err(OidcError::UnknownKid),
        }
    }
}

/// `key`, if it is one for `alg`.
fn usable(key: &Jwk, alg: Alg) -> Result<Jwk, OidcError> {
    let kind_fits = matches!(
        (&key.material, alg),
        (KeyMaterial::Rsa { .. }, Alg::Rs256) | (KeyMaterial::P256(_), Alg::Es256)
    );
    let alg_fits = key.alg.as_deref().is_none_or(|a| a == alg.name());
    if kind_fits && alg_fits {
        Ok(key.clone())
    } else {
        Err(OidcError::KeyMismatch)
    }
}

async fn fetch_jwks(
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
    url: &Endpoint,
) -> Result<Vec<Jwk>, OidcError> {
    const WHAT: &str = "jwks";
    let (status, body) = request(tls, timeout, url, None, None, WHAT).await?;
    if status != 200 {
        return Err(OidcError::Status { what: WHAT, status });
    }
    parse_jwks(&body)
}

/// The signing keys of a JWKS we can use (RSA, EC P-256) and that have a kid; others
/// (encryption keys, other curves) are skipped, not an error.
fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, OidcError> {
    const WHAT: &str = "jwks";
    let doc = json_object(body, WHAT)?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(OidcError::BadDocument {
            what: WHAT,
            reason: "no keys".into(),
        })?;
    let mut out = Vec::new();
    for key in keys {
        let field = |name: &str| key.get(name).and_then(Value::as_str);
        let bytes = |name: &str| field(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        let Some(kid) = field("kid") else { continue };
        if field("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let material = match field("kty") {
            Some("RSA") => match (bytes("n"), bytes("e")) {
                (Some(n), Some(e)) => KeyMaterial::Rsa { n, e },
                _ => continue,
            },
            Some("EC") if field("crv") == Some("P-256") => match (bytes("x"), bytes("y")) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = Vec::with_capacity(65);
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    KeyMaterial::P256(point)
                }
                _ => continue,
            },
            _ => continue,
        };
        out.push(Jwk {
            kid: kid.to_string(),
            alg: field("alg").map(str::to_string),
            material,
        });
    }
    Ok(out)
}

/// A compact JWS, split and decoded; not yet verified.
struct Jws {
    alg: Alg,
    kid: String,
    /// `BASE64URL(header) . BASE64URL(payload)`, as signed.
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

impl Jws {
    fn parse(token: &str) -> Result<Jws, OidcError> {
        if token.len() > MAX_ID_TOKEN_BYTES {
            return Err(OidcError::TokenTooLarge);
        }
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OidcError::Malformed("not three parts"));
        };
        let decode = |part: &str, what: &'static str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| OidcError::Malformed(what))
        };
        let header_bytes = decode(header_part, "header is not base64url")?;
        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|_| OidcError::Malformed("header is not a JSON object"))?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Alg::Rs256,
            Some("ES256") => Alg::Es256,
            Some(other) => {
                return Err(OidcError::UnsupportedAlg(
                    other
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '+')
                        .take(16)
                        .collect(),
                ))
            }
            None => return Err(OidcError::Malformed("header has no alg")),
        };
        // RFC 7515, 4.1.11: extensions we do not understand must not be ignored.
        if header.contains_key("crit") {
            return Err(OidcError::CriticalHeader);
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(OidcError::MissingKid)?
            .to_string();
        let payload_bytes = decode(payload, "payload is not base64url")?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload_bytes)
            .map_err(|_| OidcError::Malformed("payload is not a JSON object"))?;
        let signature = decode(signature, "signature is not base64url")?;
        let signing_input = token.as_bytes()[..header_part.len() + 1 + payload.len()].to_vec();
        Ok(Jws {
            alg,
            kid,
            signing_input,
            signature,
            claims,
        })
    }

    fn verify(&self, key: &Jwk) -> Result<(), OidcError> {
        use ring::signature::{
            RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
            RSA_PKCS1_2048_8192_SHA256,
        };
        let ok = match (&key.material, self.alg) {
            (KeyMaterial::Rsa { n, e }, Alg::Rs256) => RsaPublicKeyComponents { n, e }
                .verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    &self.signing_input,
                    &self.signature,
                )
                .is_ok(),
            (KeyMaterial::P256(point), Alg::Es256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(&self.signing_input, &self.signature)
                    .is_ok()
            }
            _ => return Err(OidcError::KeyMismatch),
        };
        if ok {
            Ok(())
        } else {
            Err(OidcError::BadSignature)
        }
    }
}

/// The ID token's claims checked (OpenID Connect Core 1.0, 3.1.3.7) at `now` (Unix
/// seconds), and the identity they give.
fn check_claims(
    claims: &Map<String, Value>,
    config: &OidcConfig,
    nonce: &str,
    now: i64,
) -> Result<Identity, OidcError> {
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| {
        claims.get(name).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        })
    };
    match string("iss") {
        Some(iss) if iss == config.issuer => {}
        Some(_) => return Err(OidcError::WrongIssuer),
        None => return Err(OidcError::MissingClaim("iss")),
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(OidcError::MissingClaim("aud")),
    };
    if !audiences.contains(&config.client_id.as_str()) {
        return Err(OidcError::WrongAudience);
    }
    match string("azp") {
        Some(azp) if azp != config.client_id => return Err(OidcError::WrongAzp),
        None if audiences.len() > 1 => return Err(OidcError::MissingAzp),
        _ => {}
    }
    let exp = number("exp").ok_or(OidcError::MissingClaim("exp"))?;
    if exp.saturating_add(LEEWAY_S) <= now {
        return Err(OidcError::Expired);
    }
    let iat = number("iat").ok_or(OidcError::MissingClaim("iat"))?;
    if iat > now.saturating_add(LEEWAY_S) {
        return Err(OidcError::IssuedInFuture);
    }
    let token_nonce = string("nonce").ok_or(OidcError::MissingClaim("nonce"))?;
    if !bool::from(token_nonce.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err(OidcError::NonceMismatch);
    }
    // The console approves password resets: a stolen password alone must not open it.
    if !(config.mfa_amr.is_empty() && config.mfa_acr.is_empty()) {
        let amr_says = match claims.get("amr") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|m| config.mfa_amr.iter().any(|want| want == m)),
            _ => false,
        };
        let acr_says = string("acr").is_some_and(|a| config.mfa_acr.iter().any(|want| want == a));
        if !amr_says && !acr_says {
            return Err(OidcError::NotMultiFactor);
        }
    }
    let subject = string("sub")
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(OidcError::MissingClaim("sub"))?;
    let groups = match claims.get(&config.groups_claim) {
        Some(Value::String(g)) => vec![g.clone()],
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Identity {
        issuer: config.issuer.clone(),
        subject: subject.to_string(),
        name: string("name").map(str::to_string),
        // A mail the person may have typed in themselves is no proof of whose it is.
        email: string("email")
            .filter(|_| claims.get("email_verified") != Some(&Value::Bool(false)))
            .map(str::to_string),
        username: string(&config.username_claim)
            .filter(|u| !u.is_empty() && u.len() <= 255)
            .map(str::to_string),
        groups,
    })
}

/// One request to the provider, within `timeout` in all, its answer read up to
/// [`MAX_RESPONSE_BYTES`]: a GET, or a form POST when `form` is given. Redirects are not
/// followed.
async fn request(
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
    url: &Endpoint,
    form: Option<String>,
    authorization: Option<String>,
    what: &'static str,
) -> Result<(u16, Bytes), OidcError> {
    match tokio::time::timeout(
        timeout,
        exchange(tls, timeout, url, form, authorization, what),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => Err(OidcError::Timeout { what }),
    }
}

async fn exchange(
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
    url: &Endpoint,
    form: Option<String>,
    authorization: Option<String>,
    what: &'static str,
) -> Result<(u16, Bytes), OidcError> {
    let network = |reason: String| OidcError::Network { what, reason };
    let tls = if url.tls {
        let name = url.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| network("not a TLS server name".into()))?;
        Some((tls.clone(), name))
    } else {
        None
    };
    let address = format!("{}:{}", url.host, url.port);
    let stream = connect(&address, tls.as_ref(), timeout)
        .await
        .map_err(network)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| network(format!("http: {e}")))?;
    let conn = tokio::spawn(conn);
    let builder = hyper::Request::builder()
        .uri(url.path_and_query.as_str())
        .header(hyper::header::HOST, url.authority.as_str())
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "reclaim-admin/1");
    let request = match form {
        Some(form) => {
            let mut b = builder.method(hyper::Method::POST).header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            if let Some(auth) = authorization {
                b = b.header(hyper::header::AUTHORIZATION, auth);
            }
            b.body(Full::new(Bytes::from(form)))
        }
        None => builder
            .method(hyper::Method::GET)
            .body(Full::new(Bytes::new())),
    }
    .map_err(|e| network(format!("http: {e}")))?;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| network(format!("http: {e}")))?;
        let status = response.status().as_u16();
        let declared = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(OidcError::TooLarge { what });
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    OidcError::TooLarge { what }
                } else {
                    network(format!("http: {e}"))
                }
            })?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    conn.abort();
    answer
}

fn json_object(body: &[u8], what: &'static str) -> Result<Map<String, Value>, OidcError> {
    serde_json::from_slice(body).map_err(|_| OidcError::BadDocument {
        what,
        reason: "not a JSON object".into(),
    })
}

/// 32 bytes from the system's randomness, base64url: 43 characters, as PKCE's verifier
/// needs at least (RFC 7636, 4.1).
fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| OidcError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `application/x-www-form-urlencoded` of one value.
fn form_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests;
