//! Schema drift, statements over their limit, the connection budget,
//! deleted consumers, and dry runs.

use crate::support::{self, Options};
use std::time::Duration;

async fn index_exists(w: &support::World, name: &str) -> bool {
    w.db.query_opt(
        "SELECT 1 FROM pg_indexes WHERE schemaname = 'charts' AND indexname = $1",
        &[&name],
    )
    .await
    .unwrap()
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_index_is_reported_and_recreated_by_charts_and_audited() {
    let w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    w.db.batch_execute(
        "DROP INDEX charts.user_charts_chart_idx;
         ALTER TABLE charts.profiles DROP CONSTRAINT profiles_relation_known;",
    )
    .await
    .unwrap();
    let row = w
        .wait_incident(
            "schema_drift:charts:missing:index:user_charts_chart_idx",
            "open",
            Duration::from_secs(15),
        )
        .await
        .expect("drift reported by charts");
    assert_eq!(
        row.evidence["expected"]
            .as_str()
            .map(|s| s.contains("CREATE INDEX")),
        Some(true)
    );
    let repaired = testkit::wait_until(Duration::from_secs(15), || async {
        index_exists(&w, "user_charts_chart_idx").await
    })
    .await;
    assert!(repaired, "charts re-created the index");
    // The constraint too, validated (not left NOT VALID).
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        w.db.query_opt(
            "SELECT 1 FROM pg_constraint WHERE conname = 'profiles_relation_known' AND convalidated",
            &[],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    assert!(ok, "charts re-added and validated the constraint");
    let actions = w.actions("schema_repair").await;
    let index = actions
        .iter()
        .find(|a| a.0 == "index:user_charts_chart_idx")
        .expect("the repair is audited");
    assert_eq!(index.1, "done");
    assert_eq!(index.4, "charts", "carried out by the owning service");
    assert!(!index.2);
    assert!(index.3["statements"][0]
        .as_str()
        .is_some_and(|s| s.contains("user_charts_chart_idx")));
    // Drift gone: the incident resolves itself.
    w.wait_incident(
        "schema_drift:charts:missing:index:user_charts_chart_idx",
        "resolved",
        Duration::from_secs(15),
    )
    .await
    .expect("resolved once charts' schema matches again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_extra_column_is_reported_and_never_changed() {
    let w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    w.db.batch_execute("ALTER TABLE charts.profiles ADD COLUMN nickname text")
        .await
        .unwrap();
    let row = w
        .wait_incident(
            "schema_drift:charts:extra:column:profiles.nickname",
            "open",
            Duration::from_secs(15),
        )
        .await
        .expect("the extra column is reported");
    assert_eq!(row.severity, "critical");
    assert_eq!(row.evidence["actual"], "text");
    // Several schema checks later: still there, still open, nothing attempted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still: bool = w
        .db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'charts' AND table_name = 'profiles' AND column_name = 'nickname')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(still, "the column is never dropped automatically");
    assert!(
        w.actions("schema_repair").await.is_empty(),
        "no repair attempted"
    );
    assert_eq!(
        w.incidents("schema_drift:charts:extra:column:profiles.nickname")
            .await
            .iter()
            .filter(|r| r.state == "open")
            .count(),
        1
    );
}

/// A session sleeping under `app`'s name; returns its pid and the task.
async fn sleeper(
    url: &str,
    app: &str,
) -> (
    i32,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) {
    let c = platform::db::connect_admin(url, Duration::from_secs(10))
        .await
        .unwrap();
    c.batch_execute(&format!(
        "SET application_name = '{app}'; SET statement_timeout = 0"
    ))
    .await
    .unwrap();
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let task =
        tokio::spawn(async move { c.batch_execute("SELECT pg_sleep(60)").await.map(|_| ()) });
    (pid, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_over_its_hard_limit_is_cancelled_by_its_own_service_only() {
    let w = support::spawn(Options {
        monitor: vec![(
            "policies.cancel_statement.per_service.pricing",
            "2000".into(),
        )],
        ..Default::default()
    })
    .await;
    w.wait_watching().await;
    let (pricing_pid, pricing_task) = sleeper(&w.database_url, "pricing").await;
    let (charts_pid, charts_task) = sleeper(&w.database_url, "charts").await;
    let ended = tokio::time::timeout(Duration::from_secs(20), pricing_task).await;
    if ended.is_err() {
        let logs = testkit::logs();
        for l in logs
            .lines()
            .filter(|l| {
                l.contains("monitor")
                    && (l.contains("WARN")
                        || l.contains("ERROR")
                        || l.contains("action")
                        || l.contains("incident"))
            })
            .take(40)
        {
            println!("{l}");
        }
        println!("{:?}", w.incidents("").await);
    }
    let ended = ended.expect("pricing's statement was cancelled").unwrap();
    let e = ended.expect_err("cancelled, not finished");
    assert_eq!(
        e.as_db_error().map(|d| d.code().clone()),
        Some(tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e:?}"
    );
    let a = w
        .wait_action("cancel_statement", Duration::from_secs(5))
        .await
        .expect("audited");
    assert_eq!(a.0, format!("pid:{pricing_pid}"));
    assert_eq!(a.1, "done");
    assert_eq!(a.4, "pricing", "cancelled by pricing itself");
    // charts' statement (its limit is the default five minutes) runs on.
    assert!(
        !charts_task.is_finished(),
        "another service's statement is untouched"
    );
    let active: bool =
        w.db.query_one(
            "SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1",
            &[&charts_pid],
        )
        .await
        .unwrap()
        .get(0);
    assert!(active);
    assert!(w
        .actions("cancel_statement")
        .await
        .iter()
        .all(|a| a.0 != format!("pid:{charts_pid}")));
    w.db.query_one("SELECT pg_cancel_backend($1)", &[&charts_pid])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pools_configured_over_the_connection_budget_open_an_incident() {
    let c = platform::db::connect_admin(&testkit::admin_url(), Duration::from_secs(10))
        .await
        .unwrap();
    let max: i64 = c
        .query_one("SELECT current_setting('max_connections')::int8", &[])
        .await
        .unwrap()
        .get(0);
    drop(c);
    // pricing alone claims the whole server.
    let w = support::spawn(Options {
        pricing: vec![("database.max_connections", max.to_string())],
        ..Default::default()
    })
    .await;
    w.wait_watching().await;
    let row = w
        .wait_incident("connection_budget", "open", Duration::from_secs(15))
        .await
        .expect("the budget incident");
    assert_eq!(row.evidence["max_connections"], max);
    assert!(row.evidence["per_service"]["pricing"]["pool_max_total"].as_i64() == Some(max));
    assert!(row.evidence["used_pct"].as_f64().unwrap() > 80.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_durable_consumer_is_recreated_by_its_service() {
    let w = support::spawn(Options::default()).await;
    let bus = w.bus().await;
    // pricing's own event stream (it is created with pricing's first event).
    platform::nats::ensure_stream(&bus, "pricing")
        .await
        .unwrap();
    let durable = pricing::usage::CONSUMER;
    let stream = bus.js.get_stream("EVT_PRICING").await.unwrap();
    let ok = testkit::wait_until(Duration::from_secs(20), || {
        let stream = stream.clone();
        async move { stream.consumer_info(durable).await.is_ok() }
    })
    .await;
    assert!(ok, "pricing created its consumer");
    w.wait_watching().await;
    // (pricing may have started before its stream existed: the monitor may
    // already have reported and re-created its consumer once.)
    let fp = format!("consumer_missing:pricing:{durable}");
    let settled = testkit::wait_until(Duration::from_secs(15), || async {
        w.incidents(&fp).await.iter().all(|r| r.state == "resolved")
    })
    .await;
    assert!(settled);
    let before = w.incidents(&fp).await.len();
    let actions_before = w.actions("recreate_consumer").await.len();
    stream.delete_consumer(durable).await.unwrap();
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        w.incidents(&fp).await.len() > before
    })
    .await;
    assert!(ok, "the missing consumer is reported");
    let row = w.incidents(&fp).await.pop().unwrap();
    assert_eq!(row.severity, "critical");
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        w.actions("recreate_consumer").await.len() > actions_before
    })
    .await;
    assert!(ok, "the re-creation is audited");
    let a = w.actions("recreate_consumer").await.pop().unwrap();
    assert_eq!(a.1, "done", "{a:?}");
    assert_eq!(a.4, "pricing");
    let info = stream.consumer_info(durable).await;
    assert!(info.is_ok(), "it exists again: {info:?} after {a:?}");
    let resolved = testkit::wait_until(Duration::from_secs(15), || async {
        w.incidents(&fp)
            .await
            .iter()
            .any(|r| r.id == row.id && r.state == "resolved")
    })
    .await;
    assert!(resolved, "resolved once the consumer is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_dry_run_the_monitor_reports_and_audits_but_changes_nothing() {
    let w = support::spawn(Options {
        monitor: vec![
            ("policies.dry_run", "true".into()),
            (
                "policies.cancel_statement.per_service.pricing",
                "1000".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    w.wait_watching().await;
    w.db.batch_execute("DROP INDEX charts.chart_cache_created_idx")
        .await
        .unwrap();
    let (pid, task) = sleeper(&w.database_url, "pricing").await;
    w.wait_incident(
        "schema_drift:charts:missing:index:chart_cache_created_idx",
        "open",
        Duration::from_secs(15),
    )
    .await
    .expect("drift reported");
    let repair = w
        .wait_action("schema_repair", Duration::from_secs(15))
        .await
        .expect("the dry run is audited");
    assert_eq!(repair.1, "dry_run");
    assert!(repair.2);
    assert!(repair.3["statements"][0]
        .as_str()
        .is_some_and(|s| s.contains("chart_cache_created_idx")));
    let cancel = w
        .wait_action("cancel_statement", Duration::from_secs(15))
        .await
        .expect("the dry cancel is audited");
    assert_eq!(cancel.0, format!("pid:{pid}"));
    assert_eq!(cancel.1, "dry_run");
    // Rounds later nothing has changed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !index_exists(&w, "chart_cache_created_idx").await,
        "index still missing"
    );
    assert!(!task.is_finished(), "the statement still runs");
    w.db.query_one("SELECT pg_cancel_backend($1)", &[&pid])
        .await
        .unwrap();
}
