//! Platform messaging against a real (private) nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::{ErrorCode, Principal, Role, UserId};
use futures_util::StreamExt;
use platform::auth::InternalAuth;
use platform::metrics::Metrics;
use platform::nats::{request, CallContext, RpcServer};
use platform::AppError;
use secrecy::SecretString;
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

fn auth() -> InternalAuth {
    InternalAuth::new(SecretString::from("s".repeat(40)), 60)
}

async fn server(client: &async_nats::Client, name: &str) -> RpcServer {
    let mut rpc = RpcServer::start(client.clone(), name, "1.2.3", auth(), Metrics::new(name))
        .await
        .unwrap();
    rpc.endpoint("calc.sum.create", |req, body: Add| async move {
        if body.a < 0 {
            return Err(AppError::new(ErrorCode::InsufficientCredits, "negative a"));
        }
        Ok(Sum {
            sum: body.a + body.b,
            caller: req.principal.map(|p| p.user_id),
            request_id: req.request_id,
            idempotency_key: req.idempotency_key,
        })
    })
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
    let token = auth()
        .sign(&Principal {
            user_id: user,
            roles: vec![Role::User],
        })
        .unwrap();
    let ctx = CallContext {
        request_id: Some("rid-1".into()),
        idempotency_key: Some("k-1".into()),
        internal_token: Some(token),
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
        &CallContext::default(),
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
        &CallContext::default(),
        &serde_json::json!({"a": "x", "b": 1}),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::MalformedJson, Some("a"))
    );

    // A forged internal token is refused.
    let forged = InternalAuth::new(SecretString::from("t".repeat(40)), 60)
        .sign(&Principal {
            user_id: user,
            roles: vec![Role::Admin],
        })
        .unwrap();
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
    for _ in 0..10 {
        let _: Sum = request(
            &client,
            "calc.sum.create",
            &CallContext::default(),
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
    let mut rpc = RpcServer::start(client.clone(), "slow", "1", auth(), Metrics::new("slow"))
        .await
        .unwrap();
    {
        let handled = handled.clone();
        let started = started.clone();
        let release = release.clone();
        rpc.endpoint("slow.job.run", move |_req, n: u32| {
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
                request::<_, u32>(
                    &caller,
                    "slow.job.run",
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
    let e = request::<_, u32>(
        &caller,
        "slow.job.run",
        &CallContext::default(),
        &1u32,
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable);
}
