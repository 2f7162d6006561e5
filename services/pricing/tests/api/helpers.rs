use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use platform::nats::CallContext;
use std::time::Duration;
use testkit::{NatsServer, TestDb};

pub const WEBHOOK_SECRET: &str = "whsec_test_secret";

#[derive(Default)]
pub struct Options {
    /// Reuse a database (e.g. for a restart); default: a fresh TestDb.
    pub database_url: Option<String>,
    /// Reuse a NATS server URL; default: a private nats-server.
    pub nats_url: Option<String>,
    pub overrides: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    pub nats: Option<NatsServer>,
    pub db_guard: Option<TestDb>,
    /// The gateway's identity: HTTP calls as a routed client would make them.
    pub auth: InternalAuth,
    /// A service that may spend credits (guidance): NATS and `/internal` calls.
    pub spender: InternalAuth,
    running: testkit::Running,
}

/// Pricing's test settings on top of testkit's.
fn pricing_settings(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut all: Vec<(&'static str, String)> = vec![
        ("database.wait_timeout_ms", "10000".into()),
        ("nats.request_timeout_ms", "2000".into()),
        ("credits.sweep_interval_ms", "100".into()),
        ("stripe.webhook_secret", WEBHOOK_SECRET.into()),
        ("stripe.secret_key", "sk_test_123".into()),
    ];
    all.extend(extra.iter().cloned());
    all
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let backing = testkit::Backing::new(opts.database_url, opts.nats_url)
        .await
        .expect("database and NATS");
    let o = backing.overrides(&pricing_settings(&opts.overrides));
    let (base, cfg) = pricing::load_config(&o).expect("config");
    platform::cli::migrate(&base, pricing::MIGRATIONS)
        .await
        .expect("migrate");
    let app = pricing::Application::build(base, cfg)
        .await
        .expect("build app");
    let running =
        testkit::Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    let testkit::Backing {
        database_url,
        nats_url,
        db,
        nats,
    } = backing;
    // Ready means the endpoints answer over NATS (the client connects in the background).
    let probe = async_nats::connect(&nats_url).await.expect("nats");
    let answered = testkit::wait_until(Duration::from_secs(20), || {
        let probe = probe.clone();
        async move {
            let r = platform::nats::request::<_, serde_json::Value>(
                &probe,
                common::subjects::pricing::CREDITS_BALANCE,
                &CallContext::default(),
                &serde_json::json!({}),
                Duration::from_secs(1),
            )
            .await;
            matches!(r, Err(e) if e.code == common::ErrorCode::Unauthorized)
        }
    })
    .await;
    assert!(answered, "the pricing endpoints never answered over NATS");
    TestApp {
        address: running.address.clone(),
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        database_url,
        nats_url,
        nats,
        db_guard: db,
        auth: InternalAuth::development("gateway").unwrap(),
        spender: InternalAuth::development("guidance").unwrap(),
        running,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A user's token as the gateway forwards it.
    pub fn token(&self, user: UserId) -> String {
        self.auth
            .sign(
                "pricing",
                Some(&Principal {
                    user_id: user,
                    roles: vec![Role::User],
                }),
            )
            .unwrap()
    }

    /// A token of guidance acting for `user` (NATS and `/internal`).
    pub fn service_token(&self, user: UserId) -> String {
        self.spender
            .sign(
                "pricing",
                Some(&Principal {
                    user_id: user,
                    roles: vec![Role::User],
                }),
            )
            .unwrap()
    }

    pub fn admin_token(&self) -> String {
        self.auth
            .sign(
                "pricing",
                Some(&Principal {
                    user_id: UserId::new(),
                    roles: vec![Role::User, Role::Admin],
                }),
            )
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("X-Internal-Token", token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut r = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.header("X-Internal-Token", t);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send().await.unwrap()
    }

    /// Credits a user's wallet through an admin adjustment.
    pub async fn fund(&self, user: UserId, amount: i64) {
        let r = self
            .post(
                "/api/v1/admin/pricing/adjustments",
                Some(&self.admin_token()),
                Some(&format!("fund-{}", uuid::Uuid::new_v4())),
                &serde_json::json!({"user_id": user, "amount": amount, "reason": "test funding"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    pub async fn balance(&self, user: UserId) -> serde_json::Value {
        let r = self.get("/api/v1/credits/balance", &self.token(user)).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn nats_client(&self) -> async_nats::Client {
        async_nats::connect(&self.nats_url).await.unwrap()
    }

    pub fn ctx(&self, user: UserId, key: Option<&str>) -> CallContext {
        let mut c = CallContext::default().with_internal_token(self.service_token(user));
        if let Some(k) = key {
            c = c.with_idempotency_key(k);
        }
        c
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        let c = platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap();
        c.batch_execute("SET search_path = pricing, public")
            .await
            .unwrap();
        c
    }

    /// Shuts the app down gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.running.stop().await;
    }

    /// Checks the ledger invariants, then stops the app. Every test ends here.
    pub async fn finish(mut self) {
        check_invariants(&self.db().await).await;
        self.stop().await;
    }
}

/// The ledger's invariants: every transaction's entries sum to zero; every
/// user account's balance is the sum of its entries and is not negative;
/// each user's held balance equals their active holds.
pub async fn check_invariants(db: &tokio_postgres::Client) {
    let unbalanced: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT transaction_id FROM entries GROUP BY transaction_id
             HAVING sum(amount) <> 0) x",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unbalanced, 0, "a ledger transaction does not balance");
    let total: Option<i64> = db
        .query_one("SELECT sum(amount)::bigint FROM entries", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total.unwrap_or(0), 0, "entries do not sum to zero");
    let drift: i64 = db
        .query_one(
            "SELECT count(*) FROM accounts a WHERE a.user_id IS NOT NULL AND a.balance <>
               COALESCE((SELECT sum(amount) FROM entries e WHERE e.account_id = a.id), 0)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(drift, 0, "a materialized balance differs from its entries");
    let negative: i64 = db
        .query_one(
            "SELECT count(*) FROM accounts WHERE user_id IS NOT NULL AND balance < 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(negative, 0, "a user account is negative");
    let held_drift: i64 = db
        .query_one(
            "SELECT count(*) FROM accounts a WHERE a.kind = 'held' AND a.balance <>
               COALESCE((SELECT sum(amount) FROM holds h WHERE h.user_id = a.user_id AND h.status = 'active'), 0)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held_drift, 0, "held balances differ from the active holds");
    let orphan: i64 = db
        .query_one(
            "SELECT count(*) FROM transactions WHERE result IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphan, 0, "a committed transaction has no stored result");
}

/// Asserts the platform's error shape and returns (status, code).
pub async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("error body is JSON");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
        .to_owned();
    (status, code)
}

/// Reads every message currently in a stream.
pub async fn stream_messages(nats_url: &str, stream: &str) -> Vec<serde_json::Value> {
    use async_nats::jetstream;
    use futures_util::StreamExt;
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = jetstream::new(client);
    let Ok(stream) = js.get_stream(stream).await else {
        return vec![];
    };
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = vec![];
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(m)) = batch.next().await {
        out.push(serde_json::from_slice(&m.payload).unwrap());
    }
    out
}
