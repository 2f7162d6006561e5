use crate::helpers::*;
use async_nats::jetstream;
use futures_util::StreamExt;
use std::time::Duration;
use testkit::wait_until;

/// Reads every message currently in the gateway's event stream.
async fn stream_messages(nats_url: &str) -> Vec<serde_json::Value> {
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = jetstream::new(client);
    let Ok(stream) = js.get_stream("EVT_GATEWAY").await else {
        return vec![];
    };
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = vec![];
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(m)) = batch.next().await {
        let mut v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        v["_msg_id"] = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|x| x.as_str().to_owned())
            .into();
        out.push(v);
    }
    out
}

async fn unpublished(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM gateway.outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn registration_publishes_a_versioned_event() {
    let app = spawn_app().await;
    let reg = app.register("event@example.com").await;
    let id = reg["user"]["id"].as_str().unwrap().to_owned();
    let url = app.nats_url.clone();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            !stream_messages(&url).await.is_empty()
        })
        .await
    );
    let msgs = stream_messages(&app.nats_url).await;
    assert_eq!(msgs.len(), 1);
    let e = &msgs[0];
    assert_eq!(e["type"], "gateway.user.registered");
    assert_eq!(e["version"], 1);
    assert_eq!(e["source"], "gateway");
    assert_eq!(e["data"]["user_id"], id.as_str());
    assert_eq!(e["data"]["email"], "event@example.com");
    assert_eq!(e["_msg_id"], e["id"], "Nats-Msg-Id must be the event id");
}

#[tokio::test]
async fn an_event_waits_out_a_nats_outage_and_is_delivered_once() {
    let mut app = spawn_app().await;
    let mut nats = app.nats.take().unwrap();
    assert!(wait_until(Duration::from_secs(5), || app.ready()).await);
    nats.stop();
    // The registration commits although NATS is down ...
    let reg = app.register("offline@example.com").await;
    let id = reg["user"]["id"].as_str().unwrap().to_owned();
    // ... and its event waits in the outbox.
    assert_eq!(unpublished(&app).await, 1);
    nats.resume().unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || async {
            unpublished(&app).await == 0
        })
        .await,
        "the relay did not deliver after NATS returned"
    );
    let msgs = stream_messages(&nats.url()).await;
    let for_user: Vec<_> = msgs
        .iter()
        .filter(|m| m["data"]["user_id"] == id.as_str())
        .collect();
    assert_eq!(for_user.len(), 1);

    // A relay that crashed after publishing but before recording it publishes
    // again: JetStream drops the duplicate because Nats-Msg-Id is the event id.
    app.db()
        .await
        .execute("UPDATE gateway.outbox SET published_at = NULL", &[])
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            unpublished(&app).await == 0
        })
        .await
    );
    let msgs = stream_messages(&nats.url()).await;
    assert_eq!(
        msgs.iter()
            .filter(|m| m["data"]["user_id"] == id.as_str())
            .count(),
        1
    );
}

#[tokio::test]
async fn graceful_shutdown_leaves_no_event_behind() {
    let mut app = spawn_with(Options {
        // A slow poll: only the commit signal or the shutdown flush can deliver in time.
        overrides: vec![("outbox.poll_interval_ms", "60000".into())],
        ..Default::default()
    })
    .await;
    assert!(wait_until(Duration::from_secs(5), || app.ready()).await);
    app.register("bye@example.com").await;
    let nats_url = app.nats_url.clone();
    let db = app.db().await;
    let server = app.nats.take(); // keep NATS up past the app's shutdown
    app.stop().await;
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM gateway.outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    assert_eq!(stream_messages(&nats_url).await.len(), 1);
    drop(server);
}
