//! The admin console's sign-in against a real OpenID provider (`oidc-provider` on Node,
//! started by the testkit over http on 127.0.0.1): the whole authorization code flow with
//! PKCE, a password typed into the provider's login form, the ID token verified, and the
//! person's groups mapped to roles. What the provider refuses (a code used twice, the
//! wrong verifier, the wrong client) and what we refuse (another issuer, another
//! audience, another sign-in's nonce) each fail the sign-in.

use reclaim_server::admin::oidc::{OidcError, PendingLogin, Provider};
use reclaim_server::admin::{roles, Role};
use reclaim_server::config::OidcConfig;
use reclaim_testkit::{OidcProvider, OIDC_ACCOUNTS, OIDC_PASSWORD_ONLY};
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:9/admin/oidc/callback";

fn config(op: &OidcProvider) -> OidcConfig {
    OidcConfig {
        issuer: op.issuer(),
        client_id: op.client_id().to_string(),
        client_secret: Some(op.client_secret().to_string()),
        ca_file: None,
        scopes: vec!["groups".into()],
        groups_claim: "groups".into(),
        username_claim: "preferred_username".into(),
        admin_groups: vec!["reclaim-admins".into()],
        reviewer_groups: vec!["reclaim-reviewers".into()],
        auditor_groups: vec!["reclaim-auditors".into()],
        mfa_amr: vec!["mfa".into()],
        mfa_acr: Vec::new(),
    }
}

/// Starts a sign-in with `rp` and lets `login` sign in at the provider: the pending
/// sign-in and the code the provider sent back with its state.
fn sign_in(rp: &Provider, op: &OidcProvider, login: &str) -> (PendingLogin, String) {
    let (url, pending) = rp.begin(REDIRECT).unwrap();
    let back = op
        .sign_in(&url, login, &OidcProvider::password(login))
        .unwrap();
    assert!(back.url.starts_with(REDIRECT), "{}", back.url);
    assert!(pending.state_matches(&back.state));
    (pending, back.code)
}

#[tokio::test]
async fn a_full_sign_in_gives_the_identity_groups_and_roles() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    let (pending, code) = sign_in(&rp, &op, "alice");
    let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!(id.issuer, op.issuer());
    assert_eq!(id.subject, "alice");
    assert_eq!(id.name.as_deref(), Some("Alice Example"));
    assert_eq!(id.email.as_deref(), Some("alice@example.test"));
    assert_eq!(id.groups, ["reclaim-reviewers"]);
    assert_eq!(roles(&id.groups, rp.config()), [Role::Reviewer]);

    // Every account, on the client whose ID tokens are signed with ES256 too: each gets
    // the groups the provider lists and the roles they give.
    let mut es = config(&op);
    es.client_id = op.es256_client_id();
    let es = Provider::discover(&es).await.unwrap();
    for (login, groups) in OIDC_ACCOUNTS {
        for rp in [&rp, &es] {
            let (pending, code) = sign_in(rp, &op, login);
            let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
            assert_eq!(&id.subject, login);
            assert_eq!(id.groups, *groups, "{login}");
        }
    }
    // frank has no mail claim (and nobody a `preferred_username`): the identity names no
    // account of his (the console then gives him no reviewer role: console.rs).
    let (pending, code) = sign_in(&rp, &op, "frank");
    let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!((id.email, id.username), (None, None));
    assert_eq!(roles(&id.groups, rp.config()), [Role::Reviewer]);
    let (pending, code) = sign_in(&es, &op, "dave");
    let id = es.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!(roles(&id.groups, es.config()), [Role::Admin]);
    let (pending, code) = sign_in(&es, &op, "carol");
    let id = es.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!(roles(&id.groups, es.config()), [Role::Auditor]);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    let (pending, code) = sign_in(&rp, &op, "bob");
    rp.finish(&pending, &code, REDIRECT).await.unwrap();
    let again = rp.finish(&pending, &code, REDIRECT).await.unwrap_err();
    assert_eq!(
        again,
        OidcError::TokenRefused {
            status: 400,
            error: Some("invalid_grant".into())
        }
    );
    // The refusal names no code.
    assert!(!again.to_string().contains(&code), "{again}");
}

