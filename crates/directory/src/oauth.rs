//! OAuth 2.0 client credentials with a private key (`private_key_jwt`, RFC 7523): how
//! Reclaim gets an access token from Okta's org authorization server and from Microsoft
//! Entra ID without a shared secret.
//!
//! The connector holds a private key (PEM, PKCS#8, or PKCS#1 for RSA); the vendor holds
//! only the public half. For each token Reclaim signs a short assertion (`iss` = `sub` =
//! the client id, `aud` = the token endpoint, a fresh `jti`, five minutes of life) and
//! trades it for an access token, which is kept until a minute before it expires. A
//! leaked assertion is worth five minutes against one endpoint; a leaked configuration
//! file without the key file is worth nothing.
//!
//! Keys: RSA (signed RS256; Okta and Entra both accept it) or P-256 (ES256; Okta only).
//! An RSA key can sign PS256 instead ([`SigningKey::with_pss`]), as Microsoft's certificate
//! credentials documentation now asks.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Url;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::rest::{clip, Rest};
use crate::DirectoryError;

/// How long a signed assertion is valid.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);
/// A cached token is renewed this long before it expires, so a call that starts with it
/// does not meet its expiry half-way.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The private key an assertion is signed with.
pub(crate) enum SigningKey {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    /// An RSA key signing with PSS padding (PS256).
    RsaPss(RsaKeyPair),
}

impl SigningKey {
    /// Reads a PEM private key: PKCS#8 (RSA or P-256) or PKCS#1 (RSA).
    pub(crate) fn from_pem_file(path: &Path) -> Result<SigningKey, DirectoryError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::PrivateKeyDer;

        let bad = |e: &dyn std::fmt::Display| {
            DirectoryError::Config(format!("private_key_file {}: {e}", path.display()))
        };
        let der = PrivateKeyDer::from_pem_file(path).map_err(|e| bad(&e))?;
        match &der {
            PrivateKeyDer::Pkcs8(k) => {
                if let Ok(rsa) = RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()) {
                    return Ok(SigningKey::Rsa(rsa));
                }
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    k.secret_pkcs8_der(),
                    &SystemRandom::new(),
                )
                .map(SigningKey::P256)
                .map_err(|_| bad(&"not an RSA (2048 bits or more) or P-256 key"))
            }
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(SigningKey::Rsa)
                .map_err(|e| bad(&e)),
            _ => Err(bad(
                &"a SEC1 key: convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)",
            )),
        }
    }

    /// The same RSA key, signing PS256 from now on; an error for a P-256 key.
    pub(crate) fn with_pss(self) -> Result<SigningKey, DirectoryError> {
        match self {
            SigningKey::Rsa(k) | SigningKey::RsaPss(k) => Ok(SigningKey::RsaPss(k)),
            SigningKey::P256(_) => Err(DirectoryError::Config(
                "the private key must be an RSA key (2048 bits or more)".into(),
            )),
        }
    }

    /// The RSA public key (PKCS#1 `RSAPublicKey`, DER), to check it against a certificate.
    pub(crate) fn rsa_public_key(&self) -> Option<&[u8]> {
        use ring::signature::KeyPair;
        match self {
            SigningKey::Rsa(k) | SigningKey::RsaPss(k) => Some(k.public_key().as_ref()),
            SigningKey::P256(_) => None,
        }
    }

    pub(crate) fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::P256(_) => "ES256",
            SigningKey::RsaPss(_) => "PS256",
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DirectoryError> {
        let rng = SystemRandom::new();
        let failed = |_| DirectoryError::Config("cannot sign the client assertion".into());
        match self {
            SigningKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
            SigningKey::P256(k) => Ok(k.sign(&rng, message).map_err(failed)?.as_ref().to_vec()),
            SigningKey::RsaPss(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PSS_SHA256, &rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
        }
    }
}

/// Signs RFC 7523 client assertions for one client at one token endpoint.
pub(crate) struct ClientAssertion {
    pub client_id: String,
    pub token_url: Url,
    pub key: SigningKey,
    /// Extra JOSE header members: `kid` (Okta, when the app has several keys),
    /// `x5t#S256` (Entra: the certificate's thumbprint).
    pub header: Map<String, Value>,
}

impl ClientAssertion {
    /// A signed assertion, valid from `now` for five minutes.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<String, DirectoryError> {
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| DirectoryError::Config("the clock is before 1970".into()))?
            .as_secs();
        let mut header = self.header.clone();
        header.insert("alg".into(), json!(self.key.alg()));
        header.insert("typ".into(), json!("JWT"));
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti)
            .map_err(|_| DirectoryError::Config("no randomness for the assertion".into()))?;
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url.as_str(),
            "iat": iat,
            "nbf": iat,
            "exp": iat + ASSERTION_LIFETIME.as_secs(),
            "jti": hex::encode(jti),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Access tokens from a token endpoint by the client-credentials grant, cached until
