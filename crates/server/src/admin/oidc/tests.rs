//! Every way an ID token can be wrong, on tokens signed here: ES256 with P-256 keys ring
//! makes, RS256 with the fixed test key `../testdata/rsa-2048.pem` (made once with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, for these tests only).
//! Discovery and the JWKS refetch run against a small HTTP server on 127.0.0.1.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const ISSUER: &str = "https://id.example.test";
const CLIENT: &str = "reclaim-console";
const NONCE: &str = "the-nonce-of-this-sign-in";

fn config() -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        ca_file: None,
        scopes: vec!["groups".into()],
        groups_claim: "groups".into(),
        username_claim: "preferred_username".into(),
        admin_groups: vec!["admins".into()],
        reviewer_groups: vec!["reviewers".into()],
        auditor_groups: Vec::new(),
        mfa_amr: vec!["mfa".into()],
        mfa_acr: Vec::new(),
    }
}

struct EcKey {
    pair: EcdsaKeyPair,
    kid: String,
}

impl EcKey {
    fn new(kid: &str) -> EcKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        EcKey {
            pair,
            kid: kid.into(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(&json!({"alg": "ES256", "kid": self.kid}), claims)
    }
}

fn rsa_key() -> RsaKeyPair {
    let pem = include_str!("../testdata/rsa-2048.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap()
}

fn rsa_parts(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    (c.n, c.e)
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let (n, e) = rsa_parts(pair);
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)})
}

fn rsa_token(pair: &RsaKeyPair, kid: &str, claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "RS256", "kid": kid}), claims);
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "alice", "nonce": NONCE,
        "iat": now - 5, "exp": now + 300,
        "name": "Alice Example", "email": "alice@example.test",
        "groups": ["reviewers", "staff"],
        "amr": ["pwd", "mfa"],
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// A provider as discovery would have made it, with `jwks`, pointing at nothing.
fn provider(jwks: Value) -> Provider {
    provider_at("https://id.example.test", jwks)
}

fn provider_at(base: &str, jwks: Value) -> Provider {
    let url = |path: &str| parse_url(&format!("{base}{path}")).unwrap();
    Provider {
        config: config(),
        authorization_endpoint: url("/authorize"),
        token_endpoint: url("/token"),
        jwks_uri: url("/jwks"),
        tls: tls_config(None).unwrap(),
        timeout: Duration::from_secs(2),
        keys: Mutex::new(KeySet {
            keys: parse_jwks(jwks.to_string().as_bytes()).unwrap(),
            fetched: Instant::now(),
        }),
    }
}

async fn verify(p: &Provider, token: &str) -> Result<Identity, OidcError> {
    p.verify(token, NONCE).await
}

