//! Monitor benchmark at 6 services x 3 instances: every instance is a real
//! platform runtime (its own pool, NATS client, HTTP server with /readyz,
//! service-API endpoints, outbox relay and migrated schema) on a fresh
//! database and a private nats-server.
//!
//! Measured side by side in one run:
//! - the process's CPU and the database's transactions per second over the
//!   same window without the monitor, then with the monitor (production
//!   intervals: rounds of 2 s, database and messaging every 5 s, schema
//!   every 10 s); the difference is the monitor's cost, also as a share of
//!   one core;
//! - time from a fault to its incident: an instance stopped (lost after
//!   three missed rounds) and an index dropped (at the next schema check).
//!
//! `cargo run --release -p monitor --example monitor_bench -- [seconds per phase]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use platform::config::{ConfigError, Environment, Validate};
use std::time::{Duration, Instant};
use testkit::Running;

#[derive(serde::Deserialize)]
struct Nothing {}

impl Validate for Nothing {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}

const SERVICES: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

async fn db_counters(c: &tokio_postgres::Client) -> (i64, i64) {
    let r = c
        .query_one(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

async fn instance(overrides: &[(String, String)], service: &str) -> Running {
    let (base, _): (_, Nothing) =
        platform::config::load(service, 0, overrides, Ok).expect("config");
    let runtime = platform::runtime::Runtime::start(base).await.unwrap();
    let http = runtime.serve_http("{}".into(), |_| {}).unwrap();
    let rpc = runtime.rpc_server(http.port).await.unwrap();
    rpc.sync(Duration::from_secs(2)).await;
    let s = platform::runtime::Service::new(runtime, http, Some(rpc));
    Running::spawn(s.port(), s.shutdown_token(), s.run_until_stopped())
}

/// Waits for an incident whose fingerprint starts so; returns when it appeared.
async fn incident_after(c: &tokio_postgres::Client, prefix: &str, since: Instant) -> Duration {
    loop {
        let found = c
            .query_opt(
                "SELECT 1 FROM monitor.incidents WHERE starts_with(fingerprint, $1) AND state <> 'resolved'",
                &[&prefix],
            )
            .await
            .unwrap()
            .is_some();
        if found {
            return since.elapsed();
        }
        if since.elapsed() > Duration::from_secs(120) {
            panic!("no incident {prefix} within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let backing = testkit::Backing::new(None, None).await.unwrap();
    let base = backing.overrides(&[
        ("database.max_connections", "2".into()),
        ("http.workers", "1".into()),
        ("outbox.poll_interval_ms", "1000".into()),
    ]);
    for s in SERVICES {
        let (b, _): (_, Nothing) = platform::config::load(s, 0, &base, Ok).unwrap();
        platform::cli::migrate(&b, &[]).await.unwrap();
    }
    let mut instances: Vec<(String, Running)> = Vec::new();
    for s in SERVICES {
        for _ in 0..3 {
            instances.push((s.to_owned(), instance(&base, s).await));
        }
    }
    let (mb, mc) = monitor::load_config(&backing.overrides(&[
        ("watch.services", SERVICES.join(",")),
        ("watch.schema_interval_ms", "10000".into()),
    ]))
    .unwrap();
    platform::cli::migrate(&mb, monitor::MIGRATIONS)
        .await
        .unwrap();
    let db = platform::db::connect_admin(&backing.database_url, Duration::from_secs(10))
        .await
        .unwrap();
    println!(
        "monitor bench: {} services x 3 instances, {seconds} s per phase, rounds of {} ms",
        SERVICES.len(),
        mc.watch.interval_ms
    );
    // Phase A: the platform alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (x0, t0) = db_counters(&db).await;
    let c0 = cpu_secs();
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (x1, t1) = db_counters(&db).await;
    let cpu_a = (cpu_secs() - c0) / w0.elapsed().as_secs_f64();
    let xact_a = (x1 - x0) as f64 / w0.elapsed().as_secs_f64();
    let tup_a = (t1 - t0) as f64 / w0.elapsed().as_secs_f64();
    // Phase B: the same with the monitor.
    let interval = mc.watch.interval_ms;
    let app = monitor::Application::build(mb, mc).await.unwrap();
    let mut mon = Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    // Until it leads and has seen everyone.
    let ok = testkit::wait_until(Duration::from_secs(30), || async {
        db.query_opt(
            "SELECT data FROM monitor.snapshots WHERE area = 'overview'",
            &[],
        )
        .await
        .unwrap()
        .is_some_and(|r| {
            let v: serde_json::Value = r.get(0);
            v["instances"].as_array().is_some_and(|a| {
                a.iter()
                    .filter(|i| i["state"] == "live" && i["service"] != "monitor")
                    .count()
                    == 18
            })
        })
    })
    .await;
    assert!(ok, "the monitor sees 18 instances");
    let (x0, t0) = db_counters(&db).await;
    let c0 = cpu_secs();
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (x1, t1) = db_counters(&db).await;
    let cpu_b = (cpu_secs() - c0) / w0.elapsed().as_secs_f64();
    let xact_b = (x1 - x0) as f64 / w0.elapsed().as_secs_f64();
    let tup_b = (t1 - t0) as f64 / w0.elapsed().as_secs_f64();
    let open: i64 = db
        .query_one("SELECT count(*) FROM monitor.incidents", &[])
        .await
        .unwrap()
        .get(0);
    println!("cpu (cores): platform alone {cpu_a:.3}, with monitor {cpu_b:.3} -> monitor {:.3} cores ({:.1}% of one core)", cpu_b - cpu_a, (cpu_b - cpu_a) * 100.0);
    println!("database transactions/s: alone {xact_a:.1}, with monitor {xact_b:.1} -> monitor {:.1}/s (x{:.2})", xact_b - xact_a, xact_b / xact_a.max(0.001));
    println!(
        "database rows read/s: alone {tup_a:.0}, with monitor {tup_b:.0} -> monitor {:.0}/s",
        tup_b - tup_a
    );
    println!("incidents during the quiet phase: {open} (expected 0)");
    // Faults: three instances stopped one after another, then an index dropped.
    let mut lost = Vec::new();
    for victim in ["beta", "delta", "zeta"] {
        let i = instances.iter().position(|(s, _)| s == victim).unwrap();
        let (_, mut r) = instances.remove(i);
        let t = Instant::now();
        r.stop().await;
        let took = incident_after(&db, &format!("instance_lost:{victim}"), t).await;
        lost.push(took);
        println!("instance of {victim} stopped -> incident in {took:.2?} ({:.2} rounds of {interval} ms)", took.as_secs_f64() * 1000.0 / interval as f64);
    }
    let t = Instant::now();
    db.batch_execute("DROP INDEX gamma.outbox_published_idx")
        .await
        .unwrap();
    let took = incident_after(&db, "schema_drift:gamma:missing:index", t).await;
    println!("index dropped -> incident in {took:.2?} (schema checks every 10 s)");
    mon.stop().await;
    for (_, mut r) in instances {
        r.stop().await;
    }
}