/// shortly before they expire.
pub(crate) struct TokenSource {
    assertion: ClientAssertion,
    scope: String,
    /// Send `client_id` in the form too (Entra wants it; RFC 7523 makes it optional).
    send_client_id: bool,
    cached: Mutex<Option<(Zeroizing<String>, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
}

impl TokenSource {
    pub(crate) fn new(
        assertion: ClientAssertion,
        scope: String,
        send_client_id: bool,
    ) -> TokenSource {
        TokenSource {
            assertion,
            scope,
            send_client_id,
            cached: Mutex::new(None),
        }
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub(crate) async fn bearer(&self, rest: &Rest) -> Result<Zeroizing<String>, DirectoryError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() + RENEW_BEFORE < *until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch(rest).await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Drops the cached token (after the service refused it), so the next call gets a
    /// new one.
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self, rest: &Rest) -> Result<(Zeroizing<String>, Duration), DirectoryError> {
        let reply = rest
            .send(|client| {
                let assertion = Zeroizing::new(self.assertion.sign(SystemTime::now())?);
                let mut form = vec![
                    ("grant_type", "client_credentials"),
                    ("scope", self.scope.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ];
                if self.send_client_id {
                    form.push(("client_id", self.assertion.client_id.as_str()));
                }
                Ok(client
                    .post(self.assertion.token_url.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&form))
            })
            .await?;
        if !reply.is_success() {
            // RFC 6749 §5.2: `invalid_client` (key or client id wrong), `invalid_scope`
            // (scope not granted to the app), `unauthorized_client`.
            let code = reply
                .json::<TokenRefusal>("token refusal")
                .map(|r| r.error)
                .unwrap_or_default();
            return Err(match reply.status {
                400 | 401 | 403 => DirectoryError::Config(format!(
                    "the token endpoint refused Reclaim's client ({}): check the client id, its key and the granted scopes",
                    clip(&code)
                )),
                s => crate::rest::refusal(s, &clip(&code), "a working token endpoint"),
            });
        }
        let answer: TokenAnswer = reply.json("token answer")?;
        if answer
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(DirectoryError::Protocol(
                "the token endpoint issued a token that is not a bearer token (DPoP-bound tokens are not supported)".into(),
            ));
        }
        if answer.access_token.is_empty() {
            return Err(DirectoryError::Protocol(
                "the token endpoint issued an empty token".into(),
            ));
        }
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(300).min(86_400));
        Ok((Zeroizing::new(answer.access_token), lifetime))
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_id", &self.assertion.client_id)
            .field("token_url", &self.assertion.token_url.as_str())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn p256() -> (SigningKey, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let path = std::env::temp_dir().join(format!("reclaim-oauth-{}.pem", std::process::id()));
        std::fs::write(&path, pem).unwrap();
        let key = SigningKey::from_pem_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let public = match &key {
            SigningKey::P256(k) => k.public_key().as_ref().to_vec(),
            SigningKey::Rsa(_) | SigningKey::RsaPss(_) => unreachable!(),
        };
        (key, public)
    }

    #[test]
    fn an_assertion_is_a_signed_jwt_for_the_token_endpoint() {
        let (key, public) = p256();
        let mut header = Map::new();
        header.insert("kid".into(), json!("key-1"));
        let a = ClientAssertion {
            client_id: "0oa1".into(),
            token_url: Url::parse("https://example.okta.com/oauth2/v1/token").unwrap(),
            key,
            header,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = a.sign(now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
        };
        let (h, c) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(
            (h["alg"].as_str(), h["kid"].as_str()),
            (Some("ES256"), Some("key-1"))
        );
        assert_eq!(c["iss"], "0oa1");
        assert_eq!(c["sub"], "0oa1");
        assert_eq!(c["aud"], "https://example.okta.com/oauth2/v1/token");
        assert_eq!(c["exp"].as_u64(), Some(1_700_000_300));
        assert_eq!(c["jti"].as_str().map(str::len), Some(32));
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(signed.as_bytes(), &sig)
            .unwrap();
        // A second assertion has its own jti (no replay of the first).
        let again = a.sign(now).unwrap();
        let c2 = decode(again.split('.').nth(1).unwrap());
        assert_ne!(c["jti"], c2["jti"]);
    }

    #[test]
    fn a_key_file_that_is_not_a_usable_key_is_a_configuration_error() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("reclaim-oauth-bad-{}.pem", std::process::id()));
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(matches!(
            SigningKey::from_pem_file(&path),
            Err(DirectoryError::Config(_))
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            SigningKey::from_pem_file(&dir.join("reclaim-no-such-key.pem")),
            Err(DirectoryError::Config(_))
        ));
    }
}
