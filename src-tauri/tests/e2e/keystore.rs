//! Where the built app keeps an unmanaged device key (`reclaim-app --device-key`): in a
//! real Secret Service (gnome-keyring on a D-Bus bus of its own) when one answers, in a
//! `0600` file when none does or when it is locked with no one to unlock it, and never
//! moved between the two once made.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use reclaim_testkit::SecretService;

use crate::harness::{device_key, run_device_key, scratch, Display};

const SERVICE_URL: &str = "https://reclaim.example.test";

fn settings(url: &str) -> String {
    format!("server_url = \"{url}\"\n")
}

fn items_for(keystore: &SecretService, url: &str) -> usize {
    keystore
        .count_items(&[
            ("service", "reclaim"),
            ("username", &format!("device-key {url}")),
        ])
        .unwrap()
}

#[test]
fn an_unmanaged_key_is_kept_in_the_secret_service_one_per_service() {
    let keystore = SecretService::start().unwrap();
    let dir = scratch("key-os");
    let key_file = dir.join("data/reclaim/device.key");

    let (first, _) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(first["store"], "os", "{first}");
    assert!(!key_file.exists(), "no key file beside the keystore's");
    assert_eq!(items_for(&keystore, SERVICE_URL), 1);

    let (again, _) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(
        again["key_id"], first["key_id"],
        "the same key on the next start"
    );
    assert_eq!(again["public_key"], first["public_key"]);
    assert_eq!(items_for(&keystore, SERVICE_URL), 1, "not stored twice");

    // Another service gets another key: the two cannot link this device by its key.
    let other_url = "https://other.example.test";
    let (other, _) = device_key(&dir, &settings(other_url), Some(&keystore));
    assert_eq!(other["store"], "os");
    assert_ne!(other["key_id"], first["key_id"]);
    assert_eq!(items_for(&keystore, other_url), 1);

    // `device_key_store = "file"`: the admin keeps keys out of the keystore.
    let filed = scratch("key-os-file");
    let (from_file, _) = device_key(
        &filed,
        &format!("{}device_key_store = \"file\"\n", settings(SERVICE_URL)),
        Some(&keystore),
    );
    assert_eq!(from_file["store"], "file");
    assert!(filed.join("data/reclaim/device.key").exists());
    assert_eq!(items_for(&keystore, SERVICE_URL), 1);
}

#[test]
fn with_no_keystore_the_key_is_a_private_file_and_stays_one() {
    let dir = scratch("key-none");
    let key_file = dir.join("data/reclaim/device.key");
    let (first, _) = device_key(&dir, &settings(SERVICE_URL), None);
    assert_eq!(first["store"], "file", "{first}");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A keystore that appears later does not give the device a second identity.
    let keystore = SecretService::start().unwrap();
    let (later, _) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(later["store"], "file");
    assert_eq!(later["key_id"], first["key_id"]);
    assert_eq!(items_for(&keystore, SERVICE_URL), 0);
}

#[test]
fn a_locked_keystore_that_cannot_ask_for_its_password_is_passed_over() {
    let keystore = SecretService::start_locked(None).unwrap();
    let dir = scratch("key-locked");
    let (key, _) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(key["store"], "file", "{key}");
    assert!(dir.join("data/reclaim/device.key").exists());
}

#[test]
fn a_password_prompt_no_one_answers_does_not_hang_the_app() {
    // gcr's prompter asks for the keyring's password on the screen, and would wait there
    // for ever: the app gives the person 20 s to answer, then goes on with a file.
    let display = Display::start();
    let keystore = SecretService::start_locked(Some(&display.name)).unwrap();
    let dir = scratch("key-prompt");
    let (key, took) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(key["store"], "file", "{key}");
    assert!(
        took >= Duration::from_secs(20),
        "the prompt was never shown: the keystore answered in {took:?}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_keystore_that_stops_answering_does_not_hang_the_app() {
    let keystore = SecretService::start().unwrap();
    keystore.freeze().unwrap();
    let dir = scratch("key-frozen");
    let (key, took) = device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    assert_eq!(key["store"], "file", "{key}");
    // The Secret Service client gives each call 2 s, and the app waits 20 s at most.
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_seed_in_the_keystore_that_is_not_a_key_stops_the_app_instead_of_replacing_it() {
    // Whoever can write to the user's keystore (or a broken migration) must not be able to
    // make the device quietly take a new identity, nor lose the one it has.
    let keystore = SecretService::start().unwrap();
    let username = format!("device-key {SERVICE_URL}");
    keystore
        .store_item(
            &[
                ("service", "reclaim"),
                ("username", &username),
                ("target", "default"),
            ],
            b"not a key",
        )
        .unwrap();
    let dir = scratch("key-garbage");
    let (out, _) = run_device_key(&dir, &settings(SERVICE_URL), Some(&keystore));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with a garbage key");
    assert!(stderr.contains("OS keystore"), "{stderr}");
    assert!(
        !stderr.contains("not a key"),
        "the secret was echoed: {stderr}"
    );
    assert!(!dir.join("data/reclaim/device.key").exists());
    assert_eq!(
        items_for(&keystore, SERVICE_URL),
        1,
        "the item was replaced"
    );
}
