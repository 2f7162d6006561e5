//! The API contract at the edge: every text input refuses NUL and other
//! control characters, every number has a range checked before any
//! arithmetic, a balance never passes the maximum, and a refused request
//! writes nothing. Each answer is a 422 `validation_failed` naming the field.

use crate::helpers::*;
use crate::payments::{checkout, create_package, deliver, stripe_app};
use common::subjects::pricing as s;
use common::{ErrorCode, UserId};
use platform::nats::request;
use pricing::limits::MAX_BALANCE;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Row counts of every pricing table and the sum of user balances: what a
/// refused request must leave as it found it.
async fn fingerprint(app: &TestApp) -> BTreeMap<String, String> {
    let db = app.db().await;
    let tables: Vec<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'pricing' AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = BTreeMap::new();
    for t in tables {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM pricing.\"{t}\""), &[])
            .await
            .unwrap()
            .get(0);
        out.insert(t, n.to_string());
    }
    // And what updates would change in place.
    let contents: String = db
        .query_one(
            "SELECT concat_ws('/',
                (SELECT COALESCE(sum(balance), 0) FROM accounts),
                (SELECT string_agg(concat_ws(':', code, name, category, unit, active), ',' ORDER BY code) FROM services),
                (SELECT string_agg(concat_ws(':', key, micro_credits), ',' ORDER BY key) FROM cost_inputs),
                (SELECT string_agg(concat_ws(':', category, multiplier_bps), ',' ORDER BY category) FROM category_multipliers),
                (SELECT string_agg(concat_ws(':', id, name, credits, bonus_credits, price_minor, currency, active), ',' ORDER BY id) FROM packages))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    out.insert("~contents".into(), contents);
    out
}

/// Asserts a 422 `validation_failed` naming `field` (exactly, or as a prefix
/// when the field is a map key).
async fn refused(r: reqwest::Response, field: &str, what: &str) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("an error body");
    assert_eq!(status, 422, "{what}: {body}");
    assert_eq!(body["error"]["code"], "validation_failed", "{what}: {body}");
    let named = body["error"]["field"].as_str().unwrap_or_default();
    assert!(
        named == field || named.starts_with(&format!("{field}.")),
        "{what}: names {named:?}, not {field:?}: {body}"
    );
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut r = app
        .http
        .request(method, app.url(path))
        .header("X-Internal-Token", token);
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        r = r.json(b);
    }
    r.send().await.unwrap()
}

/// (method, path, token, body, field, values, with an Idempotency-Key)
type Case<'a> = (
    reqwest::Method,
    &'a str,
    String,
    &'a Value,
    &'a str,
    &'a [&'a str],
    bool,
);