#[tokio::test]
async fn good_tokens_give_the_identity() {
    let ec = EcKey::new("ec-1");
    let rsa = rsa_key();
    let p = provider(json!({"keys": [ec.jwk(), rsa_jwk(&rsa, "rsa-1")]}));
    let id = verify(&p, &ec.token(&claims())).await.unwrap();
    assert_eq!(
        id,
        Identity {
            issuer: ISSUER.into(),
            subject: "alice".into(),
            name: Some("Alice Example".into()),
            email: Some("alice@example.test".into()),
            username: None,
            groups: vec!["reviewers".into(), "staff".into()],
        }
    );
    // The login from the configured claim; a mail the provider calls unverified is none.
    let mut c = claims();
    c["preferred_username"] = json!("alice");
    c["email_verified"] = json!(false);
    let id = verify(&p, &ec.token(&c)).await.unwrap();
    assert_eq!(id.username.as_deref(), Some("alice"));
    assert_eq!(id.email, None);
    let id = verify(&p, &rsa_token(&rsa, "rsa-1", &claims()))
        .await
        .unwrap();
    assert_eq!(id.subject, "alice");
    // Several audiences with azp the client; groups as a single string.
    let c = with(claims(), "aud", json!([CLIENT, "another-api"]));
    let c = with(with(c, "azp", json!(CLIENT)), "groups", json!("admins"));
    let id = verify(&p, &ec.token(&c)).await.unwrap();
    assert_eq!(id.groups, ["admins"]);
    // Groups that are neither: none.
    for groups in [json!(7), json!(["a", 1]), json!({"a": 1})] {
        let id = verify(&p, &ec.token(&with(claims(), "groups", groups)))
            .await
            .unwrap();
        assert!(id.groups.is_empty());
    }
    let id = verify(&p, &ec.token(&without(claims(), "groups")))
        .await
        .unwrap();
    assert!(id.groups.is_empty());
    // Within the leeway: expired 30 s ago, issued 30 s ahead.
    let now = now();
    let c = with(
        with(claims(), "exp", json!(now - 30)),
        "iat",
        json!(now + 30),
    );
    assert!(verify(&p, &ec.token(&c)).await.is_ok());
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let ec = EcKey::new("ec-1");
    let other = EcKey::new("ec-1");
    let p = provider(json!({"keys": [ec.jwk()]}));
    assert_eq!(
        verify(&p, &other.token(&claims())).await,
        Err(OidcError::BadSignature)
    );
    // A signature over other claims, or one flipped bit.
    let good = ec.token(&claims());
    let forged = ec.token(&with(claims(), "sub", json!("mallory")));
    let parts: Vec<&str> = good.split('.').collect();
    let forged_parts: Vec<&str> = forged.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
    assert_eq!(verify(&p, &spliced).await, Err(OidcError::BadSignature));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(verify(&p, &flipped).await, Err(OidcError::BadSignature));
    // An RSA token checked against an RSA key that did not sign it.
    let rsa = rsa_key();
    let (n, _) = rsa_parts(&rsa);
    let mut wrong = rsa_jwk(&rsa, "rsa-1");
    let mut n2 = n.clone();
    n2[100] ^= 0x55;
    wrong["n"] = json!(URL_SAFE_NO_PAD.encode(n2));
    let p = provider(json!({"keys": [wrong]}));
    assert_eq!(
        verify(&p, &rsa_token(&rsa, "rsa-1", &claims())).await,
        Err(OidcError::BadSignature)
    );
}

#[tokio::test]
async fn alg_none_and_hmac_are_refused() {
    let rsa = rsa_key();
    let p = provider(json!({"keys": [rsa_jwk(&rsa, "rsa-1")]}));
    let none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "kid": "rsa-1"}), &claims())
    );
    assert_eq!(
        verify(&p, &none).await,
        Err(OidcError::UnsupportedAlg("none".into()))
    );
    // HS256 with the RSA public key as the HMAC secret (the classic confusion).
    let (n, _) = rsa_parts(&rsa);
    for secret in [
        n,
        rsa_jwk(&rsa, "rsa-1").to_string().into_bytes(),
        rsa.public().as_ref().to_vec(),
    ] {
        let input = signing_input(&json!({"alg": "HS256", "kid": "rsa-1"}), &claims());
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(input.as_bytes());
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert_eq!(
            verify(&p, &token).await,
            Err(OidcError::UnsupportedAlg("HS256".into()))
        );
    }
    for alg in ["RS512", "PS256", "ES384", "EdDSA", "rs256", ""] {
        let token = format!(
            "{}.AAAA",
            signing_input(&json!({"alg": alg, "kid": "rsa-1"}), &claims())
        );
        assert!(
            matches!(verify(&p, &token).await, Err(OidcError::UnsupportedAlg(_))),
            "{alg}"
        );
    }
    // An ES256 header over a kid that names an RSA key.
    let ec = EcKey::new("x");
    let token = ec.sign(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims());
    assert_eq!(verify(&p, &token).await, Err(OidcError::KeyMismatch));
}

