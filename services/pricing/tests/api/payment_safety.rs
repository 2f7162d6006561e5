//! Stripe money handling: credits only for the price we asked, refunds in
//! any order, never "paid" again after a refund, owed credits collected.

use crate::helpers::*;
use crate::payments::{checkout, create_package, deliver, now, stripe_app};
use common::event::UserRegistered;
use common::subjects::pricing as s;
use common::{EventEnvelope, UserId};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::wait_until;

const COMPLETED: &str = "checkout.session.completed";
const ASYNC_OK: &str = "checkout.session.async_payment_succeeded";

#[allow(clippy::too_many_arguments)]
fn session_event(
    event_id: &str,
    event_type: &str,
    session: &str,
    intent: &str,
    amount_total: Option<i64>,
    currency: &str,
    user: UserId,
    package: &str,
) -> Vec<u8> {
    let mut object = json!({
        "id": session, "object": "checkout.session", "payment_status": "paid",
        "payment_intent": intent, "currency": currency,
        "client_reference_id": user.to_string(),
        "metadata": {"package_id": package, "user_id": user.to_string()}
    });
    if let Some(a) = amount_total {
        object["amount_total"] = json!(a);
    }
    serde_json::to_vec(&json!({
        "id": event_id, "object": "event", "type": event_type, "data": {"object": object}
    }))
    .unwrap()
}

fn refund_event(event_id: &str, charge: &str, intent: &str, amount_refunded: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id, "object": "event", "type": "charge.refunded",
        "data": {"object": {
            "id": charge, "object": "charge", "payment_intent": intent,
            "amount": 49900, "amount_refunded": amount_refunded, "currency": "inr"
        }}
    }))
    .unwrap()
}

/// Delivers a signed event and expects 200 (Stripe must never retry these).
async fn ok(app: &TestApp, body: &[u8]) {
    let r = deliver(app, body, WEBHOOK_SECRET, now()).await;
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
}

async fn payment(app: &TestApp, session: &str) -> Value {
    app.db()
        .await
        .query_one(
            "SELECT row_to_json(p)::jsonb FROM payments p WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap()
        .get(0)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db().await.query_one(sql, &[]).await.unwrap().get(0)
}

/// Holds and captures `amount` of the user's credits.
async fn spend(app: &TestApp, user: UserId, amount: i64) {
    let client = app.nats_client().await;
    let t = Duration::from_secs(10);
    let key = uuid::Uuid::new_v4().to_string();
    let h: Value = platform::nats::request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some(&format!("h-{key}"))),
        &json!({ "amount": amount }),
        t,
    )
    .await
    .unwrap();
    let _: Value = platform::nats::request(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some(&format!("c-{key}"))),
        &json!({"hold_id": h["hold_id"], "amount": amount}),
        t,
    )
    .await
    .unwrap();
}

