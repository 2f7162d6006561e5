use crate::helpers::*;
use common::{ErrorCode, Principal, Role, UserId};
use platform::auth::InternalAuth;
use platform::nats::CallContext;
use serde_json::{json, Value};
use std::time::Duration;

async fn client(app: &TestApp) -> async_nats::Client {
    async_nats::connect(&app.nats_url).await.unwrap()
}

/// A context signed by `service` for charts, acting for `user` if given.
fn signed(service: &str, user: Option<UserId>) -> CallContext {
    let auth = InternalAuth::development(service).unwrap();
    let p = user.map(|user_id| Principal {
        user_id,
        roles: vec![Role::User],
    });
    CallContext::default().with_internal_token(auth.sign("charts", p.as_ref()).unwrap())
}

#[tokio::test]
async fn charts_chart_get_answers_by_birth_or_profile_for_the_owner() {
    let app = spawn_app().await;
    let nats = client(&app).await;
    let alice = app.user();
    let t = Duration::from_secs(10);
    // Guidance acting for Alice.
    let ctx = signed("guidance", Some(alice.id));
    let body = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
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
    let body = json!({"format": "summary", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
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

    // By profile.
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Me", "birth": {"date": "1986-08-15", "time": "05:05", "place_id": CHENNAI}}),
        )
        .await;
    let prof: Value = r.json().await.unwrap();
    let body = json!({"profile_id": prof["id"]});
    let r: Value = platform::nats::request(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap();
    assert_eq!(r["chart_id"], prof["chart_id"]);
    assert_eq!(r["profile_id"], prof["id"]);
    let p: Value = platform::nats::request(&nats, "charts.profile.get", &ctx, &body, t)
        .await
        .unwrap();
    assert_eq!(p["name"], "Me");
    assert_eq!(p["chart_id"], prof["chart_id"]);

    // Acting for Bob, Alice's profile is not found; Bob naming Alice: forbidden.
    let bob = app.user();
    let as_bob = signed("guidance", Some(bob.id));
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &as_bob, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = platform::nats::request::<_, Value>(&nats, "charts.profile.get", &as_bob, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let body = json!({"user_id": alice.id, "profile_id": prof["id"]});
    let e = platform::nats::request::<_, Value>(&nats, "charts.profile.get", &as_bob, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);

    // Validation errors travel with the field.
    let body = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI, "tz": "Nowhere/City"}});
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(e.field.as_deref(), Some("birth.tz"));
    // Neither birth nor profile: the user's first profile.
    let body = json!({"format": "summary"});
    let first: Value = platform::nats::request(&nats, "charts.chart.get", &ctx, &body, t)
        .await
        .unwrap();
    assert_eq!(first["profile_id"], prof["id"]);
    let e = platform::nats::request::<_, Value>(&nats, "charts.chart.get", &as_bob, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "Bob has no profile");
}

/// Birth data is personal: no request names its user by a bare id, and only
/// the services on the allow-list may ask at all.
#[tokio::test]
async fn charts_over_nats_require_a_signed_caller_that_names_the_user() {
    let app = spawn_app().await;
    let nats = client(&app).await;
    let alice = app.user();
    let t = Duration::from_secs(10);
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Me", "birth": {"date": "1986-08-15", "time": "05:05", "place_id": CHENNAI}}),
        )
        .await;
    let prof: Value = r.json().await.unwrap();
    let by_id = json!({"user_id": alice.id, "profile_id": prof["id"]});
    let birth = json!({"user_id": alice.id, "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
    for subject in ["charts.chart.get", "charts.profile.get"] {
        let body = if subject == "charts.profile.get" {
            &by_id
        } else {
            &birth
        };
        // No token: the user id in the body is not enough.
        let e =
            platform::nats::request::<_, Value>(&nats, subject, &CallContext::default(), body, t)
                .await
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized, "{subject}");
        // A service token that names no user.
        let e =
            platform::nats::request::<_, Value>(&nats, subject, &signed("guidance", None), body, t)
                .await
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized, "{subject}");
        // A service that is not on the allow-list (the gateway speaks HTTP).
        let e = platform::nats::request::<_, Value>(
            &nats,
            subject,
            &signed("gateway", Some(alice.id)),
            body,
            t,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden, "{subject}");
        // A token meant for another service.
        let other = InternalAuth::development("guidance")
            .unwrap()
            .sign(
                "pricing",
                Some(&Principal {
                    user_id: alice.id,
                    roles: vec![Role::User],
                }),
            )
            .unwrap();
        let e = platform::nats::request::<_, Value>(
            &nats,
            subject,
            &CallContext::default().with_internal_token(other),
            body,
            t,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidToken, "{subject}");
    }
    // Nothing was computed or stored for those refusals.
    assert_eq!(app.rows().await, 1, "only the profile's own chart exists");
}

