use std::time::Duration;
use testkit::{NatsServer, TestDb};

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
    /// The gateway's separate metrics listener.
    pub metrics_port: Option<u16>,
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    pub nats: Option<NatsServer>,
    /// Dropped (and the database with it) when the app is dropped.
    _db: Option<TestDb>,
    running: testkit::Running,
}

/// The gateway's test settings on top of testkit's: short database timeouts
/// (fault tests measure them) and cheaper hashing (the default Argon2 cost is
/// benchmarked separately).
const GATEWAY_TEST_SETTINGS: &[(&str, &str)] = &[
    ("database.wait_timeout_ms", "1000"),
    ("database.create_timeout_ms", "1000"),
    ("database.connect_timeout_ms", "1000"),
    ("nats.request_timeout_ms", "2000"),
    ("auth.argon2_memory_kib", "8192"),
    ("auth.argon2_iterations", "1"),
    ("http.metrics_address", "127.0.0.1:0"),
];

pub fn overrides(
    database_url: &str,
    nats_url: &str,
    extra: &[(&'static str, String)],
) -> Vec<(String, String)> {
    let backing = testkit::Backing {
        database_url: database_url.to_owned(),
        nats_url: nats_url.to_owned(),
        db: None,
        nats: None,
    };
    let mut all: Vec<(&str, String)> = GATEWAY_TEST_SETTINGS
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect();
    all.extend(extra.iter().cloned());
    backing.overrides(&all)
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let backing = testkit::Backing::new(opts.database_url, opts.nats_url)
        .await
        .expect("database and NATS");
    let o = overrides(&backing.database_url, &backing.nats_url, &opts.overrides);
    let (base, cfg) = gateway::load_config(&o).expect("config");
    if !opts.skip_migrate {
        platform::cli::migrate(&base, gateway::MIGRATIONS)
            .await
            .expect("migrate");
    }
    let app = gateway::Application::build(base, cfg)
        .await
        .expect("build app");
    let metrics_port = app.metrics_port();
    let running =
        testkit::Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    let testkit::Backing {
        database_url,
        nats_url,
        db,
        nats,
    } = backing;
    TestApp {
        address: running.address.clone(),
        metrics_port,
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        database_url,
        nats_url,
        nats,
        _db: db,
        running,
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
        self.running.stop().await;
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
