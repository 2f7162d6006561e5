use crate::helpers::*;
use common::subjects::pricing as s;
use common::{ErrorCode, UserId};
use platform::auth::InternalAuth;
use platform::nats::request;
use serde_json::{json, Value};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn five_hundred_concurrent_holds_on_100_credits_exactly_14_succeed() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 100).await;
    let client = app.nats_client().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..500 {
        let client = client.clone();
        let ctx = app.ctx(user, Some(&format!("hold-{i}")));
        set.spawn(async move {
            request::<Value, Value>(
                &client,
                s::CREDITS_HOLD,
                &ctx,
                &json!({"amount": 7, "reference": format!("s{i}")}),
                T,
            )
            .await
        });
    }
    let (mut ok, mut insufficient, mut other) = (0, 0, vec![]);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(v) => {
                assert_eq!(v["amount"], 7);
                assert!(v["balance"]["available"].as_i64().unwrap() >= 0);
                ok += 1;
            }
            Err(e) if e.code == ErrorCode::InsufficientCredits => insufficient += 1,
            Err(e) => other.push(format!("{e:?}")),
        }
    }
    assert!(other.is_empty(), "unexpected errors: {other:?}");
    assert_eq!(ok, 14);
    assert_eq!(insufficient, 486);
    let b = app.balance(user).await;
    assert_eq!(
        b,
        json!({"balance": 100, "held": 98, "available": 2, "owed": 0})
    );
    app.finish().await;
}

#[tokio::test]
async fn the_same_idempotency_key_moves_credits_once_and_answers_the_same() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 50).await;
    let client = app.nats_client().await;
    let ctx = app.ctx(user, Some("k-1"));
    let body = json!({"amount": 20, "reference": "session-1"});
    let first: Value = request(&client, s::CREDITS_HOLD, &ctx, &body, T)
        .await
        .unwrap();
    let second: Value = request(&client, s::CREDITS_HOLD, &ctx, &body, T)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(app.balance(user).await["available"], 30);
    // Concurrent repeats of one key: still one movement.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (client, ctx) = (client.clone(), app.ctx(user, Some("k-2")));
        set.spawn(async move {
            request::<Value, Value>(&client, s::CREDITS_HOLD, &ctx, &json!({"amount": 5}), T)
                .await
                .unwrap()
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(v) = set.join_next().await {
        ids.insert(v.unwrap()["hold_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.balance(user).await["available"], 25);
    // Same key, different request: 409 idempotency_conflict, nothing moves.
    let e = request::<Value, Value>(&client, s::CREDITS_HOLD, &ctx, &json!({"amount": 21}), T)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::IdempotencyConflict);
    // Capture twice with one key: one capture.
    let hold = first["hold_id"].clone();
    let cctx = app.ctx(user, Some("cap-1"));
    let c1: Value = request(
        &client,
        s::CREDITS_CAPTURE,
        &cctx,
        &json!({"hold_id": hold, "amount": 12}),
        T,
    )
    .await
    .unwrap();
    let c2: Value = request(
        &client,
        s::CREDITS_CAPTURE,
        &cctx,
        &json!({"hold_id": hold, "amount": 12}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(c1, c2);
    assert_eq!(c1["captured"], 12);
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 38, "held": 5, "available": 33, "owed": 0})
    );
    let n: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM transactions WHERE kind = 'capture'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // A request that moves credits without a key is refused.
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, None),
        &json!({"amount": 1}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
    app.finish().await;
}

#[tokio::test]
async fn capture_takes_up_to_the_hold_and_releases_the_rest() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 100).await;
    let client = app.nats_client().await;
    let h: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h1")),
        &json!({"amount": 30}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 100, "held": 30, "available": 70, "owed": 0})
    );
    let id = h["hold_id"].clone();
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("c0")),
        &json!({"hold_id": id, "amount": 31}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::AmountExceedsHold);
    // Another user cannot touch it.
    let other = UserId::new();
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(other, Some("c0")),
        &json!({"hold_id": id, "amount": 1}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::HoldNotFound);
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("c-x")),
        &json!({"hold_id": UserId::new(), "amount": 1}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::HoldNotFound);
    let c: Value = request(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("c1")),
        &json!({"hold_id": id, "amount": 12}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(c["status"], "captured");
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 88, "held": 0, "available": 88, "owed": 0})
    );
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_RELEASE,
        &app.ctx(user, Some("r1")),
        &json!({"hold_id": id}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    // Release gives everything back.
    let h2: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h2")),
        &json!({"amount": 88}),
        T,
    )
    .await
    .unwrap();
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h3")),
        &json!({"amount": 1}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InsufficientCredits);
    let r: Value = request(
        &client,
        s::CREDITS_RELEASE,
        &app.ctx(user, Some("r2")),
        &json!({"hold_id": h2["hold_id"]}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(r["status"], "released");
    let b: Value = request(
        &client,
        s::CREDITS_BALANCE,
        &app.ctx(user, None),
        &json!({}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(
        b,
        json!({"balance": 88, "held": 0, "available": 88, "owed": 0})
    );
    // Revenue got exactly the captured 12.
    let revenue: i64 = app
        .db()
        .await
        .query_one("SELECT sum(e.amount)::bigint FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.kind = 'revenue'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(revenue, 12);
    app.finish().await;
}

#[tokio::test]
async fn the_sweeper_releases_expired_holds() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 10).await;
    let client = app.nats_client().await;
    let h: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h")),
        &json!({"amount": 10, "ttl_secs": 1}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(app.balance(user).await["available"], 0);
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            app.balance(user).await["available"] == 10
        })
        .await,
        "the expired hold was not released"
    );
    let e = request::<Value, Value>(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("c")),
        &json!({"hold_id": h["hold_id"], "amount": 1}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::HoldExpired);
    let status: String = app
        .db()
        .await
        .query_one("SELECT status FROM holds", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "expired");
    app.finish().await;
}

