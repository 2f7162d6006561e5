use crate::helpers::*;
use std::collections::HashSet;
use std::time::Duration;
use testkit::{PgServer, TestDb};

#[tokio::test]
async fn cache_hits_are_served_while_the_database_is_down() {
    let mut pg = PgServer::start().unwrap();
    let db = TestDb::create_on(&pg.url("postgres")).await.unwrap();
    let url = db.url.clone();
    std::mem::forget(db); // lives and dies with the private server
    let app = spawn_with(Options {
        database_url: Some(url),
        overrides: vec![
            ("database.wait_timeout_ms", "1000".into()),
            ("database.create_timeout_ms", "1000".into()),
            ("database.connect_timeout_ms", "1000".into()),
        ],
        ..Default::default()
    })
    .await;
    let alice = app.user();
    let hot = chennai_birth("1995-03-03", "03:03");
    let first = app.chart(&alice, &hot).await;
    pg.stop();
    // A hit needs neither the database nor the engine.
    for _ in 0..5 {
        let again = app.chart(&alice, &hot).await;
        assert_eq!(again["cached"], true);
        assert_eq!(again["chart_id"], first["chart_id"]);
    }
    // A miss needs the database: a clear 503, fast, nothing computed.
    let computations = app.app_state.cache.metrics.computations.get();
    let started = std::time::Instant::now();
    let r = app
        .post(
            "/api/v1/charts",
            Some(&alice),
            &chennai_birth("1995-03-03", "03:04"),
        )
        .await;
    let (status, e) = error(r).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (503, Some("database_unavailable"))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.app_state.cache.metrics.computations.get(), computations);
    // The database returns: misses work again, and the held-back hit counts land.
    pg.resume().unwrap();
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            app.post(
                "/api/v1/charts",
                Some(&alice),
                &chennai_birth("1995-03-03", "03:04"),
            )
            .await
            .status()
                == 200
        })
        .await
    );
    let db = app.db().await;
    assert!(
        testkit::wait_until(Duration::from_secs(5), || async {
            let hits: i64 = db
                .query_one("SELECT hits FROM charts.chart_cache WHERE key = (SELECT key FROM charts.chart_cache ORDER BY created_at LIMIT 1)", &[])
                .await
                .unwrap()
                .get(0);
            hits == 5
        })
        .await,
        "hit counts recorded while the database was down were lost"
    );
}

#[tokio::test]
async fn two_replicas_racing_on_a_cold_key_write_one_row_and_one_event() {
    let a = spawn_app().await;
    let b = spawn_with(Options {
        database_url: Some(a.database_url.clone()),
        nats_url: Some(a.nats_url.clone()),
        ..Default::default()
    })
    .await;
    let user = a.user();
    let body = chennai_birth("2012-12-12", "12:12:12");
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = if i % 2 == 0 { &a } else { &b };
        let http = app.http.clone();
        let url = app.url("/api/v1/charts");
        let token = user.token();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("X-Internal-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap()["chart_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "both replicas answer with the one row");
    assert_eq!(a.rows().await, 1);
    let computations =
        a.app_state.cache.metrics.computations.get() + b.app_state.cache.metrics.computations.get();
    assert!(
        (1..=2).contains(&computations),
        "at most once per process: {computations}"
    );
    let events: i64 = a
        .db()
        .await
        .query_one("SELECT count(*) FROM charts.outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 1, "one computed event per row");
}
