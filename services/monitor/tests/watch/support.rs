//! charts, pricing and the monitor (one or more replicas) on one fresh
//! database and a private NATS server. The monitor connects as a role of
//! its own that has only `pg_monitor` (and its schema's tables); faults are
//! made from a superuser connection.

#![allow(dead_code)]

use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use std::time::{Duration, Instant};
use testkit::{NatsServer, Running, TestDb};
use uuid::Uuid;

pub struct Options {
    pub monitor: Vec<(&'static str, String)>,
    pub pricing: Vec<(&'static str, String)>,
    pub replicas: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            monitor: Vec::new(),
            pricing: Vec::new(),
            replicas: 1,
        }
    }
}

/// The round interval the tests run the monitor with.
pub const INTERVAL_MS: u64 = 500;

pub struct World {
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    pub charts: Option<Running>,
    pub pricing: Option<Running>,
    pub monitors: Vec<Option<Running>>,
    /// Which replica (index) is which application, for `is_leader`.
    pub leaders: Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    pub monitor_overrides: Vec<(String, String)>,
    pub charts_overrides: Vec<(String, String)>,
    /// A superuser connection to the test database.
    pub db: tokio_postgres::Client,
    pub auth: InternalAuth,
    pub nats: Option<NatsServer>,
    _db: Option<TestDb>,
}

pub async fn spawn(opts: Options) -> World {
    let backing = testkit::Backing::new(None, None)
        .await
        .expect("database and NATS");
    let charts_overrides = backing.overrides(&[]);
    let (cb, _) = charts::load_config(&charts_overrides).expect("charts config");
    platform::cli::migrate(&cb, charts::MIGRATIONS)
        .await
        .expect("charts migrate");
    let mut po: Vec<(&str, String)> = vec![("credits.welcome_grant", "0".into())];
    po.extend(opts.pricing.iter().cloned());
    let (pb, pc) = pricing::load_config(&backing.overrides(&po)).expect("pricing config");
    platform::cli::migrate(&pb, pricing::MIGRATIONS)
        .await
        .expect("pricing migrate");
    let (mb, _) = monitor::load_config(&backing.overrides(&[])).expect("monitor config");
    platform::cli::migrate(&mb, monitor::MIGRATIONS)
        .await
        .expect("monitor migrate");
    let db = platform::db::connect_admin(&backing.database_url, Duration::from_secs(10))
        .await
        .expect("superuser connection");
    // The monitor's own role: pg_monitor, and its schema's tables.
    let role = format!("mon_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let password = Uuid::new_v4().simple().to_string();
    db.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE pg_monitor;
         GRANT CONNECT ON DATABASE \"{}\" TO {role};
         GRANT USAGE ON SCHEMA monitor TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA monitor TO {role};",
        database_name(&backing.database_url)
    ))
    .await
    .expect("monitor role");
    let mut url = reqwest::Url::parse(&backing.database_url).expect("database url");
    url.set_username(&role).expect("user");
    url.set_password(Some(&password)).expect("password");
    let mut mo: Vec<(&str, String)> = vec![
        ("database.url", url.to_string()),
        ("watch.interval_ms", INTERVAL_MS.to_string()),
        ("watch.collect_ms", "200".into()),
        ("watch.ready_timeout_ms", "400".into()),
        ("watch.database_interval_ms", "500".into()),
        ("watch.messaging_interval_ms", "500".into()),
        ("watch.schema_interval_ms", "1000".into()),
        ("watch.services", "charts,pricing".into()),
        ("leader.check_ms", "500".into()),
        ("thresholds.long_statement_ms", "60000".into()),
    ];
    mo.extend(opts.monitor.iter().cloned());
    let monitor_overrides = backing.overrides(&mo);
    let charts = start_charts(&charts_overrides).await;
    let pricing_app = pricing::Application::build(pb, pc).await.expect("pricing");
    let pricing = Running::spawn(
        pricing_app.port(),
        pricing_app.shutdown_token(),
        pricing_app.run_until_stopped(),
    );
    let mut w = World {
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        database_url: backing.database_url.clone(),
        nats_url: backing.nats_url.clone(),
        charts: Some(charts),
        pricing: Some(pricing),
        monitors: Vec::new(),
        leaders: Vec::new(),
        monitor_overrides,
        charts_overrides,
        db,
        auth: InternalAuth::development("gateway").unwrap(),
        nats: backing.nats,
        _db: backing.db,
    };
    for _ in 0..opts.replicas {
        w.start_monitor().await;
    }
    w
}

