use crate::helpers::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use common::UserId;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub type Recorded = Arc<Mutex<Vec<(HashMap<String, String>, Option<String>)>>>;

/// A local stand-in for Stripe's `POST /v1/checkout/sessions`.
pub async fn fake_stripe() -> (String, Recorded, actix_web::dev::ServerHandle) {
    let recorded: Recorded = Arc::default();
    let r = recorded.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let r = r.clone();
        App::new().route(
            "/v1/checkout/sessions",
            web::post().to(
                move |req: actix_web::HttpRequest, form: web::Form<HashMap<String, String>>| {
                    let r = r.clone();
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let n = {
                            let mut g = r.lock().unwrap();
                            g.push((form.into_inner(), auth));
                            g.len()
                        };
                        HttpResponse::Ok().json(json!({
                            "id": format!("cs_test_{n}"),
                            "object": "checkout.session",
                            "url": format!("https://checkout.stripe.test/c/pay/cs_test_{n}"),
                            "payment_status": "unpaid",
                        }))
                    }
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), recorded, handle)
}

pub async fn stripe_app() -> (TestApp, Recorded, actix_web::dev::ServerHandle) {
    let (base, recorded, handle) = fake_stripe().await;
    let app = spawn_with(Options {
        overrides: vec![("stripe.api_base", base)],
        ..Default::default()
    })
    .await;
    (app, recorded, handle)
}

pub async fn create_package(app: &TestApp) -> String {
    let r = app
        .post(
            "/api/v1/admin/pricing/packages",
            Some(&app.admin_token()),
            None,
            &json!({"name": "Seeker", "credits": 100, "bonus_credits": 20, "price_minor": 49900, "currency": "INR"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    p["id"].as_str().unwrap().to_owned()
}

/// Starts a checkout for `user` through our endpoint and returns the session id.
pub async fn checkout(app: &TestApp, user: UserId, package: &str) -> String {
    let r = app
        .post(
            "/api/v1/credits/checkout",
            Some(&app.token(user)),
            None,
            &json!({"package_id": package}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let co: Value = r.json().await.unwrap();
    co["id"].as_str().unwrap().to_owned()
}

pub fn completed(event_id: &str, session: &str, user: UserId, package: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": session, "object": "checkout.session", "payment_status": "paid",
            "payment_intent": "pi_123", "amount_total": 49900, "currency": "inr",
            "client_reference_id": user.to_string(),
            "metadata": {"package_id": package, "user_id": user.to_string()}
        }}
    }))
    .unwrap()
}