/// The panchang over NATS is the HTTP panchang, for social with a service
/// token that names no user.
#[tokio::test]
async fn charts_panchang_get_answers_as_the_http_panchang() {
    let app = spawn_app().await;
    let nats = client(&app).await;
    let t = Duration::from_secs(10);
    let social = signed("social", None);
    for (body, query) in [
        (
            json!({"date": "2024-01-15", "place_id": CHENNAI}),
            format!("date=2024-01-15&place_id={CHENNAI}"),
        ),
        (
            json!({"date": "2024-06-21", "lat": 51.5074, "lon": -0.1278, "tz": "Europe/London"}),
            "date=2024-06-21&lat=51.5074&lon=-0.1278&tz=Europe/London".to_owned(),
        ),
    ] {
        let r: Value = platform::nats::request(&nats, "charts.panchang.get", &social, &body, t)
            .await
            .unwrap();
        let http = app.get(&format!("/api/v1/panchang?{query}"), None).await;
        assert_eq!(http.status(), 200);
        let http: Value = http.json().await.unwrap();
        assert_eq!(r, http, "{body}");
        assert_eq!(r["date"], body["date"]);
        assert!(r["tithi"]["ends_at"].is_string(), "{r}");
    }
    // Nothing is stored for anyone.
    assert_eq!(app.rows().await, 0);
}

#[tokio::test]
async fn charts_panchang_get_validates_and_refuses_other_callers() {
    let app = spawn_app().await;
    let nats = client(&app).await;
    let t = Duration::from_secs(10);
    let social = signed("social", None);
    // Validation errors name the field, without the `birth.` prefix.
    for (body, field) in [
        (json!({"date": "2024-13-01", "place_id": CHENNAI}), "date"),
        (json!({"date": "1850-01-01", "place_id": CHENNAI}), "date"),
        (json!({"date": "15/01/2024", "place_id": CHENNAI}), "date"),
        (json!({"date": "2024-01-15"}), "place_id"),
        (
            json!({"date": "2024-01-15", "lat": 95.0, "lon": 0.0}),
            "lat",
        ),
        (
            json!({"date": "2024-01-15", "lat": 10.0, "lon": 0.0, "tz": "Mars/Base"}),
            "tz",
        ),
    ] {
        let e =
            platform::nats::request::<_, Value>(&nats, "charts.panchang.get", &social, &body, t)
                .await
                .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ValidationFailed, Some(field)),
            "{body}"
        );
    }
    // Unknown fields are refused too.
    let body = json!({"date": "2024-01-15", "place_id": CHENNAI, "time": "06:00"});
    let e = platform::nats::request::<_, Value>(&nats, "charts.panchang.get", &social, &body, t)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::MalformedJson, "{}", e.message);

    let good = json!({"date": "2024-01-15", "place_id": CHENNAI});
    // A service that is not on the allow-list, with or without a user.
    let alice = app.user();
    for ctx in [signed("pricing", None), signed("guidance", Some(alice.id))] {
        let e = platform::nats::request::<_, Value>(&nats, "charts.panchang.get", &ctx, &good, t)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
    }
    // No token at all.
    let e = platform::nats::request::<_, Value>(
        &nats,
        "charts.panchang.get",
        &CallContext::default(),
        &good,
        t,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized);
}
