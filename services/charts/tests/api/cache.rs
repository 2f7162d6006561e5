use crate::helpers::*;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test]
async fn two_hundred_concurrent_requests_for_a_cold_key_compute_once() {
    let app = spawn_app().await;
    let users: Vec<Caller> = (0..10).map(|_| app.user()).collect();
    let body = chennai_birth("2001-09-09", "09:09:09");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let http = app.http.clone();
        let url = app.url("/api/v1/charts");
        let token = users[i % users.len()].token();
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
    let mut charts = HashSet::new();
    for t in tasks {
        let v = t.await.unwrap();
        ids.insert(v["chart_id"].as_str().unwrap().to_owned());
        charts.insert(v["chart"].to_string());
    }
    assert_eq!(ids.len(), 1, "every request got the same chart row");
    assert_eq!(charts.len(), 1, "every request got the same chart");
    let stats = app.stats().await;
    assert_eq!(stats["computations"], 1, "the engine ran once: {stats}");
    assert_eq!(stats["rows"], 1);
    assert_eq!(
        stats["hits_memory"].as_u64().unwrap()
            + stats["misses"].as_u64().unwrap()
            + stats["hits_database"].as_u64().unwrap(),
        200
    );
    // Each of the ten users now owns it.
    let owners: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM charts.user_charts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owners, 10);
}

#[tokio::test]
async fn a_second_replica_reads_the_row_instead_of_computing() {
    let app = spawn_app().await;
    let alice = app.user();
    let body = chennai_birth("1977-01-26", "04:45");
    let first = app.chart(&alice, &body).await;
    // A second process on the same database and NATS.
    let other = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        nats_url: Some(app.nats_url.clone()),
        ..Default::default()
    })
    .await;
    let second = other.chart(&alice, &body).await;
    assert_eq!(second["cached"], true);
    assert_eq!(second["chart_id"], first["chart_id"]);
    assert_eq!(second["chart"], first["chart"]);
    let s = other.stats().await;
    assert_eq!(s["computations"], 0);
    assert_eq!(s["hits_database"], 1);
    // Then from its own memory.
    let third = other.chart(&alice, &body).await;
    assert_eq!(third["cached"], true);
    assert_eq!(other.stats().await["hits_memory"], 1);
}

#[tokio::test]
async fn an_engine_version_bump_invalidates_old_entries_and_purge_removes_them() {
    let app = spawn_app().await;
    let alice = app.user();
    let body = chennai_birth("1969-07-20", "20:17");
    let old = app.chart(&alice, &body).await;
    let old_version = old["chart"]["engine_version"].as_str().unwrap().to_owned();
    let bumped = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        nats_url: Some(app.nats_url.clone()),
        overrides: vec![("cache.engine_version", "test-bumped-2".into())],
    })
    .await;
    let new = bumped.chart(&alice, &body).await;
    assert_eq!(
        new["cached"], false,
        "an old-version row must not be served"
    );
    assert_ne!(new["chart_id"], old["chart_id"]);
    assert_eq!(new["chart"]["engine_version"], "test-bumped-2");
    assert_eq!(bumped.stats().await["computations"], 1);
    assert_eq!(app.rows().await, 2);

    // Purge everything but the bumped version (from the bumped replica).
    let admin = bumped.admin();
    let r = bumped
        .post(
            "/api/v1/admin/charts/cache/purge",
            Some(&admin),
            &json!({"stale_versions": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["deleted"], 1);
    let db = app.db().await;
    let versions: Vec<String> = db
        .query("SELECT engine_version FROM charts.chart_cache", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec!["test-bumped-2".to_owned()]);
    // The old chart id is gone for its owner.
    let id = old["chart_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/charts/{id}"), Some(&alice))
            .await
            .status(),
        404
    );
    // The old replica heard of the purge and recomputes instead of serving memory.
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(5), || async {
            app.stats().await["lru_size"] == 0
        })
        .await
    );
    let again = app.chart(&alice, &body).await;
    assert_eq!(again["cached"], false);
    assert_eq!(again["chart"]["engine_version"], old_version);
    assert_eq!(
        app.get(
            &format!("/api/v1/charts/{}", again["chart_id"].as_str().unwrap()),
            Some(&alice)
        )
        .await
        .status(),
        200
    );

    // Purge by explicit version and by age.
    let r = app
        .post(
            "/api/v1/admin/charts/cache/purge",
            Some(&app.admin()),
            &json!({"engine_version": "test-bumped-2"}),
        )
        .await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["deleted"], 1);
    let r = app
        .post(
            "/api/v1/admin/charts/cache/purge",
            Some(&app.admin()),
            &json!({"older_than_secs": 3600}),
        )
        .await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["deleted"], 0);
    let r = app
        .post(
            "/api/v1/admin/charts/cache/purge",
            Some(&app.admin()),
            &json!({"older_than_secs": 0}),
        )
        .await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["deleted"], 1);
    assert_eq!(app.rows().await, 0);
}

#[tokio::test]
async fn a_computed_chart_emits_an_event_through_the_outbox() {
    use futures_util::StreamExt;
    let app = spawn_app().await;
    let alice = app.user();
    let c = app
        .chart(&alice, &chennai_birth("1999-12-31", "23:59:59"))
        .await;
    let nats = async_nats::connect(&app.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(nats);
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(10), || {
            let js = js.clone();
            async move {
                match js.get_stream("EVT_CHARTS").await {
                    Ok(mut s) => s
                        .info()
                        .await
                        .map(|i| i.state.messages >= 1)
                        .unwrap_or(false),
                    Err(_) => false,
                }
            }
        })
        .await,
        "no event reached EVT_CHARTS"
    );
    let stream = js.get_stream("EVT_CHARTS").await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: "evt.charts.chart.computed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.fetch().max_messages(1).messages().await.unwrap();
    let msg = msgs.next().await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(v["type"], "charts.chart.computed");
    assert_eq!(v["data"]["chart_id"], c["chart_id"]);
    assert_eq!(v["data"]["utc"], "1999-12-31T18:29:59Z");
    // A cached answer emits nothing more.
    let _ = app
        .chart(&alice, &chennai_birth("1999-12-31", "23:59:59"))
        .await;
    let db = app.db().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM charts.outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn cache_hits_do_not_wait_behind_computations() {
    let app = spawn_with(Options {
        overrides: vec![("cache.compute_threads", "1".into())],
        ..Default::default()
    })
    .await;
    let alice = app.user();
    let hot = chennai_birth("2000-01-01", "00:00");
    app.chart(&alice, &hot).await;
    let metrics = app.app_state.cache.metrics.clone();
    let before = metrics.computations.get();
    // Queue many cold computations on the single compute thread ...
    let cold = 24u64;
    let mut tasks = Vec::new();
    for i in 0..cold {
        let http = app.http.clone();
        let url = app.url("/api/v1/charts");
        let token = alice.token();
        let body = chennai_birth("2000-01-01", &format!("01:{:02}:{:02}", i / 60, i % 60));
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("X-Internal-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }));
    }
    // ... wait until they are running ...
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(10), || {
            let m = metrics.clone();
            async move { m.computations.get() > before }
        })
        .await
    );
    // ... and a hit is answered while most are still queued.
    let hit = app.chart(&alice, &hot).await;
    assert_eq!(hit["cached"], true);
    let done = metrics.computations.get() - before;
    assert!(done < cold, "the hit waited for all {cold} computations");
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(metrics.computations.get() - before, cold);
}