pub async fn deliver(app: &TestApp, body: &[u8], secret: &str, t: i64) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/payments/stripe/webhook"))
        .header(
            "Stripe-Signature",
            pricing::stripe::sign(body, secret.as_bytes(), t),
        )
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn checkout_creates_a_stripe_session_and_the_webhook_grants_once() {
    let (app, recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let token = app.token(user);
    let listed: Value = app
        .get("/api/v1/credits/packages", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], package.as_str());
    let r = app
        .post(
            "/api/v1/credits/checkout",
            Some(&token),
            None,
            &json!({"package_id": package}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let co: Value = r.json().await.unwrap();
    assert_eq!(co["id"], "cs_test_1");
    assert!(co["url"]
        .as_str()
        .unwrap()
        .starts_with("https://checkout.stripe.test/"));
    {
        let g = recorded.lock().unwrap();
        let (form, auth) = &g[0];
        assert_eq!(form["mode"], "payment");
        assert_eq!(form["client_reference_id"], user.to_string());
        assert_eq!(form["metadata[package_id]"], package);
        assert_eq!(form["metadata[user_id]"], user.to_string());
        assert_eq!(form["line_items[0][price_data][unit_amount]"], "49900");
        assert_eq!(form["line_items[0][price_data][currency]"], "inr");
        assert!(form["success_url"].starts_with("http"));
        assert!(form["cancel_url"].starts_with("http"));
        assert_eq!(auth.as_deref(), Some("Bearer sk_test_123"));
    }
    // The same event delivered 10 times sequentially...
    let body = completed("evt_1", "cs_test_1", user, &package);
    for _ in 0..10 {
        assert_eq!(
            deliver(&app, &body, WEBHOOK_SECRET, now()).await.status(),
            200
        );
    }
    assert_eq!(app.balance(user).await["available"], 120);
    // ...and 10 times concurrently, plus the async-success event for the same session.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let body = if i == 0 {
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            v["id"] = json!("evt_async");
            v["type"] = json!("checkout.session.async_payment_succeeded");
            serde_json::to_vec(&v).unwrap()
        } else {
            body.clone()
        };
        let (http, url) = (app.http.clone(), app.url("/api/v1/payments/stripe/webhook"));
        set.spawn(async move {
            http.post(url)
                .header(
                    "Stripe-Signature",
                    pricing::stripe::sign(&body, WEBHOOK_SECRET.as_bytes(), now()),
                )
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(s) = set.join_next().await {
        assert_eq!(s.unwrap(), 200);
    }
    assert_eq!(app.balance(user).await["available"], 120);
    let db = app.db().await;
    let row = db.query_one("SELECT status, payment_intent, amount_minor, currency FROM payments WHERE session_id = 'cs_test_1'", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "paid");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("pi_123"));
    assert_eq!(row.get::<_, i64>(2), 49900);
    assert_eq!(row.get::<_, String>(3), "INR");
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM transactions WHERE kind = 'purchase'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // Unknown event types are acknowledged and ignored.
    let other = serde_json::to_vec(
        &json!({"id": "evt_x", "type": "customer.created", "data": {"object": {}}}),
    )
    .unwrap();
    assert_eq!(
        deliver(&app, &other, WEBHOOK_SECRET, now()).await.status(),
        200
    );
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn bad_signatures_are_rejected_and_grant_nothing() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let session = checkout(&app, user, &package).await;
    let body = completed("evt_bad", &session, user, &package);
    // Tampered body.
    let sig = pricing::stripe::sign(&body, WEBHOOK_SECRET.as_bytes(), now());
    let mut tampered = body.clone();
    let pos = tampered.iter().position(|b| *b == b'4').unwrap();
    tampered[pos] = b'9';
    let r = app
        .http
        .post(app.url("/api/v1/payments/stripe/webhook"))
        .header("Stripe-Signature", sig)
        .header("Content-Type", "application/json")
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, 400);
    // Wrong secret.
    assert_eq!(
        deliver(&app, &body, "whsec_wrong", now()).await.status(),
        400
    );
    // Stale timestamp (over 5 minutes old).
    assert_eq!(
        deliver(&app, &body, WEBHOOK_SECRET, now() - 301)
            .await
            .status(),
        400
    );
    // No header.
    let r = app
        .http
        .post(app.url("/api/v1/payments/stripe/webhook"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(app.balance(user).await["available"], 0);
    let n: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM stripe_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // The genuine one still works afterwards.
    assert_eq!(
        deliver(&app, &body, WEBHOOK_SECRET, now()).await.status(),
        200
    );
    assert_eq!(app.balance(user).await["available"], 120);
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn a_refunded_charge_takes_back_what_the_wallet_holds_and_records_the_rest() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let session = checkout(&app, user, &package).await;
    assert_eq!(session, "cs_test_1");
    assert_eq!(
        deliver(
            &app,
            &completed("evt_p", &session, user, &package),
            WEBHOOK_SECRET,
            now()
        )
        .await
        .status(),
        200
    );
    assert_eq!(app.balance(user).await["available"], 120);
    // The user spends 50 of the 120.
    let client = app.nats_client().await;
    let t = std::time::Duration::from_secs(10);
    let h: Value = platform::nats::request(
        &client,
        common::subjects::pricing::CREDITS_HOLD,
        &app.ctx(user, Some("h")),
        &json!({"amount": 50}),
        t,
    )
    .await
    .unwrap();
    let _: Value = platform::nats::request(
        &client,
        common::subjects::pricing::CREDITS_CAPTURE,
        &app.ctx(user, Some("c")),
        &json!({"hold_id": h["hold_id"], "amount": 50}),
        t,
    )
    .await
    .unwrap();
    let refund = serde_json::to_vec(&json!({"id": "evt_refund", "type": "charge.refunded", "data": {"object": {
        "id": "ch_1", "object": "charge", "payment_intent": "pi_123", "amount": 49900, "amount_refunded": 49900}}})).unwrap();
    for _ in 0..3 {
        assert_eq!(
            deliver(&app, &refund, WEBHOOK_SECRET, now()).await.status(),
            200
        );
    }
    assert_eq!(app.balance(user).await["available"], 0);
    let row = app
        .db()
        .await
        .query_one(
            "SELECT status, credits_reversed, credits_owed FROM payments WHERE session_id = 'cs_test_1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "refunded");
    assert_eq!(row.get::<_, i64>(1), 70);
    assert_eq!(row.get::<_, i64>(2), 50);
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn packages_admin_crud_with_soft_delete() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let id = create_package(&app).await;
    let r = app.post("/api/v1/admin/pricing/packages", Some(&admin), None,
        &json!({"name": "x", "credits": 0, "bonus_credits": 0, "price_minor": 1, "currency": "INR"})).await;
    assert_eq!(error_code(r).await.0, 422);
    let r = app.post("/api/v1/admin/pricing/packages", Some(&app.token(UserId::new())), None,
        &json!({"name": "x", "credits": 1, "bonus_credits": 0, "price_minor": 1, "currency": "INR"})).await;
    assert_eq!(r.status(), 403);
    let r = app.http.put(app.url(&format!("/api/v1/admin/pricing/packages/{id}"))).header("X-Internal-Token", &admin)
        .json(&json!({"name": "Seeker+", "credits": 110, "bonus_credits": 0, "price_minor": 49900, "currency": "INR", "active": false}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let user_list: Value = app
        .get("/api/v1/credits/packages", &app.token(UserId::new()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        user_list["items"].as_array().unwrap().len(),
        0,
        "inactive packages are not offered"
    );
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/admin/pricing/packages/{id}")))
        .header("X-Internal-Token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let all: Value = app
        .get("/api/v1/admin/pricing/packages", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 0);
    let kept: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM packages WHERE deleted_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 1);
    app.finish().await;
}

#[tokio::test]
async fn payments_say_so_when_stripe_is_not_configured() {
    let app = spawn_with(Options {
        overrides: vec![
            ("stripe.secret_key", "insecure-dev-stripe-secret-key".into()),
            (
                "stripe.webhook_secret",
                "insecure-dev-stripe-webhook-secret".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let r = app
        .post(
            "/api/v1/credits/checkout",
            Some(&app.token(user)),
            None,
            &json!({"package_id": package}),
        )
        .await;
    assert_eq!(error_code(r).await, (503, "provider_not_configured".into()));
    // A webhook signed with the public placeholder secret grants nothing.
    let body = completed("evt_forged", "cs_forged", user, &package);
    let r = deliver(&app, &body, "insecure-dev-stripe-webhook-secret", now()).await;
    assert_eq!(error_code(r).await, (503, "provider_not_configured".into()));
    assert_eq!(app.balance(user).await["available"], 0);
    app.finish().await;
}
