use crate::helpers::*;
use common::event::UserRegistered;
use common::{EventEnvelope, UserId};
use platform::auth::InternalAuth;
use std::time::Duration;
use testkit::wait_until;

/// Publishes a registration signed by `signer` (the gateway, or an impostor).
async fn publish_as(
    js: &async_nats::jetstream::Context,
    signer: Option<&InternalAuth>,
    e: &EventEnvelope<UserRegistered>,
    msg_id: &str,
) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    let payload = serde_json::to_vec(e).unwrap();
    if let Some(s) = signer {
        s.sign_event(&mut headers, &e.subject(), msg_id, &payload);
    }
    js.publish_with_headers(e.subject(), headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn publish(
    js: &async_nats::jetstream::Context,
    e: &EventEnvelope<UserRegistered>,
    msg_id: &str,
) {
    let gateway = InternalAuth::development("gateway").unwrap();
    publish_as(js, Some(&gateway), e, msg_id).await;
}

fn bus(app: &TestApp, client: async_nats::Client) -> platform::nats::Bus {
    let _ = app;
    platform::nats::Bus::new(
        client,
        InternalAuth::development("pricing").unwrap(),
        "",
        Duration::from_secs(2),
    )
}

/// Waits until the welcome consumer has acknowledged (or dead-lettered) `n` deliveries.
async fn consumed(js: &async_nats::jetstream::Context, n: u64) -> bool {
    wait_until(Duration::from_secs(20), || {
        let js = js.clone();
        async move {
            let Ok(s) = js.get_stream("EVT_GATEWAY").await else {
                return false;
            };
            let Ok(mut c) = s
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>("pricing-welcome")
                .await
            else {
                return false;
            };
            let Ok(info) = c.info().await else {
                return false;
            };
            info.ack_floor.stream_sequence >= n && info.num_ack_pending == 0
        }
    })
    .await
}

#[tokio::test]
async fn welcome_credits_are_granted_once_however_often_registration_is_delivered() {
    let app = spawn_with(Options {
        overrides: vec![("credits.welcome_grant", "25".into())],
        ..Default::default()
    })
    .await;
    let client = app.nats_client().await;
    let js = async_nats::jetstream::new(client.clone());
    let stream = platform::nats::ensure_stream(&bus(&app, client), "gateway")
        .await
        .unwrap();
    let user = UserId::new();
    let e = EventEnvelope::new(
        "gateway",
        "gateway.user.registered",
        1,
        UserRegistered {
            user_id: user,
            email: "new@example.com".into(),
            display_name: "New".into(),
        },
    );
    // The same event three times (as redeliveries past the dedup window would
    // arrive), and a second event for the same user.
    for i in 0..3 {
        publish(&js, &e, &format!("{}-{i}", e.id)).await;
    }
    let mut again = e.clone();
    again.id = common::EventId::new();
    publish(&js, &again, &again.id.to_string()).await;
    // A second user gets their own grant.
    let other = UserId::new();
    let e2 = EventEnvelope::new(
        "gateway",
        "gateway.user.registered",
        1,
        UserRegistered {
            user_id: other,
            email: "b@example.com".into(),
            display_name: "B".into(),
        },
    );
    publish(&js, &e2, &e2.id.to_string()).await;
    // Wait until the consumer has acknowledged all five deliveries.
    let _ = stream;
    assert!(
        consumed(&js, 5).await,
        "the welcome consumer did not process every delivery"
    );
    assert_eq!(app.balance(user).await["available"], 25);
    assert_eq!(app.balance(other).await["available"], 25);
    let grants: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM transactions WHERE kind = 'welcome'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(grants, 2);
    app.finish().await;
}

#[tokio::test]
async fn registrations_not_signed_by_the_gateway_grant_nothing_and_are_dead_lettered() {
    let app = spawn_with(Options {
        overrides: vec![("credits.welcome_grant", "25".into())],
        ..Default::default()
    })
    .await;
    let client = app.nats_client().await;
    let js = async_nats::jetstream::new(client.clone());
    let bus = bus(&app, client);
    platform::nats::ensure_stream(&bus, "gateway")
        .await
        .unwrap();
    let user = UserId::new();
    let e = EventEnvelope::new(
        "gateway",
        "gateway.user.registered",
        1,
        UserRegistered {
            user_id: user,
            email: "mint@example.com".into(),
            display_name: "Mint".into(),
        },
    );
    // Anyone connected to NATS: no signature at all.
    publish_as(&js, None, &e, "forged-1").await;
    // Another service's key, claiming to be the gateway.
    let impostor = InternalAuth::development("charts").unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "forged-2");
    let payload = serde_json::to_vec(&e).unwrap();
    impostor.sign_event(&mut headers, &e.subject(), "forged-2", &payload);
    headers.insert("Jf-Producer", "gateway");
    js.publish_with_headers(e.subject(), headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        consumed(&js, 2).await,
        "the forged events were not consumed"
    );
    assert_eq!(app.balance(user).await["available"], 0);
    // Both are in the dead-letter stream, with the reason.
    let dlq = js.get_stream("DLQ").await.unwrap();
    let first = dlq.get_raw_message(1).await.unwrap();
    let error = first
        .headers
        .get("Jf-Dlq-Error")
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    assert!(error.contains("not signed"), "{error}");
    let mut dlq = dlq;
    assert_eq!(dlq.info().await.unwrap().state.messages, 2);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jyotiflow_consumer_dead_letters_total{")
                && l.ends_with("consumer=\"pricing-welcome\"} 2")),
        "{metrics}"
    );
    app.finish().await;
}
