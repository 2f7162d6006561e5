//! The endpoints every service has for the monitor (`<service>.db.signal`,
//! `<service>.consumers.ensure`, `<service>.outbox.relay`), against a real
//! PostgreSQL database and a private nats-server, through a whole
//! [`Runtime`]; and how a consumer loop survives its durable consumer
//! being deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use common::ErrorCode;
use platform::auth::InternalAuth;
use platform::config::{ConfigError, Environment, Validate};
use platform::metrics::Metrics;
use platform::monitoring::{
    ConsumerState, ConsumersRequest, SignalAction, SignalOutcome, SignalRequest,
};
use platform::nats::{Bus, CallContext, ConsumerSpec, Delivery};
use platform::outbox::OutboxStats;
use platform::runtime::Runtime;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::Backing;

/// The service under test.
const SERVICE: &str = "probe";

#[derive(Deserialize)]
struct NoSections {}

impl Validate for NoSections {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}

async fn runtime(backing: &Backing, extra: &[(&str, String)]) -> Runtime {
    let overrides = backing.overrides(extra);
    let (base, _) =
        platform::config::load::<NoSections>(SERVICE, 0, &overrides, Ok).expect("config");
    Runtime::start(base).await.expect("runtime")
}

/// A NATS connection acting as `service` (the monitor, or someone else).
async fn bus_as(backing: &Backing, service: &str) -> Bus {
    let client = async_nats::connect(&backing.nats_url).await.unwrap();
    Bus::new(
        client,
        InternalAuth::development(service).unwrap(),
        "",
        Duration::from_secs(5),
    )
}

async fn signal(monitor: &Bus, req: &SignalRequest) -> SignalOutcome {
    monitor
        .request(
            &format!("{SERVICE}.db.signal"),
            None,
            &CallContext::default(),
            req,
        )
        .await
        .unwrap()
}

/// A database session outside the service's pool, named `application_name`.
struct Session {
    client: Arc<tokio_postgres::Client>,
    pid: i32,
    backend_start: DateTime<Utc>,
}

async fn session(url: &str, application_name: &str) -> Session {
    let client = platform::db::connect_admin(url, Duration::from_secs(5))
        .await
        .unwrap();
    client
        .execute(
            "SELECT set_config('application_name', $1, false)",
            &[&application_name],
        )
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    Session {
        client: Arc::new(client),
        pid: row.get(0),
        backend_start: row.get(1),
    }
}

/// Starts `pg_sleep(30)` on the session; the task ends when it is cancelled.
fn sleep_on(s: &Session) -> tokio::task::JoinHandle<Result<(), tokio_postgres::Error>> {
    let client = s.client.clone();
    tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(30)").await })
}

