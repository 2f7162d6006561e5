//! Live billing benchmark: minutes billed per second with N open sessions
//! (default 1,000) whose billing period is shortened to 1 s, so the loop
//! must bill N minutes a second to keep up; beside it, what production
//! needs for the same sessions (N / 60 a second) as a ratio, and how far
//! behind the due minutes were (lag). Real PostgreSQL, NATS and pricing,
//! as in the tests.
//!
//! `cargo run --release -p media --example live_bench -- [sessions] [seconds]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{spawn, Options, Platform, User};

async fn open_session(p: &Platform, i: usize) -> uuid::Uuid {
    let admin = p.admin();
    let user = p.user();
    let reader = p.user();
    p.fund(&user, 1_000_000).await;
    let r = p
        .send(
            Method::PUT,
            &format!("/api/v1/admin/media/readers/{}", reader.id),
            &admin,
            Some(&json!({"display_name": format!("Reader {i}")})),
        )
        .await;
    assert_eq!(r.status(), 201);
    p.send(
        Method::PUT,
        "/api/v1/live/readers/me/status",
        &reader,
        Some(&json!({"status": "online"})),
    )
    .await;
    let r = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            &user,
            Some(&json!({"reader_id": reader.id, "kind": "chat"})),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let s: serde_json::Value = r.json().await.unwrap();
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(act(p, &id, &reader, "accept").await.status(), 200);
    assert_eq!(act(p, &id, &user, "heartbeat").await.status(), 200);
    assert_eq!(act(p, &id, &reader, "heartbeat").await.status(), 200);
    uuid::Uuid::parse_str(&id).unwrap()
}

async fn act(p: &Platform, id: &str, who: &User, what: &str) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/api/v1/live/sessions/{id}/{what}"),
        who,
        None,
    )
    .await
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let p = spawn(Options {
        media: vec![
            ("live.billing_period_secs", "1".into()),
            ("live.heartbeat_timeout_secs", "3600".into()),
            ("live.max_minutes", "1440".into()),
            ("live.tick_interval_ms", "100".into()),
            ("database.max_connections", "32".into()),
        ],
        ..Options::default()
    })
    .await;
    let t = Instant::now();
    let ids: Vec<uuid::Uuid> = futures_util::stream::iter(0..n)
        .map(|i| open_session(&p, i))
        .buffer_unordered(32)
        .collect()
        .await;
    println!(
        "opened {} sessions in {:.1} s (request, accept, two heartbeats each)",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let db = p.db().await;
    let count = || async {
        db.query_one(
            "SELECT count(*) FROM media.live_events WHERE kind = 'minute_billed'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    // Warm-up: every session billed a few minutes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c0 = count().await;
    let t0 = Instant::now();
    let mut lags = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let lag: f64 = db
            .query_one(
                "SELECT COALESCE(extract(epoch FROM now() - min(next_bill_at)), 0)::float8
                 FROM media.live_sessions WHERE status = 'active'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        lags.push(lag.max(0.0));
    }
    let c1 = count().await;
    let elapsed = t0.elapsed().as_secs_f64();
    let rate = (c1 - c0) as f64 / elapsed;
    let active: i64 = db
        .query_one(
            "SELECT count(*) FROM media.live_sessions WHERE status = 'active'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = lags[lags.len() / 2];
    let max = *lags.last().unwrap();
    println!(
        "{active} of {n} sessions active throughout; billing period 1 s (needs {n} minutes/s)"
    );
    println!(
        "minutes billed: {:.0}/s over {elapsed:.1} s = {:.2} of what the shortened period needs; \
         {:.0}x what {n} sessions need in production ({:.1}/s at 60 s a minute)",
        rate,
        rate / n as f64,
        rate / (n as f64 / 60.0),
        n as f64 / 60.0
    );
    println!("oldest due minute behind by: p50 {p50:.2} s, max {max:.2} s (sampled every 0.5 s)");
}
