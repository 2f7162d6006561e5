use crate::helpers::*;
use std::time::{Duration, Instant};
use testkit::{wait_until, NatsServer, PgServer, TestDb};

async fn migrated_db_on(pg: &PgServer) -> String {
    let db = TestDb::create_on(&pg.url("postgres")).await.unwrap();
    let url = db.url.clone();
    std::mem::forget(db); // lives and dies with the private server
    let o = overrides(&url, "nats://127.0.0.1:1", &[]);
    let (base, _) = gateway::load_config(&o).unwrap();
    platform::cli::migrate(&base, gateway::MIGRATIONS)
        .await
        .unwrap();
    url
}

#[tokio::test]
async fn starts_without_the_database_and_becomes_ready_when_it_arrives() {
    let mut pg = PgServer::start().unwrap();
    let url = migrated_db_on(&pg).await;
    pg.stop();
    let app = spawn_with(Options {
        database_url: Some(url),
        skip_migrate: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], false);
    // Requests that need the database fail fast and clearly.
    let started = Instant::now();
    let r = app.login("a@example.com", PASSWORD).await;
    let (s, e) = error_code(r).await;
    assert_eq!(
        (s, e["code"].as_str().unwrap()),
        (503, "database_unavailable")
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    pg.resume().unwrap();
    let up = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || app.ready()).await,
        "not ready 5 s after the database came up"
    );
    let took = up.elapsed();
    app.register("after@example.com").await;
    eprintln!("ready {took:?} after the database came up");
}

#[tokio::test]
async fn starts_without_nats_and_becomes_ready_when_it_arrives() {
    let mut nats = NatsServer::start().unwrap();
    nats.stop();
    let app = spawn_with(Options {
        nats_url: Some(nats.url()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["nats"], false);
    nats.resume().unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || app.ready()).await,
        "not ready 5 s after NATS came up"
    );
}

#[tokio::test]
async fn database_outage_while_serving_fails_fast_and_recovers() {
    let mut pg = PgServer::start().unwrap();
    let url = migrated_db_on(&pg).await;
    let app = spawn_with(Options {
        database_url: Some(url),
        skip_migrate: true,
        ..Default::default()
    })
    .await;
    let reg = app.register("outage@example.com").await;
    let token = reg["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_with_token("/api/v1/me", &token).await.status(), 200);

    pg.stop();
    let started = Instant::now();
    let (s, e) = error_code(app.get_with_token("/api/v1/me", &token).await).await;
    let took = started.elapsed();
    assert_eq!(
        (s, e["code"].as_str().unwrap()),
        (503, "database_unavailable")
    );
    // wait_timeout and create_timeout are 1 s here: no hang.
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(wait_until(Duration::from_secs(5), || async { !app.ready().await }).await);

    pg.resume().unwrap();
    let ok = wait_until(Duration::from_secs(10), || async {
        app.get_with_token("/api/v1/me", &token).await.status() == 200
    })
    .await;
    assert!(ok, "the service did not recover without a restart");
    assert!(wait_until(Duration::from_secs(5), || app.ready()).await);
}

#[tokio::test]
async fn twenty_concurrent_migrate_processes_apply_each_migration_once() {
    let db = TestDb::create().await.unwrap();
    let children: Vec<_> = (0..20)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .arg("migrate")
                .env("JYOTIFLOW__DATABASE__URL", &db.url)
                .env("JYOTIFLOW__TELEMETRY__LOG_LEVEL", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let client = platform::db::connect_admin(&db.url, Duration::from_secs(5))
        .await
        .unwrap();
    let rows = client
        .query("SELECT version, count(*) FROM gateway.schema_migrations GROUP BY version ORDER BY version", &[])
        .await
        .unwrap();
    let got: Vec<(i32, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i32, i64)> = platform::cli::PLATFORM_MIGRATIONS
        .iter()
        .chain(gateway::MIGRATIONS)
        .map(|m| (m.version, 1))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn connections_never_exceed_max_connections_under_500_concurrent_requests() {
    let app = spawn_with(Options {
        overrides: vec![
            ("database.max_connections", "4".into()),
            ("database.wait_timeout_ms", "20000".into()),
        ],
        ..Default::default()
    })
    .await;
    let reg = app.register("load@example.com").await;
    let token = reg["access_token"].as_str().unwrap().to_owned();
    let db_name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let observer = app.db().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut max = 0i64;
            let mut samples = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = observer
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gateway' AND datname = $1",
                        &[&db_name],
                    )
                    .await
                    .unwrap()
                    .get(0);
                max = max.max(n);
                samples += 1;
                tokio::task::yield_now().await;
            }
            (max, samples)
        })
    };
    let client = platform::http_client::builder()
        .pool_max_idle_per_host(500)
        .build()
        .unwrap();
    let requests = (0..500).map(|_| {
        let client = client.clone();
        let url = app.url("/api/v1/me");
        let token = token.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (max, samples) = sampler.await.unwrap();
    let ok = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    assert_eq!(
        ok,
        500,
        "{:?}",
        statuses
            .iter()
            .filter(|s| !matches!(s, Ok(200)))
            .take(3)
            .collect::<Vec<_>>()
    );
    assert!(
        samples > 3,
        "sampled too rarely to mean anything ({samples})"
    );
    assert!(max >= 1, "the sampler saw no gateway connection at all");
    assert!(max <= 4, "saw {max} connections with MAX_CONNECTIONS = 4");
}
