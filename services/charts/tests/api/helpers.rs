use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::{NatsServer, TestDb};

/// Chennai.
pub const CHENNAI: i64 = 1264527;

#[derive(Default)]
pub struct Options {
    /// An existing database URL (shared by two apps); default: a fresh TestDb.
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub overrides: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    _nats: Option<NatsServer>,
    pub app_state: actix_web::web::Data<charts::state::AppState>,
    _db: Option<TestDb>,
    _running: testkit::Running,
    auth: InternalAuth,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let backing = testkit::Backing::new(opts.database_url, opts.nats_url)
        .await
        .expect("database and NATS");
    let mut extra: Vec<(&str, String)> = vec![("cache.hit_flush_ms", "100".into())];
    extra.extend(opts.overrides.iter().cloned());
    let (base, cfg) = charts::load_config(&backing.overrides(&extra)).expect("config");
    platform::cli::migrate(&base, charts::MIGRATIONS)
        .await
        .expect("migrate");
    let app = charts::Application::build(base, cfg)
        .await
        .expect("build app");
    let app_state = app.state();
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
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()
            .unwrap(),
        database_url,
        nats_url,
        _nats: nats,
        app_state,
        _db: db,
        _running: running,
        auth: InternalAuth::development("gateway").unwrap(),
    }
}

/// A user (or admin) as the gateway would forward them; each request gets
/// a freshly signed token (they live at most 60 s).
#[derive(Clone)]
pub struct Caller {
    pub id: UserId,
    roles: Vec<Role>,
    auth: InternalAuth,
}

impl Caller {
    pub fn token(&self) -> String {
        self.auth
            .sign(
                "charts",
                Some(&Principal {
                    user_id: self.id,
                    roles: self.roles.clone(),
                }),
            )
            .unwrap()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn caller(&self, roles: Vec<Role>) -> Caller {
        Caller {
            id: UserId::new(),
            roles,
            auth: self.auth.clone(),
        }
    }

    pub fn user(&self) -> Caller {
        self.caller(vec![Role::User])
    }

    pub fn admin(&self) -> Caller {
        self.caller(vec![Role::User, Role::Admin])
    }

    pub async fn get(&self, path: &str, who: Option<&Caller>) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(c) = who {
            r = r.header("X-Internal-Token", c.token());
        }
        r.send().await.unwrap()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&Caller>,
        body: &Value,
    ) -> reqwest::Response {
        let mut r = self.http.request(method, self.url(path)).json(body);
        if let Some(c) = who {
            r = r.header("X-Internal-Token", c.token());
        }
        r.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, who: Option<&Caller>, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, who, body).await
    }

    /// POST /api/v1/charts; asserts 200 and returns the body.
    pub async fn chart(&self, who: &Caller, body: &Value) -> Value {
        let r = self.post("/api/v1/charts", Some(who), body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "chart failed: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub async fn stats(&self) -> Value {
        let admin = self.admin();
        let r = self
            .get("/api/v1/admin/charts/cache/stats", Some(&admin))
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap()
    }

    pub async fn rows(&self) -> i64 {
        self.db()
            .await
            .query_one("SELECT count(*) FROM charts.chart_cache", &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// A birth at Chennai by place id.
pub fn chennai_birth(date: &str, time: &str) -> Value {
    json!({"birth": {"date": date, "time": time, "place_id": CHENNAI}})
}

/// Asserts the platform's error shape; returns (status, error object).
pub async fn error(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("error body is JSON");
    let e = &body["error"];
    assert!(e["code"].is_string(), "error.code missing: {body}");
    assert!(e["message"].is_string(), "error.message missing: {body}");
    (status, e.clone())
}
