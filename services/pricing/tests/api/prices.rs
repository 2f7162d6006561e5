use crate::helpers::*;
use common::subjects::pricing as s;
use common::{ErrorCode, UserId};
use platform::nats::request;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::wait_until;

async fn price_of(app: &TestApp, code: &str) -> i64 {
    let r = app
        .http
        .get(app.url("/api/v1/pricing/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the catalog is public");
    let v: Value = r.json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap()["price"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_catalog_lists_the_seeded_services() {
    let app = spawn_app().await;
    let v: Value = app
        .http
        .get(app.url("/api/v1/pricing/services"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    for c in [
        "text_guidance",
        "audio_guidance",
        "video_guidance",
        "live_chat",
        "live_voice",
        "live_video",
        "avatar_voice",
        "full_horoscope_report",
        "compatibility_report",
        "avatar_video",
    ] {
        assert!(codes.contains(&c), "{c} missing");
    }
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/credits/balance",
        "/api/v1/credits/checkout",
        "/api/v1/payments/stripe/webhook",
        "/api/v1/pricing/quotes",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn pending_changes_nothing_approval_changes_atomically_and_quotes_are_honoured() {
    let app = spawn_with(Options {
        overrides: vec![
            ("quotes.ttl_secs", "2".into()),
            ("engine.margin_bps", "100000".into()),
        ],
        ..Default::default()
    })
    .await;
    let admin = app.admin_token();
    let user = UserId::new();
    app.fund(user, 1000).await;
    let before = price_of(&app, "full_horoscope_report").await;
    assert_eq!(before, 40);
    // A quote taken before the change.
    let client = app.nats_client().await;
    let t = Duration::from_secs(10);
    let quote: Value = request(
        &client,
        s::QUOTE_CREATE,
        &app.ctx(user, None),
        &json!({"service_code": "full_horoscope_report"}),
        t,
    )
    .await
    .unwrap();
    assert_eq!(quote["unit_price"], 40);
    // Make the provider expensive and generate recommendations.
    let r = app.http.put(app.url("/api/v1/admin/pricing/cost-inputs")).header("X-Internal-Token", &admin)
        .json(&json!({"costs": {"llm_per_1k_tokens": 5_000_000}, "category_multipliers": {"reports": 12000}})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            "/api/v1/admin/pricing/recommendations/generate",
            Some(&admin),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let recs: Value = r.json().await.unwrap();
    let rec = recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service_code"] == "full_horoscope_report")
        .unwrap()
        .clone();
    assert_eq!(rec["status"], "pending");
    let new_price = rec["recommended_price"].as_i64().unwrap();
    assert_ne!(new_price, before);
    assert!(rec["rationale"]["cost_micro"].as_i64().unwrap() > 0);
    assert_eq!(rec["rationale"]["factors"]["category_bps"], 12000);
    // Pending: no live price moved.
    assert_eq!(price_of(&app, "full_horoscope_report").await, before);
    let q2: Value = request(
        &client,
        s::QUOTE_CREATE,
        &app.ctx(user, None),
        &json!({"service_code": "full_horoscope_report"}),
        t,
    )
    .await
    .unwrap();
    assert_eq!(q2["unit_price"], before);
    let pending: Value = app
        .get(
            "/api/v1/admin/pricing/recommendations?status=pending",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!pending["items"].as_array().unwrap().is_empty());
    // Reject one, approve the other.
    let text = recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service_code"] == "text_guidance")
        .unwrap()
        .clone();
    let r = app
        .post(
            &format!(
                "/api/v1/admin/pricing/recommendations/{}/reject",
                text["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(price_of(&app, "text_guidance").await, 10);
    let r = app
        .post(
            &format!(
                "/api/v1/admin/pricing/recommendations/{}/approve",
                rec["id"].as_str().unwrap()
            ),
            Some(&app.token(user)),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .post(
            &format!(
                "/api/v1/admin/pricing/recommendations/{}/approve",
                rec["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(price_of(&app, "full_horoscope_report").await, new_price);
    let r = app
        .post(
            &format!(
                "/api/v1/admin/pricing/recommendations/{}/approve",
                rec["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(error_code(r).await, (409, "conflict".into()));
    // History records it; a new quote has the new price.
    let h: Value = app
        .get(
            "/api/v1/admin/pricing/history?service=full_horoscope_report",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["effective_price"], new_price);
    assert!(h["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "approved" && i["price"] == new_price));
    let q3: Value = request(
        &client,
        s::QUOTE_CREATE,
        &app.ctx(user, None),
        &json!({"service_code": "full_horoscope_report"}),
        t,
    )
    .await
    .unwrap();
    assert_eq!(q3["unit_price"], new_price);
    // The old quote is honoured: a hold on it reserves the quoted 40.
    let hold: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("hq")),
        &json!({"quote_id": quote["id"]}),
        t,
    )
    .await
    .unwrap();
    assert_eq!(hold["amount"], 40);
    assert_eq!(hold["service_code"], "full_horoscope_report");
    // Until it expires.
    let q2id = q2["id"].clone();
    let mut n = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            n += 1;
            let (client, ctx, id) = (client.clone(), app.ctx(user, Some(&format!("late-{n}"))), q2id.clone());
            async move {
                matches!(request::<Value, Value>(&client, s::CREDITS_HOLD, &ctx, &json!({"quote_id": id}), Duration::from_secs(5)).await,
                    Err(e) if e.code == ErrorCode::QuoteExpired)
            }
        })
        .await
    );
    // An override takes precedence for its window; the price-changed events went out.
    let r = app
        .post(
            "/api/v1/admin/pricing/overrides",
            Some(&admin),
            None,
            &json!({"service_code": "text_guidance", "price": 3, "reason": "festival offer"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(price_of(&app, "text_guidance").await, 3);
    let url = app.nats_url.clone();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            stream_messages(&url, "EVT_PRICING")
                .await
                .iter()
                .filter(|m| m["type"] == "pricing.price.changed")
                .count()
                == 2
        })
        .await
    );
    app.finish().await;
}

#[tokio::test]
async fn an_override_with_an_end_reverts_to_the_approved_price() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let now = chrono::Utc::now();
    let r = app.post("/api/v1/admin/pricing/overrides", Some(&admin), None,
        &json!({"service_code": "avatar_video", "price": 7, "reason": "past promo",
                "starts_at": now - chrono::Duration::hours(2), "ends_at": now - chrono::Duration::hours(1)})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(price_of(&app, "avatar_video").await, 50);
    let at =
        (now - chrono::Duration::minutes(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let h: Value = app
        .get(
            &format!(
                "/api/v1/admin/pricing/history?service=avatar_video&at={}",
                at.replace('+', "%2B")
            ),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        h["effective_price"], 7,
        "the effective price at an instant is derivable from history"
    );
    app.finish().await;
}

#[tokio::test]
async fn usage_events_from_jetstream_drive_the_demand_factor() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let user = UserId::new();
    app.fund(user, 1000).await;
    let client = app.nats_client().await;
    let t = Duration::from_secs(10);
    for i in 0..3 {
        let q: Value = request(
            &client,
            s::QUOTE_CREATE,
            &app.ctx(user, None),
            &json!({"service_code": "compatibility_report"}),
            t,
        )
        .await
        .unwrap();
        let h: Value = request(
            &client,
            s::CREDITS_HOLD,
            &app.ctx(user, Some(&format!("h{i}"))),
            &json!({"quote_id": q["id"]}),
            t,
        )
        .await
        .unwrap();
        let _: Value = request(
            &client,
            s::CREDITS_CAPTURE,
            &app.ctx(user, Some(&format!("c{i}"))),
            &json!({"hold_id": h["hold_id"], "amount": q["total"]}),
            t,
        )
        .await
        .unwrap();
    }
    let db = app.db().await;
    assert!(
        wait_until(Duration::from_secs(15), || async {
            db.query_one("SELECT count(*) FROM usage_events", &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
                == 3
        })
        .await,
        "usage events were not consumed"
    );
    let recs: Value = app
        .post(
            "/api/v1/admin/pricing/recommendations/generate",
            Some(&admin),
            None,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let find = |code: &str| {
        recs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service_code"] == code)
            .unwrap()
            .clone()
    };
    let busy = find("compatibility_report");
    assert_eq!(busy["rationale"]["demand_usage"]["recent"], 3);
    // All usage is recent: the rate is 7x the weekly average, clamped to the maximum.
    assert_eq!(busy["rationale"]["factors"]["demand_bps"], 15000);
    assert_eq!(
        find("text_guidance")["rationale"]["factors"]["demand_bps"],
        10000
    );
    // Revenue and usage by day and service.
    let report: Value = app
        .get("/api/v1/admin/pricing/reports/daily", &admin)
        .await
        .json()
        .await
        .unwrap();
    let row = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service_code"] == "compatibility_report")
        .unwrap()
        .clone();
    assert_eq!(row["uses"], 3);
    assert_eq!(row["revenue_credits"], 90);
    app.finish().await;
}

#[tokio::test]
async fn services_admin_and_http_quotes() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let svc = json!({"code": "palm_reading", "name": "Palm reading", "category": "guidance", "base_price": 12,
        "usage": {"llm_ktokens_milli": 2000, "tts_minutes_milli": 0, "avatar_minutes_milli": 0, "agora_minutes_milli": 0, "chart_computations_milli": 0}});
    let r = app
        .post("/api/v1/admin/pricing/services", Some(&admin), None, &svc)
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post("/api/v1/admin/pricing/services", Some(&admin), None, &svc)
        .await;
    assert_eq!(error_code(r).await, (409, "conflict".into()));
    let r = app
        .post(
            "/api/v1/admin/pricing/services",
            Some(&admin),
            None,
            &json!({"code": "Bad Code", "name": "x", "category": "x", "base_price": 1}),
        )
        .await;
    assert_eq!(error_code(r).await.0, 422);
    assert_eq!(price_of(&app, "palm_reading").await, 12);
    // Editing a service never changes its price.
    let r = app.http.put(app.url("/api/v1/admin/pricing/services/palm_reading")).header("X-Internal-Token", &admin)
        .json(&json!({"code": "palm_reading", "name": "Palm reading (long)", "category": "guidance", "base_price": 999})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(price_of(&app, "palm_reading").await, 12);
    let user = UserId::new();
    let r = app
        .post(
            "/api/v1/pricing/quotes",
            Some(&app.token(user)),
            None,
            &json!({"service_code": "palm_reading", "units": 3}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let q: Value = r.json().await.unwrap();
    assert_eq!(q["unit_price"], 12);
    assert_eq!(q["total"], 36);
    let r = app
        .post(
            "/api/v1/pricing/quotes",
            Some(&app.token(user)),
            None,
            &json!({"service_code": "nope"}),
        )
        .await;
    assert_eq!(error_code(r).await.0, 404);
    // A quote belongs to its user: nobody else can hold against it.
    let client = app.nats_client().await;
    let other = UserId::new();
    app.fund(other, 100).await;
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(other, Some("x")),
        &json!({"quote_id": q["id"]}),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let costs: Value = app
        .get("/api/v1/admin/pricing/cost-inputs", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(costs["costs"]["llm_per_1k_tokens"], 200000);
    app.finish().await;
}

/// Guidance's usage events feed the demand factor too, and an answer that
/// both pricing (its captured hold) and guidance report counts once.
#[tokio::test]
async fn guidance_usage_events_count_once_per_hold() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 1000).await;
    let client = app.nats_client().await;
    let t = Duration::from_secs(10);
    let q: Value = request(
        &client,
        s::QUOTE_CREATE,
        &app.ctx(user, None),
        &json!({"service_code": "text_guidance"}),
        t,
    )
    .await
    .unwrap();
    let h: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("gh1")),
        &json!({"quote_id": q["id"]}),
        t,
    )
    .await
    .unwrap();
    let _: Value = request(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("gc1")),
        &json!({"hold_id": h["hold_id"], "amount": q["total"]}),
        t,
    )
    .await
    .unwrap();
    // Guidance reports the same answer, and a text generated for social (no hold).
    let guidance = platform::auth::InternalAuth::development("guidance").unwrap();
    let bus = platform::nats::Bus::new(client.clone(), guidance.clone(), "", t);
    platform::nats::ensure_stream(&bus, "guidance")
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let hold_id: common::HoldId = serde_json::from_value(h["hold_id"].clone()).unwrap();
    for (hold, caller) in [(Some(hold_id), None), (None, Some("social".to_owned()))] {
        let e = common::EventEnvelope::new(
            "guidance",
            "guidance.usage.recorded",
            1,
            common::event::UsageRecorded {
                service_code: "text_guidance".into(),
                units: 1,
                credits: if hold.is_some() {
                    q["total"].as_i64().unwrap()
                } else {
                    0
                },
                user_id: hold.map(|_| user),
                caller,
                hold_id: hold,
                prompt_tokens: 300,
                completion_tokens: 60,
                provider: "local".into(),
            },
        );
        let payload = serde_json::to_vec(&e).unwrap();
        let id = e.id.to_string();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        guidance.sign_event(&mut headers, &e.subject(), &id, &payload);
        js.publish_with_headers(e.subject(), headers, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let db = app.db().await;
    assert!(
        wait_until(Duration::from_secs(15), || async {
            db.query_one(
                "SELECT count(*) FROM processed_events WHERE consumer = 'pricing-guidance-usage'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
                == 2
        })
        .await,
        "guidance usage events were not consumed"
    );
    assert!(
        wait_until(Duration::from_secs(15), || async {
            db.query_one(
                "SELECT count(*) FROM usage_events WHERE service_code = 'text_guidance'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
                == 2
        })
        .await,
        "one row for the answer (its hold), one for the generated text"
    );
    let from_guidance: i64 = db
        .query_one(
            "SELECT count(*) FROM usage_events WHERE source = 'guidance'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((1..=2).contains(&from_guidance));
    // The text generated for social is charged to social's account, at the
    // catalog price of its service code; redelivery charges nothing more.
    let price: i64 = db
        .query_one("SELECT effective_price('text_guidance', now())", &[])
        .await
        .unwrap()
        .get(0);
    assert!(price > 0);
    let admin = app.admin_token();
    let accounts: Value = app
        .get("/api/v1/admin/pricing/service-accounts", &admin)
        .await
        .json()
        .await
        .unwrap();
    let items = accounts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{accounts}");
    assert_eq!(items[0]["service"], "social");
    assert_eq!(items[0]["charged_credits"], price);
    assert_eq!(items[0]["uses"], 1);
    assert_eq!(items[0]["completion_tokens"], 60);
    let social_usage: i64 = db
        .query_one(
            "SELECT credits FROM usage_events WHERE hold_id IS NULL AND source = 'guidance'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(social_usage, price);
    // A user cannot read the service accounts.
    let user_token = app.token(user);
    let r = app
        .get("/api/v1/admin/pricing/service-accounts", &user_token)
        .await;
    assert_eq!(r.status(), 403);
    app.finish().await;
}