#[tokio::test]
async fn keys_the_token_brings_are_ignored() {
    let ec = EcKey::new("ec-1");
    let attacker = EcKey::new("ec-1");
    let p = provider(json!({"keys": [ec.jwk()]}));
    for extra in [
        json!({"jwk": attacker.jwk()}),
        json!({"jku": "https://evil.example.test/jwks"}),
        json!({"x5u": "https://evil.example.test/cert"}),
    ] {
        let mut header = json!({"alg": "ES256", "kid": "ec-1"});
        for (k, v) in extra.as_object().unwrap() {
            header[k] = v.clone();
        }
        let token = attacker.sign(&header, &claims());
        assert_eq!(verify(&p, &token).await, Err(OidcError::BadSignature));
    }
    let token = ec.sign(
        &json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}),
        &claims(),
    );
    assert_eq!(verify(&p, &token).await, Err(OidcError::CriticalHeader));
    let token = ec.sign(&json!({"alg": "ES256"}), &claims());
    assert_eq!(verify(&p, &token).await, Err(OidcError::MissingKid));
}

#[tokio::test]
async fn wrong_claims_are_refused() {
    let ec = EcKey::new("ec-1");
    let p = provider(json!({"keys": [ec.jwk()]}));
    let now = now();
    let cases = [
        (
            with(claims(), "iss", json!("https://evil.example.test")),
            OidcError::WrongIssuer,
        ),
        (
            with(claims(), "iss", json!(format!("{ISSUER}/"))),
            OidcError::WrongIssuer,
        ),
        (without(claims(), "iss"), OidcError::MissingClaim("iss")),
        (
            with(claims(), "aud", json!("another-client")),
            OidcError::WrongAudience,
        ),
        (
            with(claims(), "aud", json!(["a", "b"])),
            OidcError::WrongAudience,
        ),
        (without(claims(), "aud"), OidcError::MissingClaim("aud")),
        (
            with(claims(), "aud", json!([CLIENT, "another-api"])),
            OidcError::MissingAzp,
        ),
        (
            with(
                with(claims(), "aud", json!([CLIENT, "another-api"])),
                "azp",
                json!("another-api"),
            ),
            OidcError::WrongAzp,
        ),
        (
            with(claims(), "azp", json!("another-api")),
            OidcError::WrongAzp,
        ),
        (with(claims(), "exp", json!(now - 61)), OidcError::Expired),
        (without(claims(), "exp"), OidcError::MissingClaim("exp")),
        (
            with(claims(), "exp", json!("tomorrow")),
            OidcError::MissingClaim("exp"),
        ),
        (
            with(claims(), "iat", json!(now + 120)),
            OidcError::IssuedInFuture,
        ),
        (without(claims(), "iat"), OidcError::MissingClaim("iat")),
        (
            with(claims(), "nonce", json!("another-sign-in")),
            OidcError::NonceMismatch,
        ),
        (
            with(claims(), "nonce", json!(format!("{NONCE}x"))),
            OidcError::NonceMismatch,
        ),
        (without(claims(), "nonce"), OidcError::MissingClaim("nonce")),
        (without(claims(), "sub"), OidcError::MissingClaim("sub")),
        (
            with(claims(), "sub", json!("")),
            OidcError::MissingClaim("sub"),
        ),
        // A password alone, no `amr` at all, or one that is not a list of names.
        (
            with(claims(), "amr", json!(["pwd"])),
            OidcError::NotMultiFactor,
        ),
        (without(claims(), "amr"), OidcError::NotMultiFactor),
        (
            with(claims(), "amr", json!("mfa")),
            OidcError::NotMultiFactor,
        ),
        // An `acr` counts only when it is one the configuration names (none here).
        (
            with(without(claims(), "amr"), "acr", json!("mfa")),
            OidcError::NotMultiFactor,
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(
            verify(&p, &ec.token(&c)).await,
            Err(expected.clone()),
            "{c}"
        );
    }
}

#[tokio::test]
async fn multi_factor_shows_by_amr_or_by_a_configured_acr_or_is_not_asked() {
    let ec = EcKey::new("ec-1");
    let mut p = provider(json!({"keys": [ec.jwk()]}));
    let password_only = with(claims(), "amr", json!(["pwd"]));
    let keycloak_level = with(password_only.clone(), "acr", json!("gold"));
    assert_eq!(
        verify(&p, &ec.token(&keycloak_level)).await,
        Err(OidcError::NotMultiFactor)
    );
    p.config.mfa_acr = vec!["gold".into()];
    assert!(verify(&p, &ec.token(&keycloak_level)).await.is_ok());
    assert_eq!(
        verify(&p, &ec.token(&password_only)).await,
        Err(OidcError::NotMultiFactor)
    );
    // Both lists empty: the provider's own policy is trusted, nothing is checked.
    p.config.mfa_amr.clear();
    p.config.mfa_acr.clear();
    assert!(verify(&p, &ec.token(&password_only)).await.is_ok());
}

#[tokio::test]
async fn malformed_and_oversized_tokens_are_refused() {
    let ec = EcKey::new("ec-1");
    let p = provider(json!({"keys": [ec.jwk()]}));
    let good = ec.token(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let cases = [
        ("".to_string(), "not three parts"),
        (format!("{}.{}", parts[0], parts[1]), "not three parts"),
        (format!("{good}.x"), "not three parts"),
        (
            format!("{}!.{}.{}", parts[0], parts[1], parts[2]),
            "header is not base64url",
        ),
        // Padding is not base64url as JWS has it.
        (
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
            "header is not base64url",
        ),
        (
            format!("{}.{}.{}", b64("{\"alg\":"), parts[1], parts[2]),
            "header is not a JSON object",
        ),
        (
            format!("{}.{}.{}", b64("[1]"), parts[1], parts[2]),
            "header is not a JSON object",
        ),
        (
            format!("{}.{}.{}", b64("{\"kid\":\"ec-1\"}"), parts[1], parts[2]),
            "header has no alg",
        ),
        (
            format!("{}.{}*.{}", parts[0], parts[1], parts[2]),
            "payload is not base64url",
        ),
        (
            format!("{}.{}.{}", parts[0], b64("\"alice\""), parts[2]),
            "payload is not a JSON object",
        ),
        (
            format!("{}.{}.{}%", parts[0], parts[1], parts[2]),
            "signature is not base64url",
        ),
    ];
    for (token, why) in cases {
        assert_eq!(
            verify(&p, &token).await,
            Err(OidcError::Malformed(why)),
            "{token}"
        );
    }
    // A signature of the wrong length for ES256.
    let short = format!("{}.{}.{}", parts[0], parts[1], b64("short"));
    assert_eq!(verify(&p, &short).await, Err(OidcError::BadSignature));
    let big = ec.token(&with(
        claims(),
        "pad",
        json!("x".repeat(MAX_ID_TOKEN_BYTES)),
    ));
    assert_eq!(verify(&p, &big).await, Err(OidcError::TokenTooLarge));
}

#[test]
fn begin_asks_for_code_with_pkce_and_keeps_the_secrets_out_of_debug() {
    let p = provider(json!({"keys": []}));
    let (url, pending) = p
        .begin("https://reclaim.example.test/admin/callback")
        .unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://id.example.test/authorize");
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT);
    assert_eq!(params["scope"], "openid%20profile%20email%20groups");
    assert_eq!(
        params["redirect_uri"],
        "https%3A%2F%2Freclaim.example.test%2Fadmin%2Fcallback"
    );
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["state"], pending.state());
    assert_eq!(params["nonce"], pending.nonce);
    // No `acr` is asked for unless the configuration names the multi-factor ones.
    assert!(!params.contains_key("acr_values"), "{url}");
    assert!(pending.code_verifier.len() >= 43);
    assert_eq!(
        params["code_challenge"],
        URL_SAFE_NO_PAD.encode(Sha256::digest(pending.code_verifier.as_bytes()))
    );
    assert!(pending.state_matches(pending.state()));
    assert!(!pending.state_matches("other"));
    let (_, second) = p
        .begin("https://reclaim.example.test/admin/callback")
        .unwrap();
    assert_ne!(second.state, pending.state);
    assert_ne!(second.nonce, pending.nonce);
    assert_ne!(second.code_verifier, pending.code_verifier);
    let debug = format!("{pending:?}");
    for secret in [&pending.state, &pending.nonce, &pending.code_verifier] {
        assert!(!debug.contains(secret.as_str()), "{debug}");
    }
    // It survives the caller's storage.
    let back: PendingLogin =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    assert_eq!(back.code_verifier, pending.code_verifier);
}

