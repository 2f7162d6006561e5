//! Pricing benchmark: hold + capture pairs per second and p99 pair latency,
//! over NATS (`pricing.credits.hold` + `pricing.credits.capture`) and over
//! HTTP (`POST /internal/v1/credits/holds` + `.../{id}/capture`), and side by
//! side in the same run `pgbench` running the equivalent SQL transactions
//! (the same statements the service issues for a hold and a capture, from a
//! script file) with the same concurrency and duration, as a ratio.
//!
//! Needs the local PostgreSQL (TEST_DATABASE_URL), `nats-server` and pgbench
//! (`/usr/lib/postgresql/15/bin/pgbench`, or PGBENCH):
//! `cargo run --release -p pricing --example pricing_bench -- [seconds] [concurrency] [users]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::subjects::pricing as s;
use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use platform::nats::CallContext;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use testkit::bench::Stats;

/// Runs hold+capture pairs from `concurrency` workers, spreading them over `users`.
async fn run<F, Fut>(
    seconds: f64,
    concurrency: usize,
    users: &Arc<Vec<UserId>>,
    pair: F,
) -> anyhow::Result<Stats>
where
    F: Fn(UserId, String) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let users = users.clone();
    testkit::bench::run(seconds, concurrency, move |worker, n| {
        let user = users[(worker + n * concurrency) % users.len()];
        pair(user, uuid::Uuid::now_v7().to_string())
    })
    .await
}

const PGBENCH_SCRIPT: &str = r#"
\set i random(1, :nusers)
SELECT user_id AS u, wallet AS w, held AS h, (SELECT id FROM accounts WHERE kind = 'revenue' AND user_id IS NULL) AS rev, gen_random_uuid() AS t1, gen_random_uuid() AS t2, gen_random_uuid() AS hid, 'hold:' || gen_random_uuid() AS k1, 'capture:' || gen_random_uuid() AS k2, gen_random_uuid() AS ev FROM bench_users WHERE i = :i \gset
BEGIN;
INSERT INTO transactions (id, idempotency_key, kind, user_id, request_hash, memo) VALUES (:t1::uuid, :k1::text, 'hold', :u::uuid, 'x', NULL) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id;
SELECT id FROM accounts WHERE user_id = :u::uuid AND kind = 'wallet';
SELECT id FROM accounts WHERE user_id = :u::uuid AND kind = 'held';
UPDATE accounts SET balance = balance + -1 WHERE id = :w::bigint AND balance + -1 >= 0;
UPDATE accounts SET balance = balance + 1 WHERE id = :h::bigint AND balance + 1 >= 0;
INSERT INTO entries (transaction_id, account_id, amount) SELECT :t1::uuid, a, m FROM unnest(ARRAY[:w::bigint, :h::bigint], ARRAY[-1, 1]::bigint[]) AS t(a, m);
INSERT INTO holds (id, user_id, amount, status, reference, quote_id, service_code, expires_at) VALUES (:hid::uuid, :u::uuid, 1, 'active', NULL, NULL, NULL, now() + interval '15 minutes');
SELECT kind, balance FROM accounts WHERE user_id = :u::uuid;
UPDATE transactions SET result = '{"bench": true}' WHERE id = :t1::uuid;
COMMIT;
BEGIN;
INSERT INTO transactions (id, idempotency_key, kind, user_id, request_hash, memo) VALUES (:t2::uuid, :k2::text, 'capture', :u::uuid, 'x', NULL) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id;
SELECT user_id, amount, status, expires_at <= now(), reference, quote_id, service_code, expires_at FROM holds WHERE id = :hid::uuid FOR UPDATE;
SELECT kind, balance FROM accounts WHERE user_id = :u::uuid;
SELECT id FROM accounts WHERE user_id = :u::uuid AND kind = 'held';
SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'revenue';
SELECT id FROM accounts WHERE user_id = :u::uuid AND kind = 'wallet';
UPDATE accounts SET balance = balance + -1 WHERE id = :h::bigint AND balance + -1 >= 0;
INSERT INTO entries (transaction_id, account_id, amount) SELECT :t2::uuid, a, m FROM unnest(ARRAY[:rev::bigint, :h::bigint], ARRAY[1, -1]::bigint[]) AS t(a, m);
UPDATE holds SET status = 'captured', captured = 1, settled_at = now() WHERE id = :hid::uuid;
UPDATE transactions SET user_id = :u::uuid WHERE id = :t2::uuid;
SELECT kind, balance FROM accounts WHERE user_id = :u::uuid;
INSERT INTO outbox (id, subject, payload, headers) VALUES (:ev::uuid, 'evt.pricing.credits.spent', '{"bench": true}', '{}');
UPDATE transactions SET result = '{"bench": true}' WHERE id = :t2::uuid;
COMMIT;
"#;

