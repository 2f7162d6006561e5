use crate::helpers::*;
use common::subjects::pricing as s;
use common::UserId;
use platform::nats::request;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::wait_until;

async fn unpublished(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn spending_publishes_spent_and_low_balance_events() {
    let app = spawn_app().await;
    let user = UserId::new();
    app.fund(user, 15).await;
    let client = app.nats_client().await;
    let h: Value = request(
        &client,
        s::CREDITS_HOLD,
        &app.ctx(user, Some("h")),
        &json!({"amount": 10, "reference": "sess-9"}),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let _: Value = request(
        &client,
        s::CREDITS_CAPTURE,
        &app.ctx(user, Some("c")),
        &json!({"hold_id": h["hold_id"], "amount": 10}),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let url = app.nats_url.clone();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            stream_messages(&url, "EVT_PRICING").await.len() >= 3
        })
        .await
    );
    let msgs = stream_messages(&url, "EVT_PRICING").await;
    let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec![
            "pricing.credits.granted",
            "pricing.credits.low",
            "pricing.credits.spent"
        ]
    );
    let spent = &msgs[2];
    assert_eq!(spent["data"]["amount"], 10);
    assert_eq!(spent["data"]["reference"], "sess-9");
    assert_eq!(spent["data"]["available"], 5);
    assert_eq!(msgs[1]["data"]["available"], 5);
    assert_eq!(msgs[1]["data"]["threshold"], 10);
    app.finish().await;
}

#[tokio::test]
async fn an_event_survives_a_nats_outage_and_a_restart_and_is_delivered_once() {
    let mut app = spawn_app().await;
    let mut nats = app.nats.take().unwrap();
    nats.stop();
    let user = UserId::new();
    // The grant commits while NATS is down: the event waits in the outbox.
    app.fund(user, 25).await;
    assert_eq!(unpublished(&app).await, 1);
    app.stop().await;
    assert_eq!(
        unpublished(&app).await,
        1,
        "nothing could be relayed while NATS was down"
    );
    nats.resume().unwrap();
    let db_guard = app.db_guard.take();
    let restarted = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        nats_url: Some(nats.url()),
        ..Default::default()
    })
    .await;
    assert!(
        wait_until(Duration::from_secs(15), || async {
            unpublished(&restarted).await == 0
        })
        .await
    );
    let msgs = stream_messages(&nats.url(), "EVT_PRICING").await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["type"], "pricing.credits.granted");
    assert_eq!(msgs[0]["data"]["user_id"], user.to_string());
    assert_eq!(msgs[0]["data"]["amount"], 25);
    restarted.finish().await;
    drop(db_guard);
}