fn database_name(url: &str) -> String {
    let head = url.split('?').next().unwrap_or(url);
    head.rsplit('/').next().unwrap_or("").to_owned()
}

pub async fn start_charts(overrides: &[(String, String)]) -> Running {
    let (cb, cc) = charts::load_config(overrides).expect("charts config");
    let app = charts::Application::build(cb, cc).await.expect("charts");
    Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped())
}

/// An incident row as the tests read it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub fingerprint: String,
    pub state: String,
    pub severity: String,
    pub evidence: serde_json::Value,
}

impl World {
    /// Starts one more monitor replica.
    pub async fn start_monitor(&mut self) -> usize {
        let (b, c) = monitor::load_config(&self.monitor_overrides).expect("monitor config");
        let app = monitor::Application::build(b, c).await.expect("monitor");
        let leading = app.state().leading.clone();
        self.leaders.push(leading);
        self.monitors.push(Some(Running::spawn(
            app.port(),
            app.shutdown_token(),
            app.run_until_stopped(),
        )));
        self.monitors.len() - 1
    }

    pub async fn stop_monitor(&mut self, i: usize) {
        if let Some(mut m) = self.monitors[i].take() {
            m.stop().await;
        }
    }

    pub fn monitor(&self) -> &Running {
        self.monitors
            .iter()
            .flatten()
            .next()
            .expect("a running monitor")
    }

    /// Indexes of the replicas that lead now.
    pub fn leading(&self) -> Vec<usize> {
        self.leaders
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                self.monitors[*i].is_some() && l.load(std::sync::atomic::Ordering::Relaxed)
            })
            .map(|(i, _)| i)
            .collect()
    }

    pub async fn incidents(&self, fingerprint_prefix: &str) -> Vec<Row> {
        self.db
            .query(
                "SELECT id, fingerprint, state, severity, evidence FROM monitor.incidents
                 WHERE starts_with(fingerprint, $1) ORDER BY first_seen",
                &[&fingerprint_prefix],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| Row {
                id: r.get(0),
                fingerprint: r.get(1),
                state: r.get(2),
                severity: r.get(3),
                evidence: r.get(4),
            })
            .collect()
    }

    /// Waits until an incident whose fingerprint starts so is in `state`.
    pub async fn wait_incident(&self, prefix: &str, state: &str, timeout: Duration) -> Option<Row> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self
                .incidents(prefix)
                .await
                .into_iter()
                .find(|r| r.state == state)
            {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Audited actions of `policy`: (target, result, dry_run, detail, service).
    pub async fn actions(
        &self,
        policy: &str,
    ) -> Vec<(String, String, bool, serde_json::Value, String)> {
        self.db
            .query(
                "SELECT target, result, dry_run, detail, service FROM monitor.actions WHERE policy = $1 ORDER BY at",
                &[&policy],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
    }

    pub async fn wait_action(
        &self,
        policy: &str,
        timeout: Duration,
    ) -> Option<(String, String, bool, serde_json::Value, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self.actions(policy).await.into_iter().next() {
                return Some(a);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the leader has seen charts and pricing live (and stored it).
    pub async fn wait_watching(&self) {
        let ok = testkit::wait_until(Duration::from_secs(30), || async {
            let row = self
                .db
                .query_opt(
                    "SELECT data FROM monitor.snapshots WHERE area = 'overview'",
                    &[],
                )
                .await
                .unwrap();
            let Some(row) = row else { return false };
            let data: serde_json::Value = row.get(0);
            let live = |svc: &str| {
                data["instances"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|i| i["service"] == svc && i["state"] == "live" && i["ready"] == true)
                })
            };
            live("charts") && live("pricing")
        })
        .await;
        assert!(ok, "the monitor did not see charts and pricing live");
    }

    pub fn admin(&self) -> Principal {
        Principal {
            user_id: UserId::new(),
            roles: vec![Role::User, Role::Admin],
        }
    }

    /// A request to the monitor as the gateway would forward it for `who`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        who: &Principal,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, self.monitor().url(path)).header(
            "X-Internal-Token",
            self.auth.sign("monitor", Some(who)).unwrap(),
        )
    }

    /// A NATS client signed as the monitor (to ask services directly).
    pub async fn bus(&self) -> platform::nats::Bus {
        let client = async_nats::connect(&self.nats_url).await.unwrap();
        platform::nats::Bus::new(
            client,
            InternalAuth::development("monitor").unwrap(),
            "",
            Duration::from_secs(5),
        )
    }
}
