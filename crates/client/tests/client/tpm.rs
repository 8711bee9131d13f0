//! A laptop whose device key lives in a TPM: a real software TPM (swtpm, with its own
//! endorsement CA standing in for a TPM vendor's) through the real TSS stack. The app makes
//! its key in the TPM, the administrator registers it as `hardware` from the TPM's
//! attestation (the server's own functions, as `reclaim device tpm-challenge` and
//! `reclaim device register --tpm-attestation` call them), and a whole recovery signed
//! ES256 inside the TPM is approved by a server with the default policy, under which an
//! unmanaged key would not be.

use reclaim_client::api::{ApiClient, Timeouts};
use reclaim_client::flow::Screen;
use reclaim_client::recovery::Recovery;
use reclaim_client::tpm::{TpmKeySigner, TpmKeyStore};
use reclaim_fixtures::claims::verified;
use reclaim_fixtures::server::{free_port, ServerConfig};
use reclaim_protocol::{AttestationClaims, RecoveryAction};
use reclaim_server::devices::Tier;
use reclaim_server::{hardware, App, Config};
use reclaim_testkit::swtpm::Swtpm;
use reclaim_tpm::device::KeyBlob;
use reclaim_tpm::{Challenge, RegistrationRequest};

use crate::harness::*;

/// The server as deployed by default: no policy row opts unmanaged devices in (so only a
/// registered key can recover), the TPM vendor's CA trusted, and the default camera and
/// model policies (the harness's camera declares itself a sensor: see [`Webcam`]).
async fn default_policy_server(name: &str, tpm: &Swtpm) -> Server {
    let dir = scratch(name);
    let cas: Vec<String> = tpm
        .ca_certificates()
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let config = Config::parse(
        &ServerConfig::new(&dir, free_port())
            .sections(&format!(
                "[tpm]\nendorsement_ca_files = [{}]",
                cas.join(", ")
            ))
            .toml(),
    )
    .unwrap();
    let app = App::open(config).await.unwrap();
    let running = reclaim_server::start(app.clone()).await.unwrap();
    Server::started(running, app, dir)
}

