//! Gateway benchmark. Prints, side by side from one run:
//! * a small authenticated GET sent directly to an upstream (with an
//!   internal token) versus through the gateway (bearer token -> gateway ->
//!   internal token -> upstream): requests/s, p50, p99;
//! * login throughput with the configured Argon2id parameters.
//!
//! Needs the local PostgreSQL (TEST_DATABASE_URL) and `nats-server`:
//! `just bench-gateway` or `cargo run --release -p gateway --example gateway_bench -- [seconds] [concurrency]`.

use actix_web::{web, App, HttpResponse, HttpServer};
use platform::auth::Authenticated;
use std::time::{Duration, Instant};

async fn small(principal: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"user": principal.0.user_id, "ok": true}))
}

struct Stats {
    count: usize,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    errors: usize,
}

async fn load<F>(seconds: f64, concurrency: usize, make: F) -> anyhow::Result<Stats>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = platform::http_client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // Warm up connections.
    for _ in 0..concurrency {
        let _ = make(&client).send().await;
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let make = make.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(4096);
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match make(&client).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed().as_micros() as u64);
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(Stats {
        count: all.len(),
        rps: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    })
}

fn row(name: &str, s: &Stats) {
    println!(
        "{name:<34} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   n={} errors={}",
        s.rps,
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        s.count,
        s.errors
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);

    let db = testkit::TestDb::create().await?;
    let nats = testkit::NatsServer::start()?;

    // The upstream: verifies the internal token like every service does.
    let internal = platform::auth::InternalAuth::new(
        secrecy::SecretString::from("insecure-dev-internal-token-secret-change-me"),
        60,
    );
    let data = web::Data::new(internal.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let up_port = listener.local_addr()?.port();
    let upstream = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/v1/charts/ping", web::get().to(small))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(upstream);

    let overrides: Vec<(String, String)> = vec![
        ("http.port".into(), "0".into()),
        ("database.url".into(), db.url.clone()),
        ("nats.url".into(), nats.url()),
        (
            "upstreams.charts".into(),
            format!("http://127.0.0.1:{up_port}"),
        ),
        ("telemetry.log_level".into(), "warn".into()),
    ];
    let (base, cfg) = gateway::load_config(&overrides)?;
    let argon = (
        cfg.auth.argon2_memory_kib,
        cfg.auth.argon2_iterations,
        cfg.auth.argon2_parallelism,
    );
    platform::cli::migrate(&base, gateway::MIGRATIONS).await?;
    let app = gateway::Application::build(base, cfg).await?;
    let gw = format!("http://127.0.0.1:{}", app.port());
    let token = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());

    let http = platform::http_client::client();
    let password = "bench passphrase 108";
    let reg: serde_json::Value = http
        .post(format!("{gw}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": password, "display_name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let bearer = reg["access_token"].as_str().unwrap_or_default().to_owned();
    let user: common::UserId = reg["user"]["id"].as_str().unwrap_or_default().parse()?;
    let internal_token = internal.sign(&common::Principal {
        user_id: user,
        roles: vec![common::Role::User],
    })?;

    println!(
        "gateway bench: {seconds} s per measurement, {concurrency} concurrent clients, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let direct_url = format!("http://127.0.0.1:{up_port}/api/v1/charts/ping");
    let direct = load(seconds, concurrency, move |c| {
        c.get(&direct_url)
            .header("x-internal-token", internal_token.as_str())
    })
    .await?;
    let via_url = format!("{gw}/api/v1/charts/ping");
    let via = load(seconds, concurrency, move |c| {
        c.get(&via_url).bearer_auth(&bearer)
    })
    .await?;
    row("GET direct to upstream", &direct);
    row("GET through gateway", &via);
    println!(
        "gateway overhead: throughput {:.2}x of direct, p50 +{:.2} ms, p99 +{:.2} ms",
        via.rps / direct.rps.max(1.0),
        (via.p50_us as f64 - direct.p50_us as f64) / 1000.0,
        (via.p99_us as f64 - direct.p99_us as f64) / 1000.0
    );

    let login_url = format!("{gw}/api/v1/auth/login");
    let login_conc = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4);
    let login = load(seconds, login_conc, move |c| {
        c.post(&login_url).json(
            &serde_json::json!({"email": "bench@example.com", "password": "bench passphrase 108"}),
        )
    })
    .await?;
    row(&format!("POST login ({login_conc} clients)"), &login);
    println!(
        "argon2id parameters: m={} KiB, t={}, p={}",
        argon.0, argon.1, argon.2
    );

    token.cancel();
    let _ = server.await;
    Ok(())
}
