//! What operators look at: health, metrics, the API description.

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(health_metrics_and_openapi);

async fn health_metrics_and_openapi(db: Db) {
    let h = Harness::start(db).await;
    let r = h.client.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["directory"], "ok");
    assert_eq!(body["directory_kind"], "demo");
    assert_eq!(body["reverification"], false);

    let s = h.session(AVERY, &h.kiosk).await;
    let (status, _) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 200);
    let r = h.client.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE reclaim_decisions_total counter"),
        "{text}"
    );
    assert!(
        text.contains("reclaim_decisions_total{outcome=\"approved\"} 1"),
        "{text}"
    );
    assert!(text.contains("reclaim_sessions_created_total 1"), "{text}");
    // Nothing about the person in it.
    assert!(!text.contains(AVERY) && !text.contains(&s.id));

    let r = h.client.get(h.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let spec: serde_json::Value = r.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    for path in [
        "/v1/sessions",
        "/v1/sessions/{id}/attestation",
        "/v1/resets",
        "/v1/handoff",
        "/v1/notices/{token}",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "openapi.json lacks {path}"
        );
    }
}