#[tokio::test]
async fn a_client_configured_with_another_issuer_fails_discovery() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    // The same provider under names that are not its issuer, character for character.
    for issuer in [
        format!("{}/", op.issuer()),
        format!("http://localhost:{}", op.port()),
    ] {
        let mut c = config(&op);
        c.issuer = issuer.clone();
        let err = Provider::discover(&c).await.unwrap_err();
        assert_eq!(err, OidcError::IssuerMismatch, "{issuer}");
    }
    // A path the provider does not serve.
    let mut c = config(&op);
    c.issuer = format!("{}/realms/other", op.issuer());
    let err = Provider::discover(&c).await.unwrap_err();
    assert!(
        matches!(err, OidcError::Status { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_token_for_another_client_is_refused() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    // Redeemed by the client it was issued to, the ID token's audience is that client:
    // another client (also registered with the provider) refuses it.
    let (pending, code) = sign_in(&rp, &op, "alice");
    let id_token = redeem(&op, &pending, &code).await;
    let mut other = config(&op);
    other.client_id = op.es256_client_id();
    let other = Provider::discover(&other).await.unwrap();
    assert_eq!(
        other.verify_id_token(&id_token, &pending).await,
        Err(OidcError::WrongAudience)
    );
    // The right client takes the same token.
    assert_eq!(
        rp.verify_id_token(&id_token, &pending)
            .await
            .unwrap()
            .subject,
        "alice"
    );
    // A client id the provider does not know cannot redeem a code at all.
    let mut unknown = config(&op);
    unknown.client_id = "someone-else".into();
    let unknown = Provider::discover(&unknown).await.unwrap();
    let (pending, code) = sign_in(&rp, &op, "alice");
    let err = unknown.finish(&pending, &code, REDIRECT).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenRefused { status: 401, error } if error.as_deref() == Some("invalid_client")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_nonce_or_verifier_from_another_sign_in_is_refused() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    let (_, second) = rp.begin(REDIRECT).unwrap();
    // The code of one sign-in with the nonce of another (its PKCE verifier kept, so the
    // provider issues the token and the nonce check is what refuses it).
    let (pending, code) = sign_in(&rp, &op, "alice");
    let mixed = with_field(&pending, "nonce", &field(&second, "nonce"));
    assert_eq!(
        rp.finish(&mixed, &code, REDIRECT).await,
        Err(OidcError::NonceMismatch)
    );
    // Finishing with the other sign-in as a whole: its verifier does not match the code's
    // challenge, and the provider refuses.
    let (_, code) = sign_in(&rp, &op, "alice");
    assert_eq!(
        rp.finish(&second, &code, REDIRECT).await,
        Err(OidcError::TokenRefused {
            status: 400,
            error: Some("invalid_grant".into())
        })
    );
}

#[tokio::test]
async fn someone_in_no_mapped_group_gets_no_role() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    // erin is in no group at all.
    let (pending, code) = sign_in(&rp, &op, "erin");
    let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
    assert!(id.groups.is_empty());
    assert!(roles(&id.groups, rp.config()).is_empty());
    // alice is in a group, but not one this configuration maps.
    let mut admins_only = config(&op);
    admins_only.reviewer_groups.clear();
    admins_only.auditor_groups.clear();
    let rp = Provider::discover(&admins_only).await.unwrap();
    let (pending, code) = sign_in(&rp, &op, "alice");
    let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!(id.groups, ["reclaim-reviewers"]);
    assert!(roles(&id.groups, rp.config()).is_empty());
}

#[tokio::test]
async fn a_sign_in_with_a_password_alone_is_refused() {
    let op = OidcProvider::start(&[REDIRECT]).unwrap();
    let rp = Provider::discover(&config(&op)).await.unwrap();
    // A reviewer the provider signed in with a password only (`amr: ["pwd"]`).
    let (pending, code) = sign_in(&rp, &op, OIDC_PASSWORD_ONLY);
    assert_eq!(
        rp.finish(&pending, &code, REDIRECT).await,
        Err(OidcError::NotMultiFactor)
    );
    // The same sign-in is accepted by a deployment that trusts its provider's own MFA
    // policy (nothing asked of the token).
    let mut trusting = config(&op);
    trusting.mfa_amr.clear();
    let rp = Provider::discover(&trusting).await.unwrap();
    let (pending, code) = sign_in(&rp, &op, OIDC_PASSWORD_ONLY);
    let id = rp.finish(&pending, &code, REDIRECT).await.unwrap();
    assert_eq!(roles(&id.groups, rp.config()), [Role::Reviewer]);
}

/// Redeems `code` at the provider's token endpoint as its client would, returning the
/// raw ID token.
async fn redeem(op: &OidcProvider, pending: &PendingLogin, code: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/token", op.issuer()))
        .basic_auth(op.client_id(), Some(op.client_secret()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &field(pending, "code_verifier")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"].as_str().unwrap().to_string()
}

/// A field of the stored form of a pending sign-in (as the console keeps it).
fn field(pending: &PendingLogin, name: &str) -> String {
    serde_json::to_value(pending).unwrap()[name]
        .as_str()
        .unwrap()
        .to_string()
}

fn with_field(pending: &PendingLogin, name: &str, value: &str) -> PendingLogin {
    let mut v = serde_json::to_value(pending).unwrap();
    v[name] = Value::String(value.to_string());
    serde_json::from_value(v).unwrap()
}
