//! Conditions a service reports as events: a social channel whose token a
//! network refused is an incident until social says it was reconnected.

use crate::support::{self, Options};
use common::subjects::social;
use platform::auth::InternalAuth;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// Publishes `data` as a social event, signed as social would sign it.
async fn publish(
    bus: &platform::nats::Bus,
    event_type: &str,
    data: serde_json::Value,
    at: chrono::DateTime<chrono::Utc>,
) {
    let mut env = common::EventEnvelope::new(social::SERVICE, event_type, 1, data);
    env.occurred_at = at;
    let payload = serde_json::to_vec(&env).unwrap();
    let id = env.id.to_string();
    let subject = bus.subject(&env.subject());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(common::subjects::headers::MSG_ID, id.as_str());
    bus.auth.sign_event(&mut headers, &subject, &id, &payload);
    platform::nats::publish_event(
        &bus.js,
        subject,
        headers,
        payload.into(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_channel_credentials_are_an_incident_until_the_channel_is_reconnected() {
    let w = support::spawn(Options::default()).await;
    let client = async_nats::connect(&w.nats_url).await.unwrap();
    let bus = platform::nats::Bus::new(
        client,
        InternalAuth::development(social::SERVICE).unwrap(),
        "",
        Duration::from_secs(5),
    );
    platform::nats::ensure_stream(&bus, social::SERVICE)
        .await
        .unwrap();
    w.wait_watching().await;
    let channel = Uuid::new_v4();
    let fp = format!("channel_credentials:social:{channel}");
    let t0 = chrono::Utc::now();
    publish(
        &bus,
        social::EVT_CREDENTIALS_EXPIRED,
        json!({"channel_id": channel, "network": "facebook",
               "reason": "Error validating access token: Session has expired"}),
        t0,
    )
    .await;
    let row = w
        .wait_incident(&fp, "open", Duration::from_secs(20))
        .await
        .expect("an incident for the channel");
    assert_eq!(row.severity, "warning");
    assert_eq!(row.evidence["network"], "facebook");
    assert!(row.evidence["reason"]
        .as_str()
        .unwrap()
        .contains("Session has expired"));
    let title: String =
        w.db.query_one(
            "SELECT title FROM monitor.incidents WHERE id = $1",
            &[&row.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        title.contains("must be reconnected") && title.contains("facebook"),
        "{title}"
    );
    // The same report again and a reconnection older than the report change
    // nothing: still one incident, still open.
    publish(
        &bus,
        social::EVT_CREDENTIALS_EXPIRED,
        json!({"channel_id": channel, "network": "facebook", "reason": "again"}),
        t0,
    )
    .await;
    publish(
        &bus,
        social::EVT_CHANNEL_RECONNECTED,
        json!({"channel_id": channel, "network": "facebook"}),
        t0 - chrono::Duration::seconds(60),
    )
    .await;
    // Another channel's report is its own incident; it is cleared below
    // and seen cleared before the first, so both events were consumed.
    let other = Uuid::new_v4();
    let other_fp = format!("channel_credentials:social:{other}");
    publish(
        &bus,
        social::EVT_CREDENTIALS_EXPIRED,
        json!({"channel_id": other}),
        t0,
    )
    .await;
    w.wait_incident(&other_fp, "open", Duration::from_secs(20))
        .await
        .expect("the other channel's incident");
    publish(
        &bus,
        social::EVT_CHANNEL_RECONNECTED,
        json!({"channel_id": other}),
        chrono::Utc::now(),
    )
    .await;
    w.wait_incident(&other_fp, "resolved", Duration::from_secs(20))
        .await
        .expect("the other channel's incident resolved");
    let rows = w.incidents(&fp).await;
    assert_eq!(
        rows.len(),
        1,
        "{:?}",
        rows.iter().map(|r| &r.state).collect::<Vec<_>>()
    );
    assert_eq!(
        rows[0].state, "open",
        "an older reconnection does not clear it"
    );
    // Reconnected now: resolved by the monitor.
    publish(
        &bus,
        social::EVT_CHANNEL_RECONNECTED,
        json!({"channel_id": channel, "network": "facebook"}),
        chrono::Utc::now(),
    )
    .await;
    let resolved = w
        .wait_incident(&fp, "resolved", Duration::from_secs(20))
        .await
        .expect("resolved once reconnected");
    assert_eq!(resolved.id, row.id);
    let by: String =
        w.db.query_one(
            "SELECT resolved_by FROM monitor.incidents WHERE id = $1",
            &[&row.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by, "monitor");
    let left: i64 =
        w.db.query_one("SELECT count(*) FROM monitor.reported", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(left, 0);
}
