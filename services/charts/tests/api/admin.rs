use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn cache_admin_is_for_admins_and_metrics_are_exported() {
    let app = spawn_app().await;
    let u = app.user();
    let (s, _) = error(app.get("/api/v1/admin/charts/cache/stats", None).await).await;
    assert_eq!(s, 401);
    let (s, e) = error(app.get("/api/v1/admin/charts/cache/stats", Some(&u)).await).await;
    assert_eq!((s, e["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = error(
        app.post(
            "/api/v1/admin/charts/cache/purge",
            Some(&u),
            &json!({"stale_versions": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403);
    let admin = app.admin();
    let (s, e) = error(
        app.post("/api/v1/admin/charts/cache/purge", Some(&admin), &json!({}))
            .await,
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = error(
        app.post(
            "/api/v1/admin/charts/cache/purge",
            Some(&admin),
            &json!({"older_than_secs": -1}),
        )
        .await,
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (422, Some("older_than_secs")));

    app.chart(&u, &chennai_birth("2010-10-10", "10:10")).await;
    app.chart(&u, &chennai_birth("2010-10-10", "10:10")).await;
    let s = app.stats().await;
    assert_eq!(s["computations"], 1);
    assert_eq!(s["hits"], 1);
    assert_eq!(s["misses"], 1);
    assert_eq!(s["lru_size"], 1);
    assert_eq!(s["rows"], 1);
    assert_eq!(s["rows_current_version"], 1);
    assert!(s["compute_threads"].as_u64().unwrap() >= 1);

    let text = app.get("/metrics", None).await.text().await.unwrap();
    for m in [
        "jyotiflow_charts_cache_hits_memory_total",
        "jyotiflow_charts_cache_misses_total",
        "jyotiflow_charts_computations_total",
        "jyotiflow_charts_compute_seconds_bucket",
        "jyotiflow_charts_cache_lru_size",
    ] {
        assert!(text.contains(m), "{m} missing from /metrics");
    }
    assert!(
        text.contains("jyotiflow_charts_computations_total{service=\"charts\"} 1"),
        "{text}"
    );
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/charts"].is_object());
    assert!(doc["paths"]["/api/v1/profiles/{id}"].is_object());
}
