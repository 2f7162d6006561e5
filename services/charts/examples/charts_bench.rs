//! Charts benchmark. Prints, from one run:
//! * cache-hit `POST /api/v1/charts` (a warm key) sent directly to the
//!   charts service (internal token) and through the gateway (bearer token):
//!   requests/s, p50, p99;
//! * cold-miss latency (each request a new birth: lookup, engine, insert);
//! * `pgbench` running the cache's lookup `SELECT` alone for the same key,
//!   at the same concurrency and duration, and the ratio of our cache-hit
//!   throughput to the database's own.
//!
//! Needs the local PostgreSQL (TEST_DATABASE_URL), `nats-server` and
//! `pgbench` (PGBENCH, default /usr/lib/postgresql/15/bin/pgbench):
//! `cargo run --release -p charts --example charts_bench -- [seconds] [concurrency] [cold requests]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

fn birth(seconds_offset: u32) -> serde_json::Value {
    let h = 6 + seconds_offset / 3600;
    let m = (seconds_offset / 60) % 60;
    let s = seconds_offset % 60;
    serde_json::json!({"birth": {"date": "1990-05-01", "time": format!("{h:02}:{m:02}:{s:02}"), "place_id": 1264527},
                       "options": {"divisional": ["D9"]}})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let cold_n: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let db = testkit::TestDb::create().await?;
    let nats = testkit::NatsServer::start()?;
    let common_overrides = |port_key: &str| -> Vec<(String, String)> {
        vec![
            (port_key.into(), "0".into()),
            ("database.url".into(), db.url.clone()),
            ("nats.url".into(), nats.url()),
            ("telemetry.log_level".into(), "warn".into()),
        ]
    };

    // The charts service.
    let (base, cfg) = charts::load_config(&common_overrides("http.port"))?;
    let pool_size = base.database.max_connections;
    platform::cli::migrate(&base, charts::MIGRATIONS).await?;
    let app = charts::Application::build(base, cfg).await?;
    let charts_url = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let charts_stop = app.shutdown_token();
    let charts_task = tokio::spawn(app.run_until_stopped());

    // The gateway in front of it.
    let mut o = common_overrides("http.port");
    o.push(("upstreams.charts".into(), charts_url.clone()));
    let (gbase, gcfg) = gateway::load_config(&o)?;
    platform::cli::migrate(&gbase, gateway::MIGRATIONS).await?;
    let gw = gateway::Application::build(gbase, gcfg).await?;
    let gw_url = format!("http://127.0.0.1:{}", gw.port());
    let gw_stop = gw.shutdown_token();
    let gw_task = tokio::spawn(gw.run_until_stopped());

    let http = platform::http_client::client();
    let reg: serde_json::Value = http
        .post(format!("{gw_url}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "bench passphrase 108", "display_name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let bearer = reg["access_token"].as_str().unwrap_or_default().to_owned();
    let user: common::UserId = reg["user"]["id"].as_str().unwrap_or_default().parse()?;
    // Internal tokens live at most 60 s: each phase mints its own, as the
    // gateway signs one per request.
    let internal = platform::auth::InternalAuth::development("gateway")?;
    let principal = common::Principal {
        user_id: user,
        roles: vec![common::Role::User],
    };
    let mint = || internal.sign("charts", Some(&principal));

    println!(
        "charts bench: {seconds} s per measurement, {concurrency} concurrent clients, {cores} cores, db pool {pool_size}, compute threads {}",
        state.compute_threads
    );

    // Cold misses, sequentially: each a new instant.
    let mut cold = Vec::new();
    for i in 0..cold_n {
        let t = Instant::now();
        let r = http
            .post(format!("{charts_url}/api/v1/charts"))
            .header("x-internal-token", mint()?)
            .json(&birth(i + 1))
            .send()
            .await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await?;
        cold.push(t.elapsed().as_micros() as u64);
        anyhow::ensure!(
            status == 200 && body["cached"] == false,
            "cold request: {status} {body}"
        );
    }
    cold.sort_unstable();

    // The warm key.
    let hot = birth(0);
    let r = http
        .post(format!("{charts_url}/api/v1/charts"))
        .header("x-internal-token", mint()?)
        .json(&hot)
        .send()
        .await?;
    let body = r.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let key = {
        let client = platform::db::connect_admin(&db.url, Duration::from_secs(5)).await?;
        let id: uuid::Uuid = v["chart_id"].as_str().unwrap_or_default().parse()?;
        let row = client
            .query_one("SELECT key FROM charts.chart_cache WHERE id = $1", &[&id])
            .await?;
        row.get::<_, String>(0)
    };

    let direct_url = format!("{charts_url}/api/v1/charts");
    let (h, t) = (hot.clone(), mint()?);
    let direct = testkit::bench::http(seconds, concurrency, move |c| {
        c.post(&direct_url)
            .header("x-internal-token", t.as_str())
            .json(&h)
    })
    .await?;
    let via_url = format!("{gw_url}/api/v1/charts");
    let h = hot.clone();
    let via = testkit::bench::http(seconds, concurrency, move |c| {
        c.post(&via_url).bearer_auth(&bearer).json(&h)
    })
    .await?;
    let stats = state
        .cache
        .stats(state.compute_threads)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // pgbench: the cache's lookup SELECT alone, same key, concurrency, duration.
    let script = std::env::temp_dir().join(format!("charts-lookup-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!("SELECT id, chart::text FROM charts.chart_cache WHERE key = '{key}';\n"),
    )?;
    let pgbench =
        std::env::var("PGBENCH").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pgbench".into());
    let out = tokio::process::Command::new(&pgbench)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &concurrency.to_string(),
            "-j",
            &cores.to_string(),
            "-T",
            &format!("{}", seconds.ceil() as u64),
            "-f",
        ])
        .arg(&script)
        .arg(&db.url)
        .output()
        .await?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|s| s.parse::<f64>().ok());
    let pg_lat = text
        .lines()
        .find(|l| l.starts_with("latency average"))
        .map(str::to_owned)
        .unwrap_or_default();

    // Gazetteer search, in process (the handler adds JSON and HTTP).
    let queries = [
        "a", "ch", "chen", "new y", "san", "mumb", "los ang", "be", "kol", "zür", "madras", "st",
    ];
    let mut search = Vec::new();
    for _ in 0..20 {
        for q in queries {
            let t = Instant::now();
            let r = state.places.search(q, 10);
            search.push(t.elapsed().as_micros() as u64);
            anyhow::ensure!(!r.is_empty(), "no place for {q}");
        }
    }
    search.sort_unstable();
    let places_url = format!("{charts_url}/api/v1/places?q=chen&limit=10");
    let places_http =
        testkit::bench::http(seconds.min(3.0), concurrency, move |c| c.get(&places_url)).await?;

    println!("chart document: {} bytes", body.len());
    println!(
        "place search in process ({} queries, 1-7 letters): p50 {:.3} ms   p99 {:.3} ms   max {:.3} ms",
        search.len(),
        testkit::bench::percentile(&search, 0.5) as f64 / 1000.0,
        testkit::bench::percentile(&search, 0.99) as f64 / 1000.0,
        search.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    places_http.print("GET /places?q=chen&limit=10 (HTTP)", "req/s");
    println!(
        "cold miss (n={cold_n}, sequential, new instant each): p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        testkit::bench::percentile(&cold, 0.5) as f64 / 1000.0,
        testkit::bench::percentile(&cold, 0.99) as f64 / 1000.0,
        cold.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    direct.print("cache hit, direct to charts", "req/s");
    via.print("cache hit, through the gateway", "req/s");
    match tps {
        Some(tps) => {
            println!(
                "{:<40} {:>9.0} tx/s    {pg_lat}",
                format!("pgbench lookup SELECT ({concurrency} clients)"),
                tps
            );
            println!(
                "ratio: cache-hit throughput / database lookup throughput = {:.2} (direct), {:.2} (through gateway)",
                direct.per_sec / tps,
                via.per_sec / tps
            );
        }
        None => println!(
            "pgbench did not report tps (status {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    println!(
        "cache counters: computations {}, memory hits {}, database hits {}, misses {}, lru {}",
        stats.computations, stats.hits_memory, stats.hits_database, stats.misses, stats.lru_size
    );

    gw_stop.cancel();
    charts_stop.cancel();
    let _ = gw_task.await;
    let _ = charts_task.await;
    Ok(())
}
