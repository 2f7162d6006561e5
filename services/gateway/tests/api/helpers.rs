use std::time::Duration;
use testkit::{NatsServer, TestDb};
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "a quiet lotus 108";

/// Where the app's database and NATS come from.
#[derive(Default)]
pub struct Options {
    /// An existing database URL (e.g. on a private PgServer); default: a fresh TestDb.
    pub database_url: Option<String>,
    /// An existing NATS URL; default: a private nats-server.
    pub nats_url: Option<String>,
    pub overrides: Vec<(&'static str, String)>,
    /// Skip `migrate` (for tests that start without a database).
    pub skip_migrate: bool,
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    pub nats: Option<NatsServer>,
    /// Dropped (and the database with it) when the app is dropped.
    _db: Option<TestDb>,
    token: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn overrides(
    database_url: &str,
    nats_url: &str,
    extra: &[(&'static str, String)],
) -> Vec<(String, String)> {
    let mut o: Vec<(String, String)> = vec![
        ("env".into(), "test".into()),
        ("http.port".into(), "0".into()),
        ("http.workers".into(), "2".into()),
        ("http.shutdown_timeout_secs".into(), "5".into()),
        ("database.url".into(), database_url.into()),
        ("database.wait_timeout_ms".into(), "1000".into()),
        ("database.create_timeout_ms".into(), "1000".into()),
        ("database.connect_timeout_ms".into(), "1000".into()),
        ("nats.url".into(), nats_url.into()),
        ("nats.request_timeout_ms".into(), "2000".into()),
        ("outbox.poll_interval_ms".into(), "100".into()),
        // Cheaper hashing keeps the suite fast; the defaults are benchmarked separately.
        ("auth.argon2_memory_kib".into(), "8192".into()),
        ("auth.argon2_iterations".into(), "1".into()),
    ];
    for (k, v) in extra {
        o.retain(|(ok, _)| ok != k);
        o.push(((*k).to_owned(), v.clone()));
    }
    o
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    testkit::init_logs();
    let (db, database_url) = match opts.database_url {
        Some(u) => (None, u),
        None => {
            let db = TestDb::create().await.expect("create test database");
            let url = db.url.clone();
            (Some(db), url)
        }
    };
    let (nats, nats_url) = match opts.nats_url {
        Some(u) => (None, u),
        None => {
            let n = NatsServer::start().expect("start nats-server");
            let url = n.url();
            (Some(n), url)
        }
    };
    let o = overrides(&database_url, &nats_url, &opts.overrides);
    let (base, cfg) = gateway::load_config(&o).expect("config");
    if !opts.skip_migrate {
        platform::cli::migrate(&base, gateway::MIGRATIONS)
            .await
            .expect("migrate");
    }
    let app = gateway::Application::build(base, cfg)
        .await
        .expect("build app");
    let port = app.port();
    let token = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        database_url,
        nats_url,
        nats,
        _db: db,
        token,
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> serde_json::Value {
        let r = self
            .post_json(
                "/api/v1/auth/register",
                &serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Test User"}),
            )
            .await;
        assert_eq!(r.status(), 201, "register failed");
        r.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn ready(&self) -> bool {
        matches!(self.http.get(self.url("/readyz")).send().await, Ok(r) if r.status() == 200)
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap()
    }

    /// Shuts the app down gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.token.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Asserts the platform's error shape and returns the code.
pub async fn error_code(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("error body is JSON");
    let e = &body["error"];
    assert!(e["code"].is_string(), "error.code missing: {body}");
    assert!(e["message"].is_string(), "error.message missing: {body}");
    assert!(
        e["request_id"].is_string(),
        "error.request_id missing: {body}"
    );
    (status, e.clone())
}
