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

async fn small(principal: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"user": principal.0.user_id, "ok": true}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);

    let db = testkit::TestDb::create().await?;
    let nats = testkit::NatsServer::start()?;

    // The upstream: verifies the internal token like every service does.
    let internal = platform::auth::InternalAuth::development("charts")?;
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
        ("env".into(), "development".into()),
        ("http.port".into(), "0".into()),
        ("http.metrics_address".into(), "127.0.0.1:0".into()),
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
    let internal_token = platform::auth::InternalAuth::development("gateway")?.sign(
        "charts",
        Some(&common::Principal {
            user_id: user,
            roles: vec![common::Role::User],
        }),
    )?;

    println!(
        "gateway bench: {seconds} s per measurement, {concurrency} concurrent clients, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let direct_url = format!("http://127.0.0.1:{up_port}/api/v1/charts/ping");
    let direct = testkit::bench::http(seconds, concurrency, move |c| {
        c.get(&direct_url)
            .header("x-internal-token", internal_token.as_str())
    })
    .await?;
    let via_url = format!("{gw}/api/v1/charts/ping");
    let via = testkit::bench::http(seconds, concurrency, move |c| {
        c.get(&via_url).bearer_auth(&bearer)
    })
    .await?;
    direct.print("GET direct to upstream", "req/s");
    via.print("GET through gateway", "req/s");
    println!(
        "gateway overhead: throughput {:.2}x of direct, p50 +{:.2} ms, p99 +{:.2} ms",
        via.per_sec / direct.per_sec.max(1.0),
        (via.p50_us as f64 - direct.p50_us as f64) / 1000.0,
        (via.p99_us as f64 - direct.p99_us as f64) / 1000.0
    );

    let login_url = format!("{gw}/api/v1/auth/login");
    let login_conc = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4);
    let login = testkit::bench::http(seconds, login_conc, move |c| {
        c.post(&login_url).json(
            &serde_json::json!({"email": "bench@example.com", "password": "bench passphrase 108"}),
        )
    })
    .await?;
    login.print(&format!("POST login ({login_conc} clients)"), "req/s");
    println!(
        "argon2id parameters: m={} KiB, t={}, p={}",
        argon.0, argon.1, argon.2
    );

    token.cancel();
    let _ = server.await;
    Ok(())
}
