//! Avatar voice job latency: a 200-character text, submit → succeeded, as a
//! client sees it (the POST, then the job's SSE stream until `succeeded`),
//! with the local provider (espeak-ng + ffmpeg to Opus). Real PostgreSQL,
//! NATS, pricing and media, as in the tests. Prints p50/p95 of N jobs one
//! at a time, then of N jobs submitted together (`avatar.workers` = 2);
//! figures only, nothing is asserted.
//!
//! `cargo run --release -p media --example avatar_bench -- [jobs]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{spawn, Options, Platform, User};

/// 200 characters.
const TEXT: &str = "Namaste. Your chart shows Jupiter in the ninth house, a sign of grace \
through teachers. This month, keep your mornings quiet, speak kindly at home, and let \
patience guide the work before you each day.";

struct Timing {
    /// The POST (credits held, job queued).
    submit: Duration,
    /// Submit to `succeeded` on the event stream.
    total: Duration,
    /// The worker's part (started_at → finished_at of the job).
    work: Duration,
}

async fn one(p: &Platform, user: &User) -> Timing {
    let t = Instant::now();
    let r = p
        .request("media", Method::POST, "/api/v1/avatars/jobs", user)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"kind": "voice", "text": TEXT, "language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let submit = t.elapsed();
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let text = p
        .request(
            "media",
            Method::GET,
            &format!("/api/v1/avatars/jobs/{id}/events"),
            user,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let total = t.elapsed();
    let events = support::parse_sse(&text);
    assert_eq!(
        events.last().map(|e| e.1.as_str()),
        Some("succeeded"),
        "{text}"
    );
    let v: Value = p
        .send(
            Method::GET,
            &format!("/api/v1/avatars/jobs/{id}"),
            user,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(v[k].as_str().unwrap()).unwrap();
    let work = (at("finished_at") - at("started_at"))
        .to_std()
        .unwrap_or_default();
    Timing {
        submit,
        total,
        work,
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let us: Vec<u64> = sorted.iter().map(|d| d.as_micros() as u64).collect();
    testkit::bench::percentile(&us, p) as f64 / 1000.0
}

fn report(name: &str, mut t: Vec<Timing>) {
    let mut total: Vec<Duration> = t.iter().map(|x| x.total).collect();
    let mut submit: Vec<Duration> = t.iter().map(|x| x.submit).collect();
    let mut work: Vec<Duration> = t.iter_mut().map(|x| x.work).collect();
    total.sort();
    submit.sort();
    work.sort();
    println!(
        "{name:<34} n={:<3} submit→succeeded p50 {:>7.1} ms  p95 {:>7.1} ms | POST p50 {:>6.1} ms | worker p50 {:>6.1} ms",
        total.len(),
        pct(&total, 0.50),
        pct(&total, 0.95),
        pct(&submit, 0.50),
        pct(&work, 0.50),
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    assert_eq!(TEXT.chars().count(), 200);
    let store = std::env::temp_dir().join(format!("avatar-bench-{}", uuid::Uuid::new_v4()));
    let p = spawn(Options {
        media: vec![
            ("avatar.store.path", store.display().to_string()),
            ("avatar.workers", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = p.user();
    p.fund(&user, 1_000_000).await;
    // Warm up (JetStream stream and consumer, connections, page cache).
    for _ in 0..2 {
        one(&p, &user).await;
    }
    let mut seq = Vec::with_capacity(n);
    for _ in 0..n {
        seq.push(one(&p, &user).await);
    }
    println!(
        "avatar voice job, {} characters, local provider (espeak-ng + ffmpeg → Opus)",
        TEXT.chars().count()
    );
    report("one at a time", seq);
    let started = Instant::now();
    let together = futures_util::future::join_all((0..n).map(|_| one(&p, &user))).await;
    let elapsed = started.elapsed();
    report(&format!("{n} submitted together (2 workers)"), together);
    println!(
        "{:<34} {:.1} jobs/s",
        "throughput (together)",
        n as f64 / elapsed.as_secs_f64()
    );
    p.ledger_is_balanced().await;
    let _ = std::fs::remove_dir_all(&store);
}