/// The laptop's app with its TPM key, `scenes` in front of its camera.
fn tpm_device(url: &str, store: &TpmKeyStore) -> Recovery {
    let key = store.load().unwrap();
    assert!(key.in_tpm() && !key.registers_itself());
    let api = ApiClient::new(url, Timeouts::default()).unwrap();
    let mut r = Recovery::new(api, key, engine(), false, 90, "tpm laptop");
    r.set_camera(Box::new(Webcam::open(genuine_scenes())));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tpm_key_registered_by_an_admin_recovers_as_hardware_under_the_default_policy() {
    let _turn = serial().await;
    let tpm = Swtpm::start().unwrap();
    let server = default_policy_server("tpm-hardware", &tpm).await;
    let dir = scratch("tpm-laptop");
    let store = TpmKeyStore::new(&tpm.tcti(), dir.join("keys/tpm-key.json"));

    // Before anything: no key in the TPM yet, and the app says what to do.
    let e = store.load().unwrap_err();
    assert_eq!(e.code(), "key_store");
    assert!(e.to_string().contains("--tpm-register-request"), "{e}");

    // `reclaim-app --tpm-register-request`: the AK and the device key made in the TPM,
    // their blobs kept 0600; run twice, the same key.
    let registration = store.registration_request().unwrap();
    let again = store.registration_request().unwrap();
    assert_eq!(registration.public, again.public);
    assert_eq!(registration.request.ak_public, again.request.ak_public);
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [store.key_file(), store.ak_file()] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    let kid = registration.public.key_id();

    // Not registered yet: the app does not register the TPM key itself (as an unmanaged
    // software key would), so the server does not know it.
    let mut laptop = tpm_device(&server.url, &store);
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Error);
    assert_eq!(st.flow.error.as_deref(), Some("device_unknown"));
    let devices = reclaim_server::devices::list(&server.app.store)
        .await
        .unwrap();
    assert!(devices.is_empty(), "the app registered itself: {devices:?}");

    // The administrator, handed the request as a file: a challenge only that TPM can
    // answer; the app's answer (`--tpm-register-answer`); the key registered as hardware.
    let request: RegistrationRequest =
        serde_json::from_str(&serde_json::to_string(&registration.request).unwrap()).unwrap();
    let verifier = hardware::verifier(&server.app.config.tpm).unwrap();
    let challenge = hardware::challenge(&server.app.store, &verifier, &request, "tpm laptop")
        .await
        .unwrap();
    let challenge: Challenge =
        serde_json::from_str(&serde_json::to_string(&challenge).unwrap()).unwrap();
    let proof = store.answer(&challenge).unwrap();
    let device = hardware::register(
        &server.app.store,
        &server.app.keys,
        &verifier,
        &proof,
        "admin:it",
    )
    .await
    .unwrap();
    assert_eq!(device.tier, Tier::Hardware);
    assert_eq!(device.key_id, kid.as_str());

    // The whole journey, every attestation signed ES256 inside the TPM.
    let mut laptop = tpm_device(&server.url, &store);
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Document, "{:?}", st.flow.error);
    capture_id(&mut laptop);
    submit_selfie_expecting(&mut laptop, Screen::Password).await;
    let st = laptop.set_password(NEW_PASSWORD).await.unwrap();
    assert_eq!(st.flow.screen, Screen::Done);
    assert!(password_is(&server, NEW_PASSWORD).await);

    // The audit says why: a hardware device, the default row, the evidence re-verified.
    let decisions = decision_details(&server.app).await;
    let last = decisions.last().unwrap();
    assert_eq!(last["outcome"], "approved", "{last}");
    assert_eq!(last["device_tier"], "hardware", "{last}");
    // Still the only device the server knows: the app never registered anything itself.
    let devices = reclaim_server::devices::list(&server.app.store)
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].tier, Tier::Hardware);
    server.running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn claims() -> AttestationClaims {
    verified(
        "http://127.0.0.1:1",
        "ses_1",
        "n0nce",
        LOGIN,
        RecoveryAction::Unlock,
    )
}

/// The key's files copied to another machine: that machine's TPM cannot load the wrapped
/// private key, so the copy cannot sign, and the app says so instead of failing later.
#[test]
fn a_tpm_key_copied_to_another_machine_cannot_sign() {
    let here = Swtpm::start().unwrap();
    let dir = scratch("tpm-stolen");
    let store = TpmKeyStore::new(&here.tcti(), dir.join("here/tpm-key.json"));
    let registration = store.registration_request().unwrap();
    let key = store.load().unwrap();
    let token = key.sign(&claims()).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], registration.public.key_id().as_str());

    let elsewhere = Swtpm::start().unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    for (from, to) in [
        (store.key_file(), dir.join("elsewhere/tpm-key.json")),
        (store.ak_file(), dir.join("elsewhere/tpm-key.ak.json")),
    ] {
        std::fs::copy(from, to).unwrap();
    }
    let thief = TpmKeyStore::new(&elsewhere.tcti(), dir.join("elsewhere/tpm-key.json"));
    let e = thief.load().unwrap_err();
    assert_eq!(e.code(), "key_store");
    assert!(e.to_string().contains("cannot use the key"), "{e}");

    // Past the check at load, signing itself fails cleanly too.
    let blob = KeyBlob::load(&dir.join("elsewhere/tpm-key.json")).unwrap();
    let stolen = TpmKeySigner::new(&elsewhere.tcti(), blob)
        .unwrap()
        .into_device_signer();
    assert_eq!(stolen.key_id(), registration.public.key_id());
    let e = stolen.sign(&claims()).unwrap_err();
    assert_eq!(e.code(), "key_store");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
