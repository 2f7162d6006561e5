use crate::helpers::*;
use common::event::UserRegistered;
use common::{EventEnvelope, UserId};
use std::time::Duration;
use testkit::wait_until;

async fn publish(
    js: &async_nats::jetstream::Context,
    e: &EventEnvelope<UserRegistered>,
    msg_id: &str,
) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers(e.subject(), headers, serde_json::to_vec(e).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test]
async fn welcome_credits_are_granted_once_however_often_registration_is_delivered() {
    let app = spawn_with(Options {
        overrides: vec![("credits.welcome_grant", "25".into())],
        ..Default::default()
    })
    .await;
    let js = async_nats::jetstream::new(app.nats_client().await);
    let stream = platform::nats::ensure_stream(&js, "gateway").await.unwrap();
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
        wait_until(Duration::from_secs(20), || {
            let js = js.clone();
            async move {
                let Ok(s) = js.get_stream("EVT_GATEWAY").await else {
                    return false;
                };
                let Ok(mut c) = s
                    .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                        "pricing-welcome",
                    )
                    .await
                else {
                    return false;
                };
                let Ok(info) = c.info().await else {
                    return false;
                };
                info.ack_floor.stream_sequence >= 5 && info.num_ack_pending == 0
            }
        })
        .await,
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
