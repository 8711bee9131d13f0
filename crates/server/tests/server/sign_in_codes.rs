//! A sign-in code an MFA reset gave the person (a Temporary Access Pass, a bypass code):
//! handed out by exactly one answer however many race for it, never once expired, and
//! erased by the worker when nobody took it. (The whole path from Entra's double through
//! `reclaim serve` is the command line's test `directories::entra_...`.)

use reclaim_directory::SignInCode;
use reclaim_server::recovery::resets::{
    forget_sign_in_codes, seal_sign_in_code, SIGN_IN_CODE_PICKUP_S,
};
use zeroize::Zeroizing;

use crate::harness::*;

const PASSWORD: &str = "correct horse battery staple 9";

async fn grant_id(h: &Harness) -> String {
    sqlx::query_scalar("SELECT id FROM grants")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap()
}

async fn plant(h: &Harness, id: &str, code: &str, valid_for_s: i64) {
    let sealed = seal_sign_in_code(
        &h.app,
        id,
        &SignInCode {
            code: Zeroizing::new(code.to_string()),
            valid_until: unix_now() as i64 + valid_for_s,
            one_time: true,
        },
    )
    .unwrap();
    h.execute(&format!(
        "UPDATE grants SET sign_in_code_sealed = '{sealed}' WHERE id = '{id}'"
    ))
    .await;
}

#[tokio::test]
async fn a_code_is_handed_out_once_never_expired_and_erased_when_unclaimed() {
    let h = Harness::start(Db::sqlite()).await;
    let grant = h.approved_grant("avery.quinn").await;
    assert_reset(h.reset(&grant, PASSWORD).await, 200, "completed");
    let id = grant_id(&h).await;

    // Eight answers race for one code: exactly one carries it.
    plant(&h, &id, "Tap-Once-7QxK", 600).await;
    let r = || h.reset(&grant, PASSWORD);
    let (a, b, c, d, e, f, g, i) = tokio::join!(r(), r(), r(), r(), r(), r(), r(), r());
    let answers = [a, b, c, d, e, f, g, i];
    let carried: Vec<_> = answers
        .iter()
        .filter_map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(body["already_completed"], true, "{body}");
            body.get("sign_in_code").cloned()
        })
        .collect();
    assert_eq!(carried.len(), 1, "{answers:?}");
    assert_eq!(carried[0]["code"], "Tap-Once-7QxK");
    assert_eq!(carried[0]["one_time"], true);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM grants WHERE sign_in_code_sealed IS NOT NULL")
            .await,
        0
    );

    // Past its validity: erased, not shown.
    plant(&h, &id, "Tap-Stale-1", -5).await;
    let (_, body) = h.reset(&grant, PASSWORD).await;
    assert!(body.get("sign_in_code").is_none(), "{body}");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM grants WHERE sign_in_code_sealed IS NOT NULL")
            .await,
        0
    );

    // A code sealed for another grant does not open as this one's.
    let other = seal_sign_in_code(
        &h.app,
        "another-grant",
        &SignInCode {
            code: Zeroizing::new("Tap-Moved".into()),
            valid_until: unix_now() as i64 + 600,
            one_time: true,
        },
    )
    .unwrap();
    h.execute(&format!(
        "UPDATE grants SET sign_in_code_sealed = '{other}'"
    ))
    .await;
    let (status, body) = h.reset(&grant, PASSWORD).await;
    assert!(
        status != 200 || body.get("sign_in_code").is_none(),
        "{body}"
    );
    assert!(!body.to_string().contains("Tap-Moved"), "{body}");

    // Unclaimed an hour after the reset completed: the worker erases it.
    plant(&h, &id, "Tap-Unclaimed", 86_400).await;
    forget_sign_in_codes(&h.app).await.unwrap();
    assert_eq!(
        h.count("SELECT COUNT(*) FROM grants WHERE sign_in_code_sealed IS NOT NULL")
            .await,
        1,
        "a fresh completion keeps its code"
    );
    h.execute(&format!(
        "UPDATE grants SET completed_at = completed_at - {} WHERE id = '{id}'",
        SIGN_IN_CODE_PICKUP_S + 1
    ))
    .await;
    forget_sign_in_codes(&h.app).await.unwrap();
    assert_eq!(
        h.count("SELECT COUNT(*) FROM grants WHERE sign_in_code_sealed IS NOT NULL")
            .await,
        0
    );
}
