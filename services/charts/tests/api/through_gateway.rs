//! End to end through the real gateway: client bearer token -> gateway ->
//! internal token -> charts.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn charts_places_and_panchang_through_the_gateway() {
    let app = spawn_app().await;
    let o: Vec<(String, String)> = vec![
        ("env".into(), "test".into()),
        ("http.port".into(), "0".into()),
        ("http.workers".into(), "1".into()),
        ("database.url".into(), app.database_url.clone()),
        ("nats.url".into(), app.nats_url.clone()),
        ("upstreams.charts".into(), app.address.clone()),
        ("auth.argon2_memory_kib".into(), "8192".into()),
        ("auth.argon2_iterations".into(), "1".into()),
    ];
    let (base, cfg) = gateway::load_config(&o).unwrap();
    platform::cli::migrate(&base, gateway::MIGRATIONS)
        .await
        .unwrap();
    let gw = gateway::Application::build(base, cfg).await.unwrap();
    let gw_url = format!("http://127.0.0.1:{}", gw.port());
    let stop = gw.shutdown_token();
    let _task = tokio::spawn(gw.run_until_stopped());
    let http = platform::http_client::client();

    // Public routes need no account.
    let r = http
        .get(format!("{gw_url}/api/v1/places?q=madras"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["places"][0]["id"], CHENNAI);
    let r = http
        .get(format!(
            "{gw_url}/api/v1/panchang?date=2024-01-15&place_id={CHENNAI}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Charts need an account; the gateway forwards the identity.
    let r = http
        .post(format!("{gw_url}/api/v1/charts"))
        .json(&chennai_birth("1990-05-01", "06:30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let reg: serde_json::Value = http
        .post(format!("{gw_url}/api/v1/auth/register"))
        .json(&json!({"email": "chart@example.com", "password": "a quiet lotus 108", "display_name": "C"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = reg["access_token"].as_str().unwrap();
    let r = http
        .post(format!("{gw_url}/api/v1/charts"))
        .bearer_auth(bearer)
        .json(&chennai_birth("1990-05-01", "06:30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c: serde_json::Value = r.json().await.unwrap();
    assert_eq!(c["cached"], false);
    let id = c["chart_id"].as_str().unwrap();
    let r = http
        .get(format!("{gw_url}/api/v1/charts/{id}"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The admin surface is for admins only, at the gateway already.
    let r = http
        .get(format!("{gw_url}/api/v1/admin/charts/cache/stats"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    stop.cancel();
}