#[tokio::test]
async fn balance_ledger_and_http_holds() {
    let app = spawn_app().await;
    let user = UserId::new();
    let token = app.token(user);
    let r = app
        .http
        .get(app.url("/api/v1/credits/balance"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "unauthorized".into()));
    app.fund(user, 40).await;
    // Internal endpoints take only a spending service's credentials: not a
    // user's token as the gateway forwards it, and not an unlisted service's.
    let service = app.service_token(user);
    for refused in [
        token.clone(),
        InternalAuth::development("charts")
            .unwrap()
            .sign("pricing", None)
            .unwrap(),
    ] {
        let r = app
            .post(
                "/internal/v1/credits/holds",
                Some(&refused),
                Some("refused"),
                &json!({"amount": 5}),
            )
            .await;
        assert_eq!(error_code(r).await, (403, "forbidden".into()));
    }
    let r = app
        .post(
            "/internal/v1/credits/holds",
            Some(&service),
            None,
            &json!({"amount": 5}),
        )
        .await;
    assert_eq!(error_code(r).await.0, 400);
    for i in 0..3 {
        let r = app
            .post(
                "/internal/v1/credits/holds",
                Some(&service),
                Some(&format!("hh{i}")),
                &json!({"amount": 5}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let h: Value = r.json().await.unwrap();
        let r = app
            .post(
                &format!(
                    "/internal/v1/credits/holds/{}/capture",
                    h["hold_id"].as_str().unwrap()
                ),
                Some(&service),
                Some(&format!("cc{i}")),
                &json!({"amount": 2}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        app.balance(user).await,
        json!({"balance": 34, "held": 0, "available": 34, "owed": 0})
    );
    // The ledger, newest first, in pages.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/credits/ledger?limit=4&cursor={c}"),
            None => "/api/v1/credits/ledger?limit=4".to_owned(),
        };
        let page: Value = app.get(&path, &token).await.json().await.unwrap();
        for i in page["items"].as_array().unwrap() {
            seen.push(i["entry_id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // 1 adjustment + 3 holds x 2 legs + 3 captures x 2 user legs (held out, wallet back).
    assert_eq!(seen.len(), 13);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
    // Another user's ledger is theirs alone.
    let other: Value = app
        .get("/api/v1/credits/ledger", &app.token(UserId::new()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["items"].as_array().unwrap().len(), 0);
    // Admin adjustments need a reason, and cannot overdraw.
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&app.admin_token()),
            Some("a1"),
            &json!({"user_id": user, "amount": -5, "reason": ""}),
        )
        .await;
    assert_eq!(error_code(r).await.0, 422);
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&app.admin_token()),
            Some("a2"),
            &json!({"user_id": user, "amount": -35, "reason": "correction"}),
        )
        .await;
    assert_eq!(error_code(r).await, (402, "insufficient_credits".into()));
    let r = app
        .post(
            "/api/v1/admin/pricing/adjustments",
            Some(&token),
            Some("a3"),
            &json!({"user_id": user, "amount": 1000, "reason": "me"}),
        )
        .await;
    assert_eq!(error_code(r).await.0, 403);
    let r = app
        .post(
            "/api/v1/admin/pricing/refunds",
            Some(&app.admin_token()),
            Some("rf"),
            &json!({"user_id": user, "amount": 6, "reason": "session failed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.balance(user).await["available"], 40);
    app.finish().await;
}

#[tokio::test]
async fn the_database_refuses_unbalanced_edited_or_negative_ledgers() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 5).await;
    let mut db = app.db().await;
    let (wallet, txn): (i64, uuid::Uuid) = {
        let r = db
            .query_one("SELECT a.id, e.transaction_id FROM accounts a JOIN entries e ON e.account_id = a.id WHERE a.kind = 'wallet'", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    // An unbalanced movement fails at commit (deferred constraint trigger).
    let tx = db.transaction().await.unwrap();
    let id = uuid::Uuid::now_v7();
    tx.execute("INSERT INTO transactions (id, idempotency_key, kind, request_hash, result) VALUES ($1, 'forged', 'x', 'x', '{}')", &[&id]).await.unwrap();
    tx.execute(
        "INSERT INTO entries (transaction_id, account_id, amount) VALUES ($1, $2, 1000)",
        &[&id, &wallet],
    )
    .await
    .unwrap();
    assert!(
        tx.commit().await.is_err(),
        "an unbalanced movement committed"
    );
    // Entries are append-only.
    assert!(db
        .execute(
            "UPDATE entries SET amount = amount * 10 WHERE transaction_id = $1",
            &[&txn]
        )
        .await
        .is_err());
    assert!(db
        .execute("DELETE FROM entries WHERE transaction_id = $1", &[&txn])
        .await
        .is_err());
    // A wallet cannot go negative even by a direct update.
    assert!(db
        .execute("UPDATE accounts SET balance = -1 WHERE id = $1", &[&wallet])
        .await
        .is_err());
    assert_eq!(app.balance(user).await["available"], 5);
    app.finish().await;
}
