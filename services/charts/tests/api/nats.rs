use crate::helpers::*;
use common::ErrorCode;
use platform::nats::CallContext;
use serde_json::{json, Value};
use std::time::Duration;

async fn client(app: &TestApp) -> async_nats::Client {
    async_nats::connect(&app.nats_url).await.unwrap()
}

#[tokio::test]
async fn charts_chart_get_answers_by_birth_or_profile_for_the_owner() {
    let app = spawn_app().await;
    let nats = client(&app).await;
    let alice = app.user();
    let t = Duration::from_secs(10);
    let ctx = CallContext::default();
    // By birth details with the owner's id.
    let body = json!({"user_id": alice.id, "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
    let r: Value = platform::nats::request(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap();
    assert_eq!(r["cached"], false);
    let http = app
        .chart(&alice, &chennai_birth("1990-05-01", "06:30"))
        .await;
    assert_eq!(http["cached"], true);
    assert_eq!(r["chart_id"], http["chart_id"]);
    assert_eq!(r["chart"], http["chart"]);
    // The chart now belongs to Alice over HTTP as well.
    let id = r["chart_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/charts/{id}"), Some(&alice))
            .await
            .status(),
        200
    );

    // A compact summary for guidance.
    let body = json!({"user_id": alice.id, "format": "summary", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
    let s: Value = platform::nats::request(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap();
    assert_eq!(s["cached"], true);
    assert!(s.get("chart").is_none());
    let sum = &s["summary"];
    assert!(sum["lagna"]["sign"].is_string(), "{sum}");
    assert!(sum["moon"]["nakshatra"].is_string(), "{sum}");
    assert_eq!(sum["grahas"].as_array().unwrap().len(), 9);
    assert!(
        sum["running_dasha"]["mahadasha"]["lord"].is_string(),
        "{sum}"
    );
    assert!(sum.to_string().len() < 4000, "summary is compact");

    // By profile; the internal token names the owner instead of user_id.
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Me", "birth": {"date": "1986-08-15", "time": "05:05", "place_id": CHENNAI}}),
        )
        .await;
    let prof: Value = r.json().await.unwrap();
    let as_alice = CallContext::default().with_internal_token(alice.token.clone());
    let body = json!({"profile_id": prof["id"]});
    let r: Value = platform::nats::request(&nats, "charts.chart.get", &as_alice, &body, t)
        .await
        .unwrap();
    assert_eq!(r["chart_id"], prof["chart_id"]);
    assert_eq!(r["profile_id"], prof["id"]);
    let p: Value = platform::nats::request(&nats, "charts.profile.get", &as_alice, &body, t)
        .await
        .unwrap();
    assert_eq!(p["name"], "Me");
    assert_eq!(p["chart_id"], prof["chart_id"]);

    // Another owner: not found; Bob's token naming Alice: forbidden.
    let bob = app.user();
    let body = json!({"user_id": bob.id, "profile_id": prof["id"]});
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = platform::nats::request::<_, Value>(&nats, "charts.profile.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let as_bob = CallContext::default().with_internal_token(bob.token.clone());
    let body = json!({"user_id": alice.id, "profile_id": prof["id"]});
    let e = platform::nats::request::<_, Value>(&nats, "charts.profile.get", &as_bob, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);

    // Validation errors travel with the field.
    let body = json!({"user_id": alice.id, "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI, "tz": "Nowhere/City"}});
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(e.field.as_deref(), Some("birth.tz"));
    let body = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("user_id"));
    let body = json!({"user_id": alice.id});
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("birth"));
}