fn pgbench_bin() -> String {
    std::env::var("PGBENCH").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pgbench".into())
}

/// Runs pgbench with the script; returns (pairs/s, p99 µs of a pair, pairs).
fn pgbench(
    db_url: &str,
    seconds: u64,
    concurrency: usize,
    users: usize,
    dir: &std::path::Path,
) -> anyhow::Result<(f64, u64, u64)> {
    let script = dir.join("hold_capture.sql");
    std::fs::write(&script, PGBENCH_SCRIPT)?;
    let log_prefix = dir.join("pgb");
    let out = std::process::Command::new(pgbench_bin())
        .env("PGOPTIONS", "-c search_path=pricing,public")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
        ])
        .args(["-D", &format!("nusers={users}")])
        .arg("-l")
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .arg("-f")
        .arg(&script)
        .arg(db_url)
        .current_dir(dir)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "pgbench failed: {}\n{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_frac
    let mut lat: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pgb"))
        {
            for line in std::fs::read_to_string(&p)?.lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                    lat.push(us);
                }
            }
        }
    }
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let st = Stats::from_latencies(lat, 0, Duration::from_secs(1));
    Ok((tps, st.p99_us, st.count as u64))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10);
    let nusers: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(100);

    let db = testkit::TestDb::create().await?;
    let nats = testkit::NatsServer::start()?;
    let overrides: Vec<(String, String)> = vec![
        ("env".into(), "test".into()),
        ("http.port".into(), "0".into()),
        ("http.workers".into(), "2".into()),
        ("database.url".into(), db.url.clone()),
        ("database.max_connections".into(), concurrency.to_string()),
        ("nats.url".into(), nats.url()),
        ("telemetry.log_level".into(), "warn".into()),
    ];
    let (base, cfg) = pricing::load_config(&overrides)?;
    platform::cli::migrate(&base, pricing::MIGRATIONS).await?;
    let app = pricing::Application::build(base, cfg).await?;
    let port = app.port();
    let stop = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());

    // Tokens are signed per call (they live at most 60 s), as guidance
    // would sign them; the admin's as the gateway would.
    let users: Arc<Vec<UserId>> = Arc::new((0..nusers).map(|_| UserId::new()).collect());
    let tokens = Arc::new(Tokens(InternalAuth::development("guidance")?));
    let gateway = InternalAuth::development("gateway")?;
    let admin_principal = Principal {
        user_id: UserId::new(),
        roles: vec![Role::Admin],
    };
    let http = platform::http_client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let base_url = format!("http://127.0.0.1:{port}");
    // Wait for readiness, fund every wallet.
    for _ in 0..200 {
        if matches!(http.get(format!("{base_url}/readyz")).send().await, Ok(r) if r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for u in users.iter() {
        let r = http
            .post(format!("{base_url}/api/v1/admin/pricing/adjustments"))
            .header(
                "X-Internal-Token",
                gateway.sign("pricing", Some(&admin_principal))?,
            )
            .header("Idempotency-Key", format!("fund-{u}"))
            .json(&json!({"user_id": u, "amount": 10_000_000, "reason": "benchmark"}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "funding failed: {}", r.text().await?);
    }
    let nc = async_nats::connect(nats.url()).await?;
    let timeout = Duration::from_secs(10);

    println!("pricing bench: {seconds} s per phase, concurrency {concurrency}, {nusers} users, pool {concurrency}");
    // Warm-up.
    let _ = nats_pair(&nc, &tokens, users[0], "warm".into(), timeout).await;

    let (nc2, tk) = (nc.clone(), tokens.clone());
    let over_nats = run(seconds as f64, concurrency, &users, move |u, key| {
        let (nc, tk) = (nc2.clone(), tk.clone());
        async move { nats_pair(&nc, &tk, u, key, timeout).await }
    })
    .await?;
    over_nats.print("NATS", "pairs/s");

    let (h2, tk, b2) = (http.clone(), tokens.clone(), base_url.clone());
    let over_http = run(seconds as f64, concurrency, &users, move |u, key| {
        let (http, tk, base) = (h2.clone(), tk.clone(), b2.clone());
        async move {
            let token = tk.token(u);
            let r = http
                .post(format!("{base}/internal/v1/credits/holds"))
                .header("X-Internal-Token", &token)
                .header("Idempotency-Key", format!("h-{key}"))
                .json(&json!({"amount": 1}))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "hold: {}", r.status());
            let v: Value = r.json().await?;
            let id = v["hold_id"].as_str().unwrap_or_default().to_owned();
            let r = http
                .post(format!("{base}/internal/v1/credits/holds/{id}/capture"))
                .header("X-Internal-Token", &token)
                .header("Idempotency-Key", format!("c-{key}"))
                .json(&json!({"amount": 1}))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "capture: {}", r.status());
            let _ = r.bytes().await?;
            Ok(())
        }
    })
    .await?;
    over_http.print("HTTP", "pairs/s");

    // pgbench: the same two transactions in SQL, against the same database.
    let admin_db = platform::db::connect_admin(&db.url, Duration::from_secs(5)).await?;
    admin_db
        .batch_execute(
            "CREATE TABLE pricing.bench_users AS
               SELECT row_number() OVER (ORDER BY w.user_id) AS i, w.user_id, w.id AS wallet, h.id AS held
               FROM pricing.accounts w JOIN pricing.accounts h ON h.user_id = w.user_id AND h.kind = 'held'
               WHERE w.kind = 'wallet';
             CREATE UNIQUE INDEX ON pricing.bench_users (i);",
        )
        .await?;
    let n: i64 = admin_db
        .query_one("SELECT count(*) FROM pricing.bench_users", &[])
        .await?
        .get(0);
    let dir = std::env::temp_dir().join(format!("pricing-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (tps, p99, pairs) = pgbench(&db.url, seconds, concurrency, usize::try_from(n)?, &dir)?;
    println!(
        "pgbench  {:>10.0} pairs/s  p99 {:>7.2} ms  ({} pairs; one pgbench transaction = hold + capture)",
        tps,
        p99 as f64 / 1000.0,
        pairs
    );
    if tps > 0.0 {
        println!(
            "ratio    NATS/pgbench = {:.2}   HTTP/pgbench = {:.2}",
            over_nats.per_sec / tps,
            over_http.per_sec / tps
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Check the ledger after all of it.
    let bad: i64 = admin_db
        .query_one(
            "SELECT count(*) FROM pricing.accounts a WHERE a.user_id IS NOT NULL AND a.balance <>
               COALESCE((SELECT sum(amount) FROM pricing.entries e WHERE e.account_id = a.id), 0)",
            &[],
        )
        .await?
        .get(0);
    println!("ledger check: {bad} accounts out of balance");
    drop(admin_db);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
    drop(nats);
    drop(db);
    Ok(())
}

/// Signs a user's token for pricing, as a spending service would.
struct Tokens(InternalAuth);

impl Tokens {
    fn token(&self, user: UserId) -> String {
        let p = Principal {
            user_id: user,
            roles: vec![Role::User],
        };
        self.0.sign("pricing", Some(&p)).unwrap_or_default()
    }
}

async fn nats_pair(
    nc: &async_nats::Client,
    tokens: &Tokens,
    user: UserId,
    key: String,
    timeout: Duration,
) -> anyhow::Result<()> {
    let token = tokens.token(user);
    let ctx = CallContext::default()
        .with_internal_token(token.clone())
        .with_idempotency_key(format!("h-{key}"));
    let v: Value =
        platform::nats::request(nc, s::CREDITS_HOLD, &ctx, &json!({"amount": 1}), timeout)
            .await
            .map_err(|e| anyhow::anyhow!("hold: {e}"))?;
    let ctx = CallContext::default()
        .with_internal_token(token)
        .with_idempotency_key(format!("c-{key}"));
    let _: Value = platform::nats::request(
        nc,
        s::CREDITS_CAPTURE,
        &ctx,
        &json!({"hold_id": v["hold_id"], "amount": 1}),
        timeout,
    )
    .await
    .map_err(|e| anyhow::anyhow!("capture: {e}"))?;
    Ok(())
}