async fn ledger(app: &TestApp, user: UserId) -> Vec<Value> {
    let page: Value = app
        .get("/api/v1/credits/ledger?limit=200", &app.token(user))
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn mismatch_events(app: &TestApp) -> Vec<Value> {
    stream_messages(&app.nats_url, "EVT_PRICING")
        .await
        .into_iter()
        .filter(|m| m["type"] == "pricing.payment.mismatch")
        .collect()
}

#[tokio::test]
async fn a_session_paid_with_another_amount_or_currency_or_never_created_grants_nothing() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let s1 = checkout(&app, user, &package).await;
    let s2 = checkout(&app, user, &package).await;
    let s3 = checkout(&app, user, &package).await;
    let s4 = checkout(&app, user, &package).await;
    // Paid less than the package price.
    ok(
        &app,
        &session_event(
            "evt_m1",
            COMPLETED,
            &s1,
            "pi_m1",
            Some(100),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    // The right number in another currency, through the async path.
    ok(
        &app,
        &session_event(
            "evt_m2",
            ASYNC_OK,
            &s2,
            "pi_m2",
            Some(49900),
            "usd",
            user,
            &package,
        ),
    )
    .await;
    // No amount at all.
    ok(
        &app,
        &session_event(
            "evt_m4", COMPLETED, &s4, "pi_m4", None, "inr", user, &package,
        ),
    )
    .await;
    // A session we never created, naming our user and package in its metadata.
    ok(
        &app,
        &session_event(
            "evt_m3",
            COMPLETED,
            "cs_forged",
            "pi_m3",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    assert_eq!(app.balance(user).await["available"], 0);
    // A later event for a mismatched session, even with the right amount, grants nothing.
    ok(
        &app,
        &session_event(
            "evt_m1b",
            ASYNC_OK,
            &s1,
            "pi_m1",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    ok(
        &app,
        &session_event(
            "evt_m3b",
            ASYNC_OK,
            "cs_forged",
            "pi_m3",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    assert_eq!(app.balance(user).await["available"], 0);
    // The price we asked, in our currency (Stripe writes it in lower case), buys the package.
    ok(
        &app,
        &session_event(
            "evt_ok",
            COMPLETED,
            &s3,
            "pi_ok",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    assert_eq!(app.balance(user).await["available"], 120);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM transactions WHERE kind = 'purchase'"
        )
        .await,
        1
    );

    // What we expected is kept beside what Stripe reported.
    let p1 = payment(&app, &s1).await;
    assert_eq!(p1["status"], "mismatch");
    assert_eq!(p1["mismatch_reason"], "amount_mismatch");
    assert_eq!(p1["amount_minor"], 49900);
    assert_eq!(p1["currency"], "INR");
    assert_eq!(p1["reported_amount_minor"], 100);
    assert_eq!(p1["reported_currency"], "INR");
    assert_eq!(p1["payment_intent"], "pi_m1");
    let p2 = payment(&app, &s2).await;
    assert_eq!(p2["status"], "mismatch");
    assert_eq!(p2["mismatch_reason"], "currency_mismatch");
    assert_eq!(p2["reported_currency"], "USD");
    let p4 = payment(&app, &s4).await;
    assert_eq!(p4["status"], "mismatch");
    assert_eq!(p4["mismatch_reason"], "amount_mismatch");
    assert_eq!(p4["reported_amount_minor"], Value::Null);
    let forged = payment(&app, "cs_forged").await;
    assert_eq!(forged["status"], "mismatch");
    assert_eq!(forged["mismatch_reason"], "unknown_session");
    assert_eq!(forged["user_id"], Value::Null);
    assert_eq!(forged["credits"], Value::Null);
    assert_eq!(forged["reported_amount_minor"], 49900);
    assert_eq!(
        forged["reported_metadata"]["metadata"]["user_id"],
        user.to_string()
    );
    assert_eq!(payment(&app, &s3).await["status"], "paid");

    // One admin event per mismatched session, through the outbox.
    assert!(
        wait_until(Duration::from_secs(15), || async {
            mismatch_events(&app).await.len() >= 4
        })
        .await,
        "no payment.mismatch events"
    );
    let events = mismatch_events(&app).await;
    assert_eq!(events.len(), 4, "{events:?}");
    let by_session = |id: &str| {
        events
            .iter()
            .find(|e| e["data"]["session_id"] == id)
            .unwrap_or_else(|| panic!("no event for {id}"))
            .clone()
    };
    let e1 = by_session(&s1);
    assert_eq!(e1["data"]["reason"], "amount_mismatch");
    assert_eq!(e1["data"]["expected_amount_minor"], 49900);
    assert_eq!(e1["data"]["reported_amount_minor"], 100);
    assert_eq!(e1["data"]["user_id"], user.to_string());
    assert_eq!(e1["data"]["stripe_event_id"], "evt_m1");
    let e3 = by_session("cs_forged");
    assert_eq!(e3["data"]["reason"], "unknown_session");
    assert_eq!(e3["data"]["user_id"], Value::Null);
    assert_eq!(by_session(&s2)["data"]["reason"], "currency_mismatch");

    // Admins list them, newest first, a page at a time.
    let admin = app.admin_token();
    let page: Value = app
        .get(
            "/api/v1/admin/pricing/payments?status=mismatch&limit=3",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["cs_forged", s4.as_str(), s2.as_str()]);
    assert_eq!(page["items"][0]["mismatch_reason"], "unknown_session");
    assert_eq!(page["items"][0]["reported_amount_minor"], 49900);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get(
            &format!("/api/v1/admin/pricing/payments?status=mismatch&limit=3&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["session_id"], s1.as_str());
    assert_eq!(page2["items"][0]["expected_amount_minor"], 49900);
    assert_eq!(page2["items"][0]["reported_amount_minor"], 100);
    assert_eq!(page2["next_cursor"], Value::Null);
    let paid: Value = app
        .get("/api/v1/admin/pricing/payments?status=paid", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["items"].as_array().unwrap().len(), 1);
    assert_eq!(paid["items"][0]["session_id"], s3.as_str());
    let all: Value = app
        .get("/api/v1/admin/pricing/payments", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let r = app
        .get("/api/v1/admin/pricing/payments?status=bogus", &admin)
        .await;
    assert_eq!(error_code(r).await, (422, "validation_failed".into()));
    let r = app
        .get("/api/v1/admin/pricing/payments", &app.token(user))
        .await;
    assert_eq!(r.status(), 403);
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].get("/api/v1/admin/pricing/payments").is_some());
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn a_refund_before_its_payment_ends_like_a_refund_after_it() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let (a, b) = (UserId::new(), UserId::new());
    let sa = checkout(&app, a, &package).await;
    let sb = checkout(&app, b, &package).await;
    // A: the refunds (partial, then the rest) arrive before the payment...
    ok(&app, &refund_event("evt_a_r1", "ch_a", "pi_a", 24950)).await;
    ok(&app, &refund_event("evt_a_r2", "ch_a", "pi_a", 49900)).await;
    assert_eq!(app.balance(a).await["available"], 0);
    assert_eq!(payment(&app, &sa).await["status"], "open");
    ok(
        &app,
        &session_event(
            "evt_a_paid",
            COMPLETED,
            &sa,
            "pi_a",
            Some(49900),
            "inr",
            a,
            &package,
        ),
    )
    .await;
    // B: ...or the payment first, the full refund, then the stale partial one.
    ok(
        &app,
        &session_event(
            "evt_b_paid",
            COMPLETED,
            &sb,
            "pi_b",
            Some(49900),
            "inr",
            b,
            &package,
        ),
    )
    .await;
    assert_eq!(app.balance(b).await["available"], 120);
    ok(&app, &refund_event("evt_b_r2", "ch_b", "pi_b", 49900)).await;
    ok(&app, &refund_event("evt_b_r1", "ch_b", "pi_b", 24950)).await;
    // More deliveries under new event ids change nothing.
    ok(
        &app,
        &session_event(
            "evt_a_async",
            ASYNC_OK,
            &sa,
            "pi_a",
            Some(49900),
            "inr",
            a,
            &package,
        ),
    )
    .await;
    ok(&app, &refund_event("evt_a_r3", "ch_a", "pi_a", 49900)).await;
    ok(&app, &refund_event("evt_b_r3", "ch_b", "pi_b", 49900)).await;

    let state = |p: &Value| {
        json!({
            "status": p["status"], "amount_refunded": p["amount_refunded"],
            "credits_reversed": p["credits_reversed"], "credits_owed": p["credits_owed"],
            "credits_collected": p["credits_collected"],
        })
    };
    let pa = state(&payment(&app, &sa).await);
    let pb = state(&payment(&app, &sb).await);
    assert_eq!(
        pa,
        json!({"status": "refunded", "amount_refunded": 49900, "credits_reversed": 120,
               "credits_owed": 0, "credits_collected": 0})
    );
    assert_eq!(pa, pb);
    let (ba, bb) = (app.balance(a).await, app.balance(b).await);
    assert_eq!(
        ba,
        json!({"balance": 0, "held": 0, "available": 0, "owed": 0})
    );
    assert_eq!(ba, bb);
    let moves = |items: Vec<Value>| {
        let mut v: Vec<(String, i64)> = items
            .iter()
            .map(|i| {
                (
                    i["kind"].as_str().unwrap().to_owned(),
                    i["amount"].as_i64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let la = moves(ledger(&app, a).await);
    assert_eq!(
        la,
        vec![
            ("purchase".to_owned(), 120),
            ("refund_reversal".to_owned(), -120)
        ]
    );
    assert_eq!(la, moves(ledger(&app, b).await));
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn a_refunded_payment_is_never_marked_paid_again() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let session = checkout(&app, user, &package).await;
    let paid = session_event(
        "evt_c1",
        COMPLETED,
        &session,
        "pi_c",
        Some(49900),
        "inr",
        user,
        &package,
    );
    ok(&app, &paid).await;
    ok(&app, &refund_event("evt_c_r1", "ch_c", "pi_c", 24950)).await;
    assert_eq!(
        payment(&app, &session).await["status"],
        "partially_refunded"
    );
    assert_eq!(app.balance(user).await["available"], 60);
    // A late async success for the same session.
    ok(
        &app,
        &session_event(
            "evt_c_async",
            ASYNC_OK,
            &session,
            "pi_c",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    assert_eq!(
        payment(&app, &session).await["status"],
        "partially_refunded"
    );
    assert_eq!(app.balance(user).await["available"], 60);
    // The first event again after the clean-up forgot its id.
    app.db()
        .await
        .execute("DELETE FROM stripe_events WHERE id = 'evt_c1'", &[])
        .await
        .unwrap();
    ok(&app, &paid).await;
    assert_eq!(
        payment(&app, &session).await["status"],
        "partially_refunded"
    );
    assert_eq!(app.balance(user).await["available"], 60);
    // Fully refunded: still never paid again.
    ok(&app, &refund_event("evt_c_r2", "ch_c", "pi_c", 49900)).await;
    assert_eq!(payment(&app, &session).await["status"], "refunded");
    ok(
        &app,
        &session_event(
            "evt_c_async2",
            ASYNC_OK,
            &session,
            "pi_c",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    app.db()
        .await
        .execute("DELETE FROM stripe_events WHERE id = 'evt_c1'", &[])
        .await
        .unwrap();
    ok(&app, &paid).await;
    let p = payment(&app, &session).await;
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["credits_reversed"], 120);
    assert_eq!(app.balance(user).await["available"], 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM transactions WHERE kind = 'purchase'"
        )
        .await,
        1
    );
    stripe.stop(false).await;
    app.finish().await;
}

async fn register(app: &TestApp, user: UserId) {
    let client = app.nats_client().await;
    let js = async_nats::jetstream::new(client.clone());
    let gateway = platform::auth::InternalAuth::development("gateway").unwrap();
    let bus = platform::nats::Bus::new(
        client,
        gateway.clone(),
        "",
        std::time::Duration::from_secs(2),
    );
    platform::nats::ensure_stream(&bus, "gateway")
        .await
        .unwrap();
    let e = EventEnvelope::new(
        "gateway",
        "gateway.user.registered",
        1,
        UserRegistered {
            user_id: user,
            email: "owes@example.com".into(),
            display_name: "Owes".into(),
        },
    );
    let mut headers = async_nats::HeaderMap::new();
    let id = e.id.to_string();
    headers.insert("Nats-Msg-Id", id.as_str());
    let payload = serde_json::to_vec(&e).unwrap();
    gateway.sign_event(&mut headers, &e.subject(), &id, &payload);
    js.publish_with_headers(e.subject(), headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn adjust(app: &TestApp, admin: &str, user: UserId, amount: i64, key: &str) -> Value {
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(admin),
            Some(key),
            &json!({"user_id": user, "amount": amount, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn owed_credits_are_collected_from_the_next_grants() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let user = UserId::new();
    let s1 = checkout(&app, user, &package).await;
    ok(
        &app,
        &session_event(
            "evt_d1",
            COMPLETED,
            &s1,
            "pi_d1",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    spend(&app, user, 100).await;
    ok(&app, &refund_event("evt_d_r", "ch_d1", "pi_d1", 49900)).await;
    // 20 taken back, 100 owed.
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 0, "held": 0, "available": 0, "owed": 100})
    );
    // An admin adjustment of 30: all of it goes to the debt, never more.
    let admin = app.admin_token();
    let m = adjust(&app, &admin, user, 30, "adj-1").await;
    assert_eq!(m["amount"], 30);
    assert_eq!(m["collected"], 30);
    assert_eq!(m["available"], 0);
    assert_eq!(app.balance(user).await["owed"], 70);
    // The same request again collects nothing more.
    let again = adjust(&app, &admin, user, 30, "adj-1").await;
    assert_eq!(again, m);
    assert_eq!(app.balance(user).await["owed"], 70);
    // A debit collects nothing (and the wallet never goes negative).
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&admin),
            Some("adj-neg"),
            &json!({"user_id": user, "amount": -1, "reason": "debit"}),
        )
        .await;
    assert_eq!(error_code(r).await.1, "insufficient_credits");
    // The welcome grant (20 credits by default) goes to the debt too.
    register(&app, user).await;
    assert!(
        wait_until(Duration::from_secs(15), || async {
            app.balance(user).await["owed"] == 50
        })
        .await,
        "the welcome grant did not collect"
    );
    assert_eq!(app.balance(user).await["available"], 0);
    // The next purchase: 120 granted, the remaining 50 collected.
    let s2 = checkout(&app, user, &package).await;
    ok(
        &app,
        &session_event(
            "evt_d2",
            COMPLETED,
            &s2,
            "pi_d2",
            Some(49900),
            "inr",
            user,
            &package,
        ),
    )
    .await;
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 70, "held": 0, "available": 70, "owed": 0})
    );
    // Nothing owed any more: the next grant stays whole.
    adjust(&app, &admin, user, 10, "adj-2").await;
    assert_eq!(app.balance(user).await["available"], 80);

    // Each collection is a movement of its own, naming the payment.
    let items = ledger(&app, user).await;
    let collections: Vec<&Value> = items
        .iter()
        .filter(|i| i["kind"] == "debt_collection")
        .collect();
    let amounts: Vec<i64> = collections
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![-50, -20, -30], "{items:?}");
    for c in &collections {
        assert_eq!(c["account"], "wallet");
        assert!(
            c["memo"].as_str().unwrap().contains(&s1),
            "the memo names the payment: {c}"
        );
    }
    let p1 = payment(&app, &s1).await;
    assert_eq!(p1["credits_reversed"], 20);
    assert_eq!(p1["credits_owed"], 0);
    assert_eq!(p1["credits_collected"], 100);
    assert_eq!(p1["status"], "refunded");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM transactions WHERE kind = 'debt_collection' AND idempotency_key <> ''"
        )
        .await,
        3
    );
    stripe.stop(false).await;
    app.finish().await;
}

#[tokio::test]
async fn a_refund_racing_its_payment_is_never_lost() {
    let (app, _recorded, stripe) = stripe_app().await;
    let package = create_package(&app).await;
    let mut cases = vec![];
    for i in 0..6 {
        let user = UserId::new();
        let session = checkout(&app, user, &package).await;
        cases.push((i, user, session));
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, user, session) in &cases {
        let intent = format!("pi_race_{i}");
        let bodies = [
            session_event(
                &format!("evt_race_paid_{i}"),
                COMPLETED,
                session,
                &intent,
                Some(49900),
                "inr",
                *user,
                &package,
            ),
            refund_event(
                &format!("evt_race_r1_{i}"),
                &format!("ch_race_{i}"),
                &intent,
                24950,
            ),
            refund_event(
                &format!("evt_race_r2_{i}"),
                &format!("ch_race_{i}"),
                &intent,
                49900,
            ),
        ];
        for body in bodies {
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
    }
    while let Some(s) = set.join_next().await {
        assert_eq!(s.unwrap(), 200);
    }
    for (_, user, session) in &cases {
        let p = payment(&app, session).await;
        assert_eq!(p["status"], "refunded", "{p}");
        assert_eq!(p["credits_reversed"], 120, "{p}");
        assert_eq!(
            app.balance(*user).await,
            json!({"balance": 0, "held": 0, "available": 0, "owed": 0})
        );
    }
    stripe.stop(false).await;
    app.finish().await;
}