#[tokio::test]
async fn control_characters_in_any_text_field_are_refused_naming_it_and_write_nothing() {
    let (app, _, stripe) = stripe_app().await;
    let admin = app.admin_token();
    let user = UserId::new();
    app.fund(user, 100).await;
    let package = create_package(&app).await;
    let before = fingerprint(&app).await;

    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    // One line: no control character at all (NUL, C0, DEL, C1, newline).
    let line_bad = ["a\u{0}b", "\u{1}", "a\nb", "a\u{7f}", "a\u{85}b", "\u{9b}x"];
    // Free text: newlines and tabs are fine, other control characters not.
    let text_bad = ["a\u{0}b", "\u{7}", "a\u{1b}[31m", "a\u{7f}", "a\u{85}"];
    let pkg = json!({"name": "Seeker", "credits": 100, "price_minor": 49900, "currency": "INR"});
    let svc =
        json!({"code": "palm_reading", "name": "Palm", "category": "guidance", "base_price": 1});
    let svc_update = json!({"name": "Palm", "category": "guidance"});
    let adjustment = json!({"user_id": user, "amount": 5, "reason": "goodwill"});
    let over = json!({"service_code": "text_guidance", "price": 3, "reason": "festival"});
    let quote = json!({"service_code": "text_guidance"});
    let package_path = format!("/api/v1/admin/pricing/packages/{package}");
    let cases: Vec<Case> = vec![
        (
            post.clone(),
            "/api/v1/pricing/quotes",
            app.token(user),
            &quote,
            "service_code",
            &line_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/adjustments",
            admin.clone(),
            &adjustment,
            "reason",
            &text_bad,
            true,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/refunds",
            admin.clone(),
            &adjustment,
            "reason",
            &text_bad,
            true,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/packages",
            admin.clone(),
            &pkg,
            "name",
            &line_bad,
            false,
        ),
        (
            put.clone(),
            &package_path,
            admin.clone(),
            &pkg,
            "name",
            &line_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/services",
            admin.clone(),
            &svc,
            "name",
            &line_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/services",
            admin.clone(),
            &svc,
            "category",
            &line_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/services",
            admin.clone(),
            &svc,
            "code",
            &line_bad,
            false,
        ),
        (
            put.clone(),
            "/api/v1/admin/pricing/services/text_guidance",
            admin.clone(),
            &svc_update,
            "name",
            &line_bad,
            false,
        ),
        (
            put.clone(),
            "/api/v1/admin/pricing/services/text_guidance",
            admin.clone(),
            &svc_update,
            "category",
            &line_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/overrides",
            admin.clone(),
            &over,
            "reason",
            &text_bad,
            false,
        ),
        (
            post.clone(),
            "/api/v1/admin/pricing/overrides",
            admin.clone(),
            &over,
            "service_code",
            &line_bad,
            false,
        ),
    ];
    for (method, path, token, base, field, values, key) in cases {
        for v in values {
            let mut body = base.clone();
            body[field] = json!(v);
            let k = key.then_some("control-key");
            let r = send(&app, method.clone(), path, &token, k, Some(&body)).await;
            refused(r, field, &format!("{method} {path} {field}={v:?}")).await;
        }
    }
    // Map keys: category names in the cost model.
    for v in line_bad {
        let body = json!({"category_multipliers": {v: 12000}});
        let r = send(
            &app,
            put.clone(),
            "/api/v1/admin/pricing/cost-inputs",
            &admin,
            None,
            Some(&body),
        )
        .await;
        refused(r, "category_multipliers", &format!("category {v:?}")).await;
    }
    // Blank names and reasons are refused too.
    let mut body = pkg.clone();
    body["name"] = json!(" \u{3000} ");
    let r = send(
        &app,
        post.clone(),
        "/api/v1/admin/pricing/packages",
        &admin,
        None,
        Some(&body),
    )
    .await;
    refused(r, "name", "a blank name").await;
    let mut body = adjustment.clone();
    body["reason"] = json!("\n\t ");
    let r = send(
        &app,
        post.clone(),
        "/api/v1/admin/pricing/adjustments",
        &admin,
        Some("blank"),
        Some(&body),
    )
    .await;
    refused(r, "reason", "a blank reason").await;

    // Path segments, query values and headers follow the same rule.
    let r = send(
        &app,
        put.clone(),
        "/api/v1/admin/pricing/services/a%00b",
        &admin,
        None,
        Some(&svc_update),
    )
    .await;
    refused(r, "code", "a NUL in a service code path").await;
    let r = send(
        &app,
        put.clone(),
        "/api/v1/admin/pricing/packages/%00",
        &admin,
        None,
        Some(&pkg),
    )
    .await;
    refused(r, "id", "a NUL in a package id path").await;
    for (path, field) in [
        ("/api/v1/admin/pricing/history?service=a%00b", "service"),
        ("/api/v1/admin/pricing/payments?cursor=%00", "cursor"),
        (
            "/api/v1/admin/pricing/recommendations?status=pending%00",
            "status",
        ),
        ("/api/v1/credits/ledger?cursor=1%00", "cursor"),
    ] {
        let r = app.get(path, &admin).await;
        refused(r, field, path).await;
    }
    for key in ["a\tb", &"k".repeat(201), "\u{e9}t\u{e9}"] {
        let r = app
            .http
            .post(app.url("/api/v1/admin/pricing/adjustments"))
            .header("X-Internal-Token", &admin)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .json(&adjustment)
            .send()
            .await
            .unwrap();
        refused(r, "Idempotency-Key", &format!("key {key:?}")).await;
    }

    // Internal callers: the hold's reference, over HTTP and over NATS.
    let r = app
        .http
        .post(app.url("/internal/v1/credits/holds"))
        .header("X-Internal-Token", app.service_token(user))
        .header("Idempotency-Key", "ref-http")
        .json(&json!({"amount": 5, "reference": "session\u{0}1"}))
        .send()
        .await
        .unwrap();
    refused(r, "reference", "a NUL in a hold reference (HTTP)").await;
    let client = app.nats_client().await;
    for v in line_bad {
        let e = request::<Value, Value>(
            &client,
            s::CREDITS_HOLD,
            &app.ctx(user, Some("ref-nats")),
            &json!({"amount": 5, "reference": v}),
            T,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed, "{v:?}");
        assert_eq!(e.field.as_deref(), Some("reference"), "{v:?}");
    }
    let e = request::<Value, Value>(
        &client,
        s::QUOTE_CREATE,
        &app.ctx(user, None),
        &json!({"service_code": "text\u{0}guidance"}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationFailed);

    // A signed Stripe event with a NUL in an id it would store.
    let now = chrono::Utc::now().timestamp();
    for (event, field) in [
        (
            json!({"id": "evt_\u{0}", "type": "charge.refunded", "data": {"object": {}}}),
            "id",
        ),
        (
            json!({"id": "evt_1", "type": "checkout.session.completed",
                   "data": {"object": {"id": "cs_\u{0}", "payment_status": "paid"}}}),
            "data.object.id",
        ),
        (
            json!({"id": "evt_2", "type": "charge.refunded",
                   "data": {"object": {"id": "ch_1", "payment_intent": "pi_\u{0}", "amount_refunded": 1}}}),
            "data.object.payment_intent",
        ),
    ] {
        let body = serde_json::to_vec(&event).unwrap();
        let r = deliver(&app, &body, WEBHOOK_SECRET, now).await;
        refused(r, field, &format!("webhook {event}")).await;
    }

    assert_eq!(
        fingerprint(&app).await,
        before,
        "a refused request wrote something"
    );
    stripe.stop(true).await;
    app.finish().await;
}

#[tokio::test]
async fn integer_extremes_are_refused_before_any_arithmetic_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let user = UserId::new();
    app.fund(user, 100).await;
    let client = app.nats_client().await;
    let hold: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h-1")),
        &json!({"amount": 10}),
        T,
    )
    .await
    .unwrap();
    let before = fingerprint(&app).await;

    for amount in [
        json!(i64::MIN),
        json!(i64::MAX),
        json!(MAX_BALANCE + 1),
        json!(-MAX_BALANCE - 1),
        json!(0),
    ] {
        for path in [
            "/api/v1/admin/pricing/adjustments",
            "/api/v1/admin/pricing/refunds",
        ] {
            let r = app
                .post(
                    path,
                    Some(&admin),
                    Some(&format!("extreme-{amount}")),
                    &json!({"user_id": user, "amount": amount, "reason": "edge"}),
                )
                .await;
            refused(r, "amount", &format!("{path} amount {amount}")).await;
        }
    }
    // A refund is never negative.
    let r = app
        .post(
            "/api/v1/admin/pricing/refunds",
            Some(&admin),
            Some("neg"),
            &json!({"user_id": user, "amount": -5, "reason": "edge"}),
        )
        .await;
    refused(r, "amount", "a negative refund").await;
    // Holds and captures over NATS.
    for (subject, body, field) in [
        (s::CREDITS_HOLD, json!({"amount": i64::MAX}), "amount"),
        (s::CREDITS_HOLD, json!({"amount": i64::MIN}), "amount"),
        (
            s::CREDITS_HOLD,
            json!({"amount": 5, "ttl_secs": i64::MAX}),
            "ttl_secs",
        ),
        (
            s::CREDITS_HOLD,
            json!({"amount": 5, "ttl_secs": 0}),
            "ttl_secs",
        ),
        (
            s::CREDITS_CAPTURE,
            json!({"hold_id": hold["hold_id"], "amount": i64::MIN}),
            "amount",
        ),
        (
            s::CREDITS_CAPTURE,
            json!({"hold_id": hold["hold_id"], "amount": -1}),
            "amount",
        ),
        (
            s::QUOTE_CREATE,
            json!({"service_code": "text_guidance", "units": i64::MAX}),
            "units",
        ),
    ] {
        let e = request::<Value, Value>(&client, subject, &app.ctx(user, Some("x-1")), &body, T)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed, "{subject} {body}");
        assert_eq!(e.field.as_deref(), Some(field), "{subject} {body}");
    }
    // Prices, usage, costs and multipliers.
    let svc = |k: &str, v: Value| {
        let mut b = json!({"code": "palm_reading", "name": "Palm", "category": "guidance", "base_price": 1});
        b[k] = v;
        b
    };
    let big = json!(i64::MAX);
    for (path, body, field) in [
        (
            "/api/v1/admin/pricing/services",
            svc("base_price", big.clone()),
            "base_price",
        ),
        (
            "/api/v1/admin/pricing/services",
            svc("base_price", json!(-1)),
            "base_price",
        ),
        (
            "/api/v1/admin/pricing/services",
            svc(
                "usage",
                json!({"llm_ktokens_milli": i64::MAX, "tts_minutes_milli": 0, "avatar_minutes_milli": 0,
                "agora_minutes_milli": 0, "chart_computations_milli": 0}),
            ),
            "usage.llm_ktokens_milli",
        ),
        (
            "/api/v1/admin/pricing/overrides",
            json!({"service_code": "text_guidance", "price": i64::MAX, "reason": "x"}),
            "price",
        ),
        (
            "/api/v1/admin/pricing/overrides",
            json!({"service_code": "text_guidance", "price": 1, "reason": "x", "starts_at": "-5000-01-01T00:00:00Z"}),
            "starts_at",
        ),
        (
            "/api/v1/pricing/quotes",
            json!({"service_code": "text_guidance", "units": 10_001}),
            "units",
        ),
    ] {
        let token = if path.contains("admin") {
            admin.clone()
        } else {
            app.token(user)
        };
        let r = app.post(path, Some(&token), None, &body).await;
        refused(r, field, &format!("{path} {body}")).await;
    }
    for (body, field) in [
        (
            json!({"costs": {"llm_per_1k_tokens": i64::MAX}}),
            "costs.llm_per_1k_tokens",
        ),
        (
            json!({"costs": {"llm_per_1k_tokens": -1}}),
            "costs.llm_per_1k_tokens",
        ),
        (
            json!({"category_multipliers": {"reports": 0}}),
            "category_multipliers",
        ),
        (
            json!({"category_multipliers": {"reports": i64::MIN}}),
            "category_multipliers",
        ),
    ] {
        let r = app
            .http
            .put(app.url("/api/v1/admin/pricing/cost-inputs"))
            .header("X-Internal-Token", &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        refused(r, field, &format!("cost inputs {body}")).await;
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "a refused request wrote something"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_balance_is_never_pushed_past_the_maximum() {
    let (app, _, stripe) = stripe_app().await;
    let admin = app.admin_token();
    let user = UserId::new();
    let package = create_package(&app).await;
    let session = checkout(&app, user, &package).await;
    // Exactly the maximum is fine ...
    app.fund(user, MAX_BALANCE - 10).await;
    let client = app.nats_client().await;
    let _: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h-max")),
        &json!({"amount": 10}),
        T,
    )
    .await
    .unwrap();
    app.fund(user, 10).await;
    assert_eq!(
        app.balance(user).await,
        json!({"balance": MAX_BALANCE, "held": 10, "available": MAX_BALANCE - 10, "owed": 0})
    );
    let before = fingerprint(&app).await;
    // ... one more credit is not, whatever grants it; held credits count.
    for (path, amount) in [
        ("/api/v1/admin/pricing/adjustments", 1),
        ("/api/v1/admin/pricing/refunds", 1),
        ("/api/v1/admin/pricing/adjustments", MAX_BALANCE),
    ] {
        let r = app
            .post(
                path,
                Some(&admin),
                Some(&format!("past-{path}-{amount}")),
                &json!({"user_id": user, "amount": amount, "reason": "one too many"}),
            )
            .await;
        refused(r, "amount", &format!("{path} {amount}")).await;
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "a refused grant wrote something"
    );
    // A paid checkout the balance cannot take grants nothing and is kept for
    // an admin; Stripe gets a 200 and does not retry.
    let body = serde_json::to_vec(&json!({
        "id": "evt_full", "type": "checkout.session.completed",
        "data": {"object": {"id": session, "payment_status": "paid", "payment_intent": "pi_full",
                            "amount_total": 49900, "currency": "inr"}}
    }))
    .unwrap();
    let r = deliver(&app, &body, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await;
    assert_eq!(r.status(), 200);
    let p: Value = app
        .get("/api/v1/admin/pricing/payments?status=mismatch", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["items"][0]["session_id"], session);
    assert_eq!(p["items"][0]["mismatch_reason"], "balance_limit");
    assert_eq!(app.balance(user).await["balance"], MAX_BALANCE);
    // Releasing the hold and spending still work at the maximum.
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&admin),
            Some("down"),
            &json!({"user_id": user, "amount": -1, "reason": "back under"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&admin),
            Some("up"),
            &json!({"user_id": user, "amount": 1, "reason": "to the brim"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    stripe.stop(true).await;
    app.finish().await;
}

#[tokio::test]
async fn packages_beyond_the_limits_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let package = {
        let r = app
            .post(
                "/api/v1/admin/pricing/packages",
                Some(&admin),
                None,
                &json!({"name": "Max", "credits": 1_000_000_000, "price_minor": 99_999_999, "currency": "usd"}),
            )
            .await;
        assert_eq!(r.status(), 201, "the limits themselves are fine");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["currency"], "USD");
        p["id"].as_str().unwrap().to_owned()
    };
    let before = fingerprint(&app).await;
    let base = json!({"name": "Seeker", "credits": 100, "price_minor": 49900, "currency": "INR"});
    for (k, v, field) in [
        ("credits", json!(i64::MAX), "credits"),
        ("credits", json!(0), "credits"),
        ("credits", json!(1_000_000_001), "credits"),
        ("bonus_credits", json!(-1), "bonus_credits"),
        ("price_minor", json!(100_000_000), "price_minor"),
        ("price_minor", json!(0), "price_minor"),
        ("currency", json!("rupees"), "currency"),
    ] {
        let mut body = base.clone();
        body[k] = v.clone();
        let r = app
            .post("/api/v1/admin/pricing/packages", Some(&admin), None, &body)
            .await;
        refused(r, field, &format!("{k}={v}")).await;
    }
    // The sum counts: credits = i64::MAX with a bonus, or the most credits with one more.
    for (credits, bonus, field) in [
        (json!(i64::MAX), json!(1), "credits"),
        (json!(1_000_000_000), json!(1), "bonus_credits"),
        (json!(1), json!(1_000_000_000), "bonus_credits"),
    ] {
        let mut body = base.clone();
        body["credits"] = credits.clone();
        body["bonus_credits"] = bonus.clone();
        let r = app
            .post("/api/v1/admin/pricing/packages", Some(&admin), None, &body)
            .await;
        refused(r, field, &format!("credits={credits} bonus={bonus}")).await;
        let r = app
            .http
            .put(app.url(&format!("/api/v1/admin/pricing/packages/{package}")))
            .header("X-Internal-Token", &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        refused(r, field, &format!("PUT credits={credits} bonus={bonus}")).await;
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "a refused package was written"
    );
    app.finish().await;
}

#[tokio::test]
async fn page_sizes_and_other_query_ranges_are_refused_not_clamped() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let user = UserId::new();
    app.fund(user, 10).await;
    let token = app.token(user);
    let before = fingerprint(&app).await;
    for limit in [
        "0",
        "201",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "abc",
        "",
    ] {
        let r = app
            .get(&format!("/api/v1/credits/ledger?limit={limit}"), &token)
            .await;
        refused(r, "limit", &format!("ledger limit={limit:?}")).await;
        let r = app
            .get(
                &format!("/api/v1/admin/pricing/payments?limit={limit}"),
                &admin,
            )
            .await;
        refused(r, "limit", &format!("payments limit={limit:?}")).await;
    }
    for days in ["0", "367", "-2147483648"] {
        let r = app
            .get(
                &format!("/api/v1/admin/pricing/reports/daily?days={days}"),
                &admin,
            )
            .await;
        refused(r, "days", &format!("days={days}")).await;
    }
    for (path, field) in [
        ("/api/v1/credits/ledger?cursor=-1", "cursor"),
        (
            "/api/v1/credits/ledger?cursor=99999999999999999999",
            "cursor",
        ),
        ("/api/v1/admin/pricing/payments?status=bogus", "status"),
        ("/api/v1/admin/pricing/payments?cursor=1.zz", "cursor"),
        (
            "/api/v1/admin/pricing/recommendations?status=maybe",
            "status",
        ),
        ("/api/v1/admin/pricing/history?at=yesterday", "at"),
        (
            "/api/v1/admin/pricing/history?service=Not%20A%20Code",
            "service",
        ),
    ] {
        let t = if path.contains("admin") {
            &admin
        } else {
            &token
        };
        refused(app.get(path, t).await, field, path).await;
    }
    // The bounds themselves are fine.
    for limit in ["1", "200"] {
        let r = app
            .get(&format!("/api/v1/credits/ledger?limit={limit}"), &token)
            .await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
    assert_eq!(fingerprint(&app).await, before);
    app.finish().await;
}

#[tokio::test]
async fn bodies_and_nested_objects_must_be_json_objects() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let before = fingerprint(&app).await;
    // serde's derived structs also take an array, fields by position; the
    // documented schemas say object, and so does the parser now.
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/api/v1/admin/pricing/cost-inputs",
            json!([]),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/admin/pricing/cost-inputs",
            json!([{}]),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/admin/pricing/cost-inputs",
            json!({"costs": []}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/admin/pricing/services",
            json!({"code": "palm_reading", "name": "Palm", "category": "guidance", "base_price": 1,
                   "usage": [0, 0, 0, 0, 0]}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/admin/pricing/packages",
            json!(["Seeker", 100, 0, 49900, "INR", true]),
        ),
    ] {
        let r = send(&app, method.clone(), path, &admin, None, Some(&body)).await;
        assert_eq!(
            error_code(r).await,
            (400, "malformed_json".into()),
            "{method} {path} {body}"
        );
    }
    // NATS requests too.
    let user = UserId::new();
    let client = app.nats_client().await;
    for (subject, body) in [
        (s::CREDITS_HOLD, json!([null, 5])),
        (s::QUOTE_CREATE, json!([null, "text_guidance", 1])),
        (s::CREDITS_BALANCE, json!([])),
    ] {
        let e = request::<Value, Value>(&client, subject, &app.ctx(user, Some("arr")), &body, T)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson, "{subject} {body}");
    }
    assert_eq!(fingerprint(&app).await, before);
    app.finish().await;
}

/// Every operation the gateway routes to pricing, as clients call it.
const ROUTED: &[(&str, &str)] = &[
    ("get", "/api/v1/credits/balance"),
    ("get", "/api/v1/credits/ledger"),
    ("get", "/api/v1/credits/packages"),
    ("post", "/api/v1/credits/checkout"),
    ("post", "/api/v1/payments/stripe/webhook"),
    ("post", "/api/v1/pricing/quotes"),
    ("get", "/api/v1/pricing/services"),
    ("get", "/api/v1/admin/pricing/packages"),
    ("post", "/api/v1/admin/pricing/packages"),
    ("put", "/api/v1/admin/pricing/packages/{id}"),
    ("delete", "/api/v1/admin/pricing/packages/{id}"),
    ("post", "/api/v1/admin/pricing/adjustments"),
    ("post", "/api/v1/admin/pricing/refunds"),
    ("get", "/api/v1/admin/pricing/payments"),
    ("get", "/api/v1/admin/pricing/services"),
    ("post", "/api/v1/admin/pricing/services"),
    ("put", "/api/v1/admin/pricing/services/{code}"),
    ("get", "/api/v1/admin/pricing/cost-inputs"),
    ("put", "/api/v1/admin/pricing/cost-inputs"),
    ("get", "/api/v1/admin/pricing/recommendations"),
    ("post", "/api/v1/admin/pricing/recommendations/generate"),
    ("post", "/api/v1/admin/pricing/recommendations/{id}/approve"),
    ("post", "/api/v1/admin/pricing/recommendations/{id}/reject"),
    ("post", "/api/v1/admin/pricing/overrides"),
    ("get", "/api/v1/admin/pricing/history"),
    ("get", "/api/v1/admin/pricing/reports/daily"),
    ("get", "/api/v1/admin/pricing/service-accounts"),
];

#[tokio::test]
async fn the_openapi_document_names_every_routed_operation_and_no_internal_path() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut routed: Vec<(String, String)> = ROUTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed, "the document is not the routed API");
    let mut declared: Vec<(&str, &str)> = pricing::API_OPERATIONS.to_vec();
    declared.sort();
    let mut expected: Vec<(&str, &str)> = ROUTED.to_vec();
    expected.sort();
    assert_eq!(declared, expected, "the route table is not the routed API");
    assert!(documented.iter().all(|(_, p)| !p.starts_with("/internal")));
    // Each is really served: without credentials a protected operation
    // answers 401, never the 404 of an unknown route.
    for (method, path) in ROUTED {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{code}", "text_guidance");
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app
            .http
            .request(m, app.url(&concrete))
            .send()
            .await
            .unwrap();
        let public = path.ends_with("/pricing/services") || path.ends_with("/webhook");
        if public {
            assert_ne!(r.status(), 404, "{method} {path} is not routed");
        } else {
            assert_eq!(r.status(), 401, "{method} {path}");
        }
    }
    // The internal operations stay served, for services only.
    for (_, path) in pricing::INTERNAL_OPERATIONS {
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let r = app.post(&concrete, None, None, &json!({})).await;
        assert_eq!(r.status(), 401, "{path}");
        assert!(doc["paths"][*path].is_null(), "{path} is documented");
    }
    app.finish().await;
}
