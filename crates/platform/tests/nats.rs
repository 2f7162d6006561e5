//! Platform messaging against a real (private) nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::{ErrorCode, Principal, Role, UserId};
use futures_util::StreamExt;
use platform::auth::InternalAuth;
use platform::metrics::Metrics;
use platform::nats::{request, Bus, CallContext, ConsumerSpec, RpcServer};
use platform::AppError;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use testkit::NatsServer;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Add {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Sum {
    sum: i64,
    caller: Option<UserId>,
    request_id: Option<String>,
    idempotency_key: Option<String>,
}

fn bus(client: &async_nats::Client, service: &str, prefix: &str) -> Bus {
    Bus::new(
        client.clone(),
        InternalAuth::development(service).unwrap(),
        prefix,
        Duration::from_secs(2),
    )
}

/// A token the "client" service signs for calc.
fn token(user: Option<UserId>, roles: Vec<Role>) -> String {
    let p = user.map(|user_id| Principal { user_id, roles });
    InternalAuth::development("client")
        .unwrap()
        .sign("calc", p.as_ref())
        .unwrap()
}

fn signed() -> CallContext {
    CallContext::default().with_internal_token(token(None, vec![]))
}

async fn server(client: &async_nats::Client, name: &str) -> RpcServer {
    let mut rpc = RpcServer::start(
        bus(client, name, ""),
        name,
        "1.2.3",
        Metrics::new(name),
        Default::default(),
    )
    .await
    .unwrap();
    rpc.endpoint(
        "calc.sum.create",
        &["client"],
        |req, body: Add| async move {
            if body.a < 0 {
                return Err(AppError::new(ErrorCode::InsufficientCredits, "negative a"));
            }
            Ok(Sum {
                sum: body.a + body.b,
                caller: req.caller.principal.map(|p| p.user_id),
                request_id: req.request_id,
                idempotency_key: req.idempotency_key,
            })
        },
    )
    .await
    .unwrap();
    rpc
}

#[tokio::test]
async fn typed_request_reply_with_context_and_error_body() {
    let nats = NatsServer::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let rpc = server(&client, "calc").await;
    client.flush().await.unwrap();

    let user = UserId::new();
    let ctx = CallContext {
        request_id: Some("rid-1".into()),
        idempotency_key: Some("k-1".into()),
        internal_token: Some(token(Some(user), vec![Role::User])),
    };
    let s: Sum = request(
        &client,
        "calc.sum.create",
        &ctx,
        &Add { a: 2, b: 3 },
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(
        s,
        Sum {
            sum: 5,
            caller: Some(user),
            request_id: Some("rid-1".into()),
            idempotency_key: Some("k-1".into())
        }
    );

    let e = request::<_, Sum>(
        &client,
        "calc.sum.create",
        &signed(),
        &Add { a: -1, b: 0 },
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InsufficientCredits);
    assert_eq!(e.message, "negative a");

    // A malformed body is answered with malformed_json naming the field.
    let e = request::<_, Sum>(
        &client,
        "calc.sum.create",
        &signed(),
        &serde_json::json!({"a": "x", "b": 1}),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::MalformedJson, Some("a"))
    );

    // No token, a service not on the allow-list, and a token claiming to
    // be "client" but signed with another key are all refused.
    let e = request::<_, Sum>(
        &client,
        "calc.sum.create",
        &CallContext::default(),
        &Add { a: 1, b: 1 },
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized);
    let stranger = InternalAuth::development("stranger")
        .unwrap()
        .sign("calc", None)
        .unwrap();
    let e = request::<_, Sum>(
        &client,
        "calc.sum.create",
        &CallContext::default().with_internal_token(stranger),
        &Add { a: 1, b: 1 },
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let t = token(Some(user), vec![Role::Admin]);
    let parts: Vec<&str> = t.split('.').collect();
    let other = InternalAuth::development("stranger")
        .unwrap()
        .sign("calc", None)
        .unwrap();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        other.split('.').nth(2).unwrap()
    );
    let e = request::<_, Sum>(
        &client,
        "calc.sum.create",
        &CallContext::default().with_internal_token(forged),
        &Add { a: 1, b: 1 },
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidToken);

    let e = request::<_, Sum>(
        &client,
        "nobody.serves.this",
        &CallContext::default(),
        &Add { a: 1, b: 1 },
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable);
    rpc.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn instances_are_discoverable_through_the_service_api() {
    let nats = NatsServer::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let a = server(&client, "calc").await;
    let b = server(&client, "calc").await;
    client.flush().await.unwrap();

    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply("$SRV.PING.calc", inbox.clone(), "".into())
        .await
        .unwrap();
    let mut ids = vec![];
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(2), sub.next())
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["type"], "io.nats.micro.v1.ping_response");
        assert_eq!(v["name"], "calc");
        assert_eq!(v["version"], "1.2.3");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    let mut expected = vec![a.instance_id().to_owned(), b.instance_id().to_owned()];
    expected.sort();
    assert_eq!(ids, expected);

    // INFO names the endpoint and its queue group; STATS counts requests.
    let info = client
        .request(format!("$SRV.INFO.calc.{}", a.instance_id()), "".into())
        .await
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["endpoints"][0]["subject"], "calc.sum.create");
    assert_eq!(info["endpoints"][0]["queue_group"], "calc");
    assert_eq!(info["endpoints"][0]["metadata"]["callers"], "client");
    for _ in 0..10 {
        let _: Sum = request(
            &client,
            "calc.sum.create",
            &signed(),
            &Add { a: 1, b: 1 },
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    }
    let mut total = 0;
    for id in [a.instance_id(), b.instance_id()] {
        let s = client
            .request(format!("$SRV.STATS.calc.{id}"), "".into())
            .await
            .unwrap();
        let s: serde_json::Value = serde_json::from_slice(&s.payload).unwrap();
        assert_eq!(s["type"], "io.nats.micro.v1.stats_response");
        total += s["endpoints"][0]["num_requests"].as_u64().unwrap();
    }
    assert_eq!(
        total, 10,
        "the queue group shares the 10 requests between the instances"
    );
    a.drain(Duration::from_secs(2)).await;
    b.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn draining_finishes_requests_already_received() {
    let nats = NatsServer::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let mut rpc = RpcServer::start(
        bus(&client, "slow", ""),
        "slow",
        "1",
        Metrics::new("slow"),
        Default::default(),
    )
    .await
    .unwrap();
    {
        let handled = handled.clone();
        let started = started.clone();
        let release = release.clone();
        rpc.endpoint("slow.job.run", &["slow-client"], move |_req, n: u32| {
            let handled = handled.clone();
            let started = started.clone();
            let release = release.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                release.notified().await;
                handled.fetch_add(1, Ordering::SeqCst);
                Ok(n)
            }
        })
        .await
        .unwrap();
    }
    client.flush().await.unwrap();
    let caller = async_nats::connect(nats.url()).await.unwrap();
    let calls: Vec<_> = (0..20u32)
        .map(|n| {
            let caller = caller.clone();
            tokio::spawn(async move {
                bus(&caller, "slow-client", "")
                    .request_within::<_, u32>(
                        "slow.job.run",
                        None,
                        &CallContext::default(),
                        &n,
                        Duration::from_secs(10),
                    )
                    .await
            })
        })
        .collect();
    // Wait until every request has reached the handler, then drain while they are in flight.
    let s = started.clone();
    assert!(
        testkit::wait_until(Duration::from_secs(5), || {
            let s = s.clone();
            async move { s.load(Ordering::SeqCst) == 20 }
        })
        .await
    );
    let drain = tokio::spawn(rpc.drain(Duration::from_secs(10)));
    // Let the handlers finish; drain must wait for them and their replies.
    let releaser = {
        let release = release.clone();
        let handled = handled.clone();
        tokio::spawn(async move {
            while handled.load(Ordering::SeqCst) < 20 {
                release.notify_waiters();
                tokio::task::yield_now().await;
            }
        })
    };
    drain.await.unwrap();
    releaser.await.unwrap();
    let mut ok = 0;
    for c in calls {
        if c.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(
        ok, 20,
        "every request received before the drain was answered"
    );
    // After draining, nobody serves the subject.
    let e = bus(&caller, "slow-client", "")
        .request_within::<_, u32>(
            "slow.job.run",
            None,
            &CallContext::default(),
            &1u32,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable);
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Ping {
    n: u32,
}

/// Publishes one signed event the way the outbox relay does.
async fn publish_signed(bus: &Bus, service: &str, n: u32) {
    platform::nats::ensure_stream(bus, service).await.unwrap();
    let e =
        common::EventEnvelope::new(service, &format!("{service}.thing.happened"), 1, Ping { n });
    let payload = serde_json::to_vec(&e).unwrap();
    let subject = bus.subject(&e.subject());
    let id = e.id.to_string();
    let mut headers = platform::nats::event_headers(&id, &CallContext::default());
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

#[tokio::test]
async fn events_that_keep_failing_go_to_the_dead_letter_stream() {
    let nats = NatsServer::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let producer = bus(&client, "maker", "");
    let consumer = bus(&client, "taker", "");
    publish_signed(&producer, "maker", 7).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let metrics = Metrics::new("taker");
    let token = tokio_util::sync::CancellationToken::new();
    let mut spec = ConsumerSpec::new("maker", "taker-things", "evt.maker.>");
    spec.max_deliver = 3;
    spec.backoff = vec![Duration::from_millis(50)];
    let a = attempts.clone();
    let task = tokio::spawn(platform::nats::run_consumer(
        consumer.clone(),
        metrics.clone(),
        spec,
        token.clone(),
        move |_d: platform::nats::Delivery<Ping>| {
            let a = a.clone();
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                anyhow::bail!("the database said no")
            }
        },
    ));
    let js = async_nats::jetstream::new(client.clone());
    assert!(
        testkit::wait_until(Duration::from_secs(15), || {
            let js = js.clone();
            async move {
                match js.get_stream("DLQ").await {
                    Ok(mut s) => s
                        .info()
                        .await
                        .map(|i| i.state.messages == 1)
                        .unwrap_or(false),
                    Err(_) => false,
                }
            }
        })
        .await,
        "the event never reached the dead-letter stream"
    );
    // Exactly max_deliver attempts, no more, and the error travels with it.
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let dlq = js.get_stream("DLQ").await.unwrap();
    let m = dlq.get_raw_message(1).await.unwrap();
    assert_eq!(m.subject.as_str(), "dlq.taker-things");
    let header = |n: &str| m.headers.get(n).map(|v| v.as_str().to_owned());
    assert_eq!(
        header("Jf-Dlq-Error").as_deref(),
        Some("the database said no")
    );
    assert_eq!(header("Jf-Dlq-Deliveries").as_deref(), Some("3"));
    assert_eq!(
        header("Jf-Dlq-Subject").as_deref(),
        Some("evt.maker.thing.happened")
    );
    let text = metrics.encode();
    assert!(
        text.lines()
            .any(|l| l.starts_with("jyotiflow_consumer_dead_letters_total{")
                && l.ends_with("consumer=\"taker-things\"} 1")),
        "{text}"
    );
    // Nothing is redelivered afterwards.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn deployments_with_different_prefixes_do_not_see_each_other() {
    let nats = NatsServer::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    // Two deployments of the same services on one server.
    let blue = bus(&client, "calc", "blue");
    let mut blue_rpc = RpcServer::start(
        blue.clone(),
        "calc",
        "1",
        Metrics::new("calc"),
        Default::default(),
    )
    .await
    .unwrap();
    blue_rpc
        .endpoint("calc.sum.create", &["client"], |_req, b: Add| async move {
            Ok(b.a + b.b)
        })
        .await
        .unwrap();
    blue_rpc.sync(Duration::from_secs(2)).await;
    let blue_client = bus(&client, "client", "blue");
    let green_client = bus(&client, "client", "green");
    let sum: i64 = blue_client
        .request(
            "calc.sum.create",
            None,
            &CallContext::default(),
            &Add { a: 1, b: 2 },
        )
        .await
        .unwrap();
    assert_eq!(sum, 3);
    let e = green_client
        .request::<_, i64>(
            "calc.sum.create",
            None,
            &CallContext::default(),
            &Add { a: 1, b: 2 },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable, "green has no calc");
    // Events: each deployment's consumer sees only its own producer's events.
    let seen = |b: Bus, tag: &'static str| {
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        let token = tokio_util::sync::CancellationToken::new();
        let t = token.clone();
        let handle = tokio::spawn(platform::nats::run_consumer(
            b,
            Metrics::new(tag),
            ConsumerSpec::new("maker", "things", "evt.maker.>"),
            t,
            move |d: platform::nats::Delivery<Ping>| {
                let g = g.clone();
                async move {
                    g.lock().unwrap().push(d.envelope.data.n);
                    Ok(())
                }
            },
        ));
        (got, token, handle)
    };
    let (blue_maker, green_maker) = (
        bus(&client, "maker", "blue"),
        bus(&client, "maker", "green"),
    );
    publish_signed(&blue_maker, "maker", 1).await;
    publish_signed(&green_maker, "maker", 2).await;
    publish_signed(&green_maker, "maker", 3).await;
    let (blue_seen, bt, bh) = seen(bus(&client, "taker", "blue"), "blue");
    let (green_seen, gt, gh) = seen(bus(&client, "taker", "green"), "green");
    assert!(
        testkit::wait_until(Duration::from_secs(10), || {
            let (b, g) = (blue_seen.clone(), green_seen.clone());
            async move { b.lock().unwrap().len() == 1 && g.lock().unwrap().len() == 2 }
        })
        .await
    );
    assert_eq!(*blue_seen.lock().unwrap(), vec![1]);
    assert_eq!(*green_seen.lock().unwrap(), vec![2, 3]);
    // Separate streams and durables on the server.
    let js = async_nats::jetstream::new(client.clone());
    assert!(js.get_stream("BLUE_EVT_MAKER").await.is_ok());
    assert!(js.get_stream("GREEN_EVT_MAKER").await.is_ok());
    for t in [bt, gt] {
        t.cancel();
    }
    let _ = (bh.await, gh.await);
    blue_rpc.drain(Duration::from_secs(2)).await;
}