async fn state_of(admin: &tokio_postgres::Client, pid: i32) -> Option<String> {
    admin
        .query_opt("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

fn req(s: &Session, action: SignalAction, min_age_ms: u64, dry_run: bool) -> SignalRequest {
    SignalRequest {
        pid: s.pid,
        action,
        backend_start: s.backend_start,
        min_age_ms,
        dry_run,
    }
}

#[tokio::test]
async fn db_signal_cancels_only_this_services_own_sessions_over_the_limit() {
    let backing = Backing::new(None, None).await.unwrap();
    let rt = runtime(&backing, &[]).await;
    let rpc = rt.rpc_server(8080).await.unwrap();
    rpc.sync(Duration::from_secs(2)).await;
    let monitor = bus_as(&backing, "monitor").await;
    let url = backing.database_url.clone();
    let admin = platform::db::connect_admin(&url, Duration::from_secs(5))
        .await
        .unwrap();

    let ours = session(&url, SERVICE).await;
    let theirs = session(&url, "someone-else").await;
    let ours_sleep = sleep_on(&ours);
    let theirs_sleep = sleep_on(&theirs);
    assert!(
        testkit::wait_until(Duration::from_secs(5), || {
            let admin = &admin;
            let (a, b) = (ours.pid, theirs.pid);
            async move {
                state_of(admin, a).await.as_deref() == Some("active")
                    && state_of(admin, b).await.as_deref() == Some("active")
            }
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(400)).await;

    // A dry run says it would, and signals nothing.
    let o = signal(&monitor, &req(&ours, SignalAction::Cancel, 200, true)).await;
    assert!(o.signalled && o.dry_run, "{o:?}");
    assert!(o.reason.contains("would cancel"), "{o:?}");
    // Under the limit: refused.
    let o = signal(&monitor, &req(&ours, SignalAction::Cancel, 600_000, false)).await;
    assert!(!o.signalled, "{o:?}");
    assert!(o.reason.starts_with("no longer over the limit"), "{o:?}");
    // Another application's session: refused, however old.
    let o = signal(&monitor, &req(&theirs, SignalAction::Cancel, 0, false)).await;
    assert!(!o.signalled, "{o:?}");
    assert_eq!(o.reason, format!("no such session of {SERVICE}"));
    // The pid with another backend_start (a reused pid): refused.
    let mut reused = req(&ours, SignalAction::Cancel, 0, false);
    reused.backend_start += chrono::Duration::seconds(1);
    let o = signal(&monitor, &reused).await;
    assert!(!o.signalled, "{o:?}");
    assert!(o.reason.contains("newer session"), "{o:?}");
    // A running statement is not idle in a transaction: terminate refused.
    let o = signal(&monitor, &req(&ours, SignalAction::Terminate, 0, false)).await;
    assert!(!o.signalled, "{o:?}");
    assert_eq!(o.reason, "no longer idle in a transaction (now active)");
    // A pid that does not exist.
    let mut gone = req(&ours, SignalAction::Cancel, 0, false);
    gone.pid = i32::MAX;
    let o = signal(&monitor, &gone).await;
    assert_eq!(o.reason, format!("no such session of {SERVICE}"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!ours_sleep.is_finished() && !theirs_sleep.is_finished());

    // Over the limit, ours: cancelled.
    let o = signal(&monitor, &req(&ours, SignalAction::Cancel, 200, false)).await;
    assert!(o.signalled && !o.dry_run, "{o:?}");
    assert_eq!(o.reason, "cancelled the running statement");
    let e = tokio::time::timeout(Duration::from_secs(5), ours_sleep)
        .await
        .expect("the statement was cancelled")
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    // The other application's statement still runs.
    assert_eq!(
        state_of(&admin, theirs.pid).await.as_deref(),
        Some("active")
    );
    assert!(!theirs_sleep.is_finished());

    // A session of ours idle in a transaction: cancel refused, terminate (dry, then for real).
    ours.client.batch_execute("BEGIN; SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = signal(&monitor, &req(&ours, SignalAction::Cancel, 0, false)).await;
    assert_eq!(
        o.reason,
        "no longer running a statement (now idle in transaction)"
    );
    let o = signal(&monitor, &req(&ours, SignalAction::Terminate, 200, true)).await;
    assert!(o.signalled && o.dry_run, "{o:?}");
    assert!(!ours.client.is_closed());
    let o = signal(&monitor, &req(&ours, SignalAction::Terminate, 200, false)).await;
    assert!(o.signalled, "{o:?}");
    assert!(
        testkit::wait_until(Duration::from_secs(5), || {
            let c = ours.client.clone();
            async move { c.batch_execute("SELECT 1").await.is_err() }
        })
        .await,
        "the session was terminated"
    );

    // Unknown fields are refused, and only the monitor may call.
    let e = monitor
        .request::<_, SignalOutcome>(
            &format!("{SERVICE}.db.signal"),
            None,
            &CallContext::default(),
            &serde_json::json!({
                "pid": theirs.pid, "action": "cancel", "backend_start": theirs.backend_start,
                "min_age_ms": 0, "sql": "SELECT 1"
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::MalformedJson, "{e:?}");
    let stranger = bus_as(&backing, "charts").await;
    let e = stranger
        .request::<_, SignalOutcome>(
            &format!("{SERVICE}.db.signal"),
            None,
            &CallContext::default(),
            &req(&theirs, SignalAction::Cancel, 0, false),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);

    admin
        .execute("SELECT pg_cancel_backend($1)", &[&theirs.pid])
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), theirs_sleep).await;
    rpc.drain(Duration::from_secs(2)).await;
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Ping {
    n: u32,
}

/// Publishes one event signed by `producer`, as its outbox relay would.
async fn publish(producer: &Bus, service: &str, n: u32) {
    // A nats-server that has just opened its port may not answer JetStream yet.
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            platform::nats::ensure_stream(producer, service)
                .await
                .is_ok()
        })
        .await,
        "JetStream never answered"
    );
    let e =
        common::EventEnvelope::new(service, &format!("{service}.thing.happened"), 1, Ping { n });
    let payload = serde_json::to_vec(&e).unwrap();
    let subject = producer.subject(&e.subject());
    let id = e.id.to_string();
    let mut headers = platform::nats::event_headers(&id, &CallContext::default());
    producer
        .auth
        .sign_event(&mut headers, &subject, &id, &payload);
    platform::nats::publish_event(
        &producer.js,
        subject,
        headers,
        payload.into(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
}

async fn ensure(monitor: &Bus, dry_run: bool) -> Vec<ConsumerState> {
    monitor
        .request(
            &format!("{SERVICE}.consumers.ensure"),
            None,
            &CallContext::default(),
            &ConsumersRequest { dry_run },
        )
        .await
        .unwrap()
}

fn find<'a>(states: &'a [ConsumerState], durable: &str) -> &'a ConsumerState {
    states
        .iter()
        .find(|s| s.durable == durable)
        .unwrap_or_else(|| panic!("{durable} not reported: {states:?}"))
}

async fn consumer_exists(js: &async_nats::jetstream::Context, stream: &str, durable: &str) -> bool {
    js.get_stream(stream)
        .await
        .unwrap()
        .consumer_info(durable)
        .await
        .is_ok()
}

#[tokio::test]
async fn consumers_ensure_recreates_a_deleted_consumer_and_the_loop_resumes() {
    let backing = Backing::new(None, None).await.unwrap();
    let maker = bus_as(&backing, "maker").await;
    publish(&maker, "maker", 1).await;

    let mut rt = runtime(&backing, &[]).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = |seen: Arc<Mutex<Vec<u32>>>| {
        move |d: Delivery<Ping>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(d.envelope.data.n);
                Ok(())
            }
        }
    };
    rt.consume(
        ConsumerSpec::new("maker", "probe-things", "evt.maker.>"),
        handler(seen.clone()),
    );
    let rpc = rt.rpc_server(8080).await.unwrap();
    // A consumer started after the endpoints, on a stream nobody created.
    rt.consume(
        ConsumerSpec::new("ghost", "probe-ghost", "evt.ghost.>"),
        handler(seen.clone()),
    );
    rpc.sync(Duration::from_secs(2)).await;
    let monitor = bus_as(&backing, "monitor").await;
    let js = maker.js.clone();
    let has = |n: u32| {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move { seen.lock().unwrap().contains(&n) }
        }
    };
    assert!(testkit::wait_until(Duration::from_secs(10), has(1)).await);

    let states = ensure(&monitor, true).await;
    assert_eq!(states.len(), 2, "{states:?}");
    let things = find(&states, "probe-things");
    assert_eq!(
        (things.stream.as_str(), things.filter_subject.as_str()),
        ("EVT_MAKER", "evt.maker.>")
    );
    assert!(things.existed && !things.created, "{things:?}");
    let ghost = find(&states, "probe-ghost");
    assert_eq!(ghost.stream, "EVT_GHOST");
    assert!(!ghost.existed && !ghost.created, "{ghost:?}");

    // The consumer is deleted on the server.
    js.get_stream("EVT_MAKER")
        .await
        .unwrap()
        .delete_consumer("probe-things")
        .await
        .unwrap();
    let deleted = Instant::now();
    publish(&maker, "maker", 2).await;

    // A dry run reports it missing and leaves it so.
    let states = ensure(&monitor, true).await;
    let things = find(&states, "probe-things");
    assert!(!things.existed && !things.created, "{things:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!consumer_exists(&js, "EVT_MAKER", "probe-things").await);
    assert!(!seen.lock().unwrap().contains(&2));

    // For real: created, with the loop's own configuration. A missing
    // stream is still not created.
    let states = ensure(&monitor, false).await;
    let things = find(&states, "probe-things");
    assert!(!things.existed && things.created, "{things:?}");
    let ghost = find(&states, "probe-ghost");
    assert!(!ghost.existed && !ghost.created, "{ghost:?}");
    assert!(js.get_stream("EVT_GHOST").await.is_err());
    let info = js
        .get_stream("EVT_MAKER")
        .await
        .unwrap()
        .consumer_info("probe-things")
        .await
        .unwrap();
    assert_eq!(info.config.filter_subject, "evt.maker.>");
    assert_eq!(info.config.max_deliver, 8);
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    let created = Instant::now();

    // The running loop picks the re-created consumer up within seconds,
    // long before it would have created it itself (30 s).
    assert!(
        testkit::wait_until(Duration::from_secs(8), has(2)).await,
        "the event published while the consumer was missing was never handled"
    );
    assert!(deleted.elapsed() < Duration::from_secs(25));
    eprintln!("handled {:?} after re-creation", created.elapsed());
    publish(&maker, "maker", 3).await;
    assert!(testkit::wait_until(Duration::from_secs(5), has(3)).await);

    let states = ensure(&monitor, false).await;
    let things = find(&states, "probe-things");
    assert!(things.existed && !things.created, "{things:?}");
    rpc.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_lost_consumer_is_recreated_by_the_loop_itself_when_nobody_else_does() {
    let backing = Backing::new(None, None).await.unwrap();
    let maker = bus_as(&backing, "maker").await;
    let taker = bus_as(&backing, "taker").await;
    publish(&maker, "maker", 1).await;
    let seen = Arc::new(Mutex::new(Vec::<u32>::new()));
    let mut spec = ConsumerSpec::new("maker", "taker-things", "evt.maker.>");
    spec.recreate_after = Duration::from_secs(3);
    let token = tokio_util::sync::CancellationToken::new();
    let s = seen.clone();
    let task = tokio::spawn(platform::nats::run_consumer(
        taker,
        Metrics::new("taker"),
        spec,
        token.clone(),
        move |d: Delivery<Ping>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(d.envelope.data.n);
                Ok(())
            }
        },
    ));
    let has = |n: u32| {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move { seen.lock().unwrap().contains(&n) }
        }
    };
    assert!(testkit::wait_until(Duration::from_secs(10), has(1)).await);
    let js = maker.js.clone();
    js.get_stream("EVT_MAKER")
        .await
        .unwrap()
        .delete_consumer("taker-things")
        .await
        .unwrap();
    publish(&maker, "maker", 2).await;
    // Left for the monitor for a while ...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!consumer_exists(&js, "EVT_MAKER", "taker-things").await);
    // ... then created by the loop itself.
    assert!(
        testkit::wait_until(Duration::from_secs(10), has(2)).await,
        "the loop never re-created its consumer"
    );
    assert!(consumer_exists(&js, "EVT_MAKER", "taker-things").await);
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn outbox_relay_wakes_the_relay_and_metadata_advertises_the_address() {
    let backing = Backing::new(None, None).await.unwrap();
    let mut admin = platform::db::connect_admin(&backing.database_url, Duration::from_secs(5))
        .await
        .unwrap();
    platform::migrate::run(
        &mut admin,
        SERVICE,
        platform::migrations!("../../../migrations/platform", 1 => "0001_outbox"),
    )
    .await
    .unwrap();
    // The relay polls once a minute: only the wake-up can make it run soon.
    let rt = runtime(
        &backing,
        &[
            ("outbox.poll_interval_ms", "60000".into()),
            ("http.host", "0.0.0.0".into()),
            ("http.advertise_host", "probe-7.internal".into()),
        ],
    )
    .await;
    let rpc = rt.rpc_server(8123).await.unwrap();
    rpc.sync(Duration::from_secs(2)).await;
    let monitor = bus_as(&backing, "monitor").await;

    // The relay's first pass (at start) is over once the stream... give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let c = platform::db::conn(&rt.pool).await.unwrap();
        let e = common::EventEnvelope::new(
            SERVICE,
            &format!("{SERVICE}.thing.happened"),
            1,
            Ping { n: 9 },
        );
        platform::outbox::enqueue(&c, &e, &CallContext::default())
            .await
            .unwrap();
    }
    let stats = |subject: &'static str| {
        let monitor = monitor.clone();
        async move {
            monitor
                .request::<_, OutboxStats>(
                    &format!("{SERVICE}.outbox.{subject}"),
                    None,
                    &CallContext::default(),
                    &serde_json::json!({}),
                )
                .await
                .unwrap()
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats("stats").await.pending, 1, "the relay is asleep");
    let started = Instant::now();
    let _ = stats("relay").await;
    assert!(
        testkit::wait_until(Duration::from_secs(5), || async {
            stats("stats").await.pending == 0
        })
        .await,
        "the relay did not run"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The service API metadata names the advertised address.
    let info = monitor
        .client
        .request(
            format!("$SRV.INFO.{SERVICE}.{}", rpc.instance_id()),
            "".into(),
        )
        .await
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["metadata"]["http_address"], "probe-7.internal:8123");
    let subjects: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["subject"].as_str())
        .collect();
    for s in ["db.signal", "consumers.ensure", "outbox.relay"] {
        assert!(
            subjects.contains(&format!("{SERVICE}.{s}").as_str()),
            "{subjects:?}"
        );
    }
    rpc.drain(Duration::from_secs(2)).await;
}
