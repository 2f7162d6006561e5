//! The admin API, the public status, webhooks and metrics.

use crate::support::{self, Options};
use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A webhook receiver that keeps every JSON body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>, actix_web::dev::ServerHandle) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let server = HttpServer::new(move || {
        let g = g.clone();
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Json<Value>| {
                let g = g.clone();
                async move {
                    g.lock().unwrap().push(body.into_inner());
                    HttpResponse::Ok().body("ok")
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/hook"), got, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incidents_are_notified_listed_acknowledged_and_resolved_by_admins() {
    let (hook, got, server) = receiver().await;
    // The first webhook never answers: the second still gets everything.
    let dead = format!("http://127.0.0.1:{}/hook", testkit::free_port());
    let w = support::spawn(Options {
        monitor: vec![
            ("notify.webhooks", format!("{dead},{hook}")),
            ("notify.attempts", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    w.wait_watching().await;
    w.db.batch_execute("CREATE TABLE charts.api_probe (id int)")
        .await
        .unwrap();
    let row = w
        .wait_incident(
            "schema_drift:charts:extra:table:api_probe",
            "open",
            Duration::from_secs(15),
        )
        .await
        .expect("incident");
    let notified = testkit::wait_until(Duration::from_secs(15), || async {
        got.lock().unwrap().iter().any(|m| {
            m["incident"]["id"] == row.id.to_string() && m["incident"]["event"] == "opened"
        })
    })
    .await;
    assert!(notified, "the webhook got the opened incident");
    let msg = got.lock().unwrap()[0].clone();
    assert!(msg["text"].as_str().unwrap().contains("incident opened"));
    assert!(
        msg["attachments"][0]["fields"].is_array(),
        "Slack-compatible"
    );

    let admin = w.admin();
    let user = common::Principal {
        user_id: common::UserId::new(),
        roles: vec![common::Role::User],
    };
    // Only admins.
    let r = w
        .request(Method::GET, "/api/v1/admin/monitor/incidents", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = w
        .http
        .get(w.monitor().url("/api/v1/admin/monitor/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Listed with evidence.
    let list: Value = w
        .request(
            Method::GET,
            "/api/v1/admin/monitor/incidents?state=open",
            &admin,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let it = list["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == row.id.to_string())
        .expect("listed")
        .clone();
    assert_eq!(it["kind"], "schema_drift");
    assert_eq!(it["service"], "charts");
    assert_eq!(it["evidence"]["change"], "extra");
    let r = w
        .request(
            Method::GET,
            "/api/v1/admin/monitor/incidents?state=closed",
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // The public status says charts is degraded, in one word, and nothing else.
    let status: Value = w
        .http
        .get(w.monitor().url("/api/v1/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["services"]["charts"], "degraded", "{status}");
    assert_eq!(status["services"]["pricing"], "operational", "{status}");
    assert_eq!(status["status"], "degraded");
    assert_eq!(
        status.as_object().unwrap().len(),
        2,
        "no internals: {status}"
    );
    // Acknowledge, then resolve; a second resolve conflicts.
    let path = format!("/api/v1/admin/monitor/incidents/{}/acknowledge", row.id);
    let a: Value = w
        .request(Method::POST, &path, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["state"], "acknowledged");
    assert_eq!(a["acknowledged_by"], admin.user_id.as_uuid().to_string());
    let path = format!("/api/v1/admin/monitor/incidents/{}/resolve", row.id);
    let r: Value = w
        .request(Method::POST, &path, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["state"], "resolved");
    assert_eq!(r["resolved_by"], "admin");
    let again = w.request(Method::POST, &path, &admin).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let missing = w
        .request(
            Method::POST,
            "/api/v1/admin/monitor/incidents/not-an-id/resolve",
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The table is still there: the next check opens a new incident.
    let reopened = testkit::wait_until(Duration::from_secs(15), || async {
        w.incidents("schema_drift:charts:extra:table:api_probe")
            .await
            .iter()
            .any(|r| r.state == "open" && r.id != row.id)
    })
    .await;
    assert!(reopened, "a condition still present opens a new incident");
    // The overview, database, messaging, actions and policies answer.
    for path in [
        "overview",
        "database",
        "messaging",
        "schema",
        "actions",
        "policies",
    ] {
        let r = w
            .request(
                Method::GET,
                &format!("/api/v1/admin/monitor/{path}"),
                &admin,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let overview: Value = w
        .request(Method::GET, "/api/v1/admin/monitor/overview", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let charts = overview["data"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["service"] == "charts")
        .expect("charts in the overview")
        .clone();
    assert!(charts["endpoints"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));
    assert!(charts["db_pool_max"].as_i64().is_some());
    assert_eq!(overview["stale"], false);
    let db: Value = w
        .request(Method::GET, "/api/v1/admin/monitor/database", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(db["data"]["connections"]["charts"].as_i64().unwrap() >= 1);
    assert!(db["data"]["budget"]["per_service"]["pricing"]["pool_max_total"].is_i64());
    let policies: Value = w
        .request(Method::GET, "/api/v1/admin/monitor/policies", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(policies["policies"].as_array().unwrap().len(), 5);
    // Metrics.
    let metrics = w
        .http
        .get(w.monitor().url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for m in [
        "jyotiflow_monitor_leader",
        "jyotiflow_monitor_instances",
        "jyotiflow_monitor_db_connections",
        "jyotiflow_monitor_connection_budget_ratio",
        "jyotiflow_monitor_outbox_pending",
        "jyotiflow_monitor_incidents_open",
        "jyotiflow_monitor_schema_differences",
        "jyotiflow_monitor_db_blocked_sessions",
        "jyotiflow_monitor_table_dead_tuples{",
        "jyotiflow_monitor_consumer_pending{",
    ] {
        assert!(metrics.contains(m), "{m} in /metrics");
    }
    server.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_serves_the_public_status_without_a_token() {
    let w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    let (gb, gc) = gateway::load_config(&[
        ("env".to_owned(), "test".to_owned()),
        ("http.port".to_owned(), "0".to_owned()),
        ("http.metrics_address".to_owned(), "127.0.0.1:0".to_owned()),
        ("database.url".to_owned(), w.database_url.clone()),
        ("nats.url".to_owned(), w.nats_url.clone()),
        ("upstreams.monitor".to_owned(), w.monitor().address.clone()),
        (
            "upstreams.charts".to_owned(),
            w.charts.as_ref().unwrap().address.clone(),
        ),
        (
            "upstreams.pricing".to_owned(),
            w.pricing.as_ref().unwrap().address.clone(),
        ),
    ])
    .unwrap();
    platform::cli::migrate(&gb, gateway::MIGRATIONS)
        .await
        .unwrap();
    let app = gateway::Application::build(gb, gc).await.unwrap();
    let gw = testkit::Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        let Ok(r) = w.http.get(gw.url("/api/v1/status")).send().await else {
            return false;
        };
        if r.status() != 200 {
            return false;
        }
        let v: Value = r.json().await.unwrap_or_default();
        v["services"]["charts"] == "operational" && v["services"]["pricing"] == "operational"
    })
    .await;
    assert!(ok, "the status through the gateway");
    // The admin API is not public.
    let r = w
        .http
        .get(gw.url("/api/v1/admin/monitor/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