#[test]
fn urls_are_https_or_loopback_http() {
    for ok in [
        "https://id.example.test",
        "https://id.example.test:8443/realms/x",
        "http://127.0.0.1:8080",
        "http://[::1]:8080/x",
        "http://localhost/x",
    ] {
        assert!(OidcConfig::check_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://id.example.test",
        "http://127.0.0.2",
        "http://localhost.example.test",
        "ftp://id.example.test",
        "https://user:pw@id.example.test",
        "id.example.test",
        "",
    ] {
        assert!(OidcConfig::check_url(bad).is_err(), "{bad}");
        assert!(parse_url(bad).is_err(), "{bad}");
    }
    let mut c = config();
    c.issuer = "http://id.example.test".into();
    assert!(c.check().is_err());
    let mut c = config();
    c.reviewer_groups.clear();
    c.admin_groups.clear();
    assert!(c.check().is_err());
    let mut c = config();
    c.client_secret = Some("hunter2-secret".into());
    assert!(c.check().is_ok());
    assert!(!format!("{c:?}").contains("hunter2"));
}

/// A tiny HTTP server on 127.0.0.1: answers each path with a fixed status and body,
/// counts the requests per path, and never answers paths under `/hang`.
struct TestServer {
    base: String,
    routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let routes: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, h) = (r.clone(), h.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    if path.starts_with("/hang") {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let (status, body) = r
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, String::new()));
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        TestServer {
            base,
            routes,
            hits,
            task,
        }
    }

    fn route(&self, path: &str, status: u16, body: String) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.into(), (status, body));
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn discovery(&self, issuer: &str) {
        self.route(
            "/.well-known/openid-configuration",
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{}/authorize", self.base),
                "token_endpoint": format!("{}/token", self.base),
                "jwks_uri": format!("{}/jwks", self.base),
                "code_challenge_methods_supported": ["S256"],
            })
            .to_string(),
        );
    }

    fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer: self.base.clone(),
            ..config()
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_caps_the_answers() {
    let s = TestServer::start().await;
    let ec = EcKey::new("ec-1");
    s.route("/jwks", 200, json!({"keys": [ec.jwk()]}).to_string());
    s.discovery(&s.base);
    let p = Provider::discover(&s.config()).await.unwrap();
    assert_eq!(p.token_endpoint.url, format!("{}/token", s.base));
    // The configured issuer with a trailing slash is not the document's.
    let mut c = s.config();
    c.issuer = format!("{}/", s.base);
    assert_eq!(
        Provider::discover(&c).await.unwrap_err(),
        OidcError::IssuerMismatch
    );
    s.discovery("https://evil.example.test");
    assert_eq!(
        Provider::discover(&s.config()).await.unwrap_err(),
        OidcError::IssuerMismatch
    );
    // An endpoint over plain http elsewhere than loopback.
    s.route(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": s.base, "authorization_endpoint": "http://id.example.test/a",
            "token_endpoint": format!("{}/token", s.base), "jwks_uri": format!("{}/jwks", s.base)})
        .to_string(),
    );
    assert!(matches!(
        Provider::discover(&s.config()).await.unwrap_err(),
        OidcError::BadDocument { .. }
    ));
    // Oversized: a discovery document past the cap is not parsed.
    s.route(
        "/.well-known/openid-configuration",
        200,
        format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_RESPONSE_BYTES)),
    );
    assert_eq!(
        Provider::discover(&s.config()).await.unwrap_err(),
        OidcError::TooLarge { what: "discovery" }
    );
    s.route("/.well-known/openid-configuration", 500, String::new());
    assert_eq!(
        Provider::discover(&s.config()).await.unwrap_err(),
        OidcError::Status {
            what: "discovery",
            status: 500
        }
    );
    s.route("/.well-known/openid-configuration", 200, "not json".into());
    assert!(matches!(
        Provider::discover(&s.config()).await.unwrap_err(),
        OidcError::BadDocument { .. }
    ));
    // A provider that never answers: the request times out.
    let mut c = s.config();
    c.issuer = format!("{}/hang", s.base);
    let started = Instant::now();
    let err = Provider::discover_within(&c, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(err, OidcError::Timeout { what: "discovery" });
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_hung_provider_times_out() {
    let s = TestServer::start().await;
    let p = provider_at(&s.base, json!({"keys": []}));
    let url = parse_url(&format!("{}/hang", s.base)).unwrap();
    let started = Instant::now();
    let err = request(&p.tls, Duration::from_millis(300), &url, None, None, "jwks")
        .await
        .unwrap_err();
    assert_eq!(err, OidcError::Timeout { what: "jwks" });
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_jwks_again_at_most_once_a_minute() {
    let s = TestServer::start().await;
    let old = EcKey::new("old");
    let new = EcKey::new("new");
    s.route("/jwks", 200, json!({"keys": [new.jwk()]}).to_string());
    let p = provider_at(&s.base, json!({"keys": [old.jwk()]}));
    // Fetched just now: an unknown kid is refused without asking the provider.
    assert_eq!(
        verify(&p, &new.token(&claims())).await,
        Err(OidcError::UnknownKid)
    );
    assert_eq!(s.hits("/jwks"), 0);
    // A minute later the provider rotated its keys: one fetch finds the new one.
    p.keys.lock().unwrap().fetched = Instant::now() - JWKS_REFETCH_INTERVAL;
    assert!(verify(&p, &new.token(&claims())).await.is_ok());
    assert_eq!(s.hits("/jwks"), 1);
    // Made-up kids do not make us ask again within the minute.
    for i in 0..5 {
        let stranger = EcKey::new(&format!("stranger-{i}"));
        assert_eq!(
            verify(&p, &stranger.token(&claims())).await,
            Err(OidcError::UnknownKid)
        );
    }
    assert_eq!(s.hits("/jwks"), 1);
    // The old key is gone with the refetch.
    assert_eq!(
        verify(&p, &old.token(&claims())).await,
        Err(OidcError::UnknownKid)
    );
}

#[tokio::test]
async fn the_token_endpoint_is_asked_with_pkce_and_its_refusal_carries_no_code() {
    let s = TestServer::start().await;
    let ec = EcKey::new("ec-1");
    let p = provider_at(&s.base, json!({"keys": [ec.jwk()]}));
    let redirect = "http://127.0.0.1:1/cb";
    let (_, pending) = p.begin(redirect).unwrap();
    s.route(
        "/token",
        400,
        json!({"error": "invalid_grant", "error_description": "grant request is invalid, code abc"})
            .to_string(),
    );
    let err = p
        .finish(&pending, "the-code-abc", redirect)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OidcError::TokenRefused {
            status: 400,
            error: Some("invalid_grant".into())
        }
    );
    assert!(!err.to_string().contains("abc"), "{err}");
    assert_eq!(
        p.finish(&pending, "code", "http://127.0.0.1:1/other").await,
        Err(OidcError::RedirectMismatch)
    );
    assert_eq!(
        p.finish(&pending, "code with spaces", redirect).await,
        Err(OidcError::BadCode)
    );
    let mut old = pending.clone();
    old.created_at -= PENDING_TTL_S + 1;
    assert_eq!(
        p.finish(&old, "code", redirect).await,
        Err(OidcError::PendingExpired)
    );
    // A good answer: the ID token is verified against the pending nonce.
    let c = with(claims(), "nonce", json!(pending.nonce));
    s.route(
        "/token",
        200,
        json!({"id_token": ec.token(&c), "token_type": "Bearer"}).to_string(),
    );
    let id = p.finish(&pending, "code", redirect).await.unwrap();
    assert_eq!(id.subject, "alice");
    s.route("/token", 200, json!({"access_token": "x"}).to_string());
    assert_eq!(
        p.finish(&pending, "code", redirect).await,
        Err(OidcError::NoIdToken)
    );
}
