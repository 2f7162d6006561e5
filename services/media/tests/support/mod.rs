//! What media's test binaries share: pricing and media (and the gateway
//! when asked) on one fresh database and a private NATS server, users as the
//! gateway would forward them, funding and the ledger's invariants.
//! Included by each binary with `#[path = "../support/mod.rs"] mod support;`.

#![allow(dead_code)]

use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::{NatsServer, TestDb};

/// A user as the gateway would forward them.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub principal: Principal,
}

#[derive(Default)]
pub struct Options {
    /// Configuration for media (key, value), applied last.
    pub media: Vec<(&'static str, String)>,
    /// Configuration for pricing (key, value), applied last.
    pub pricing: Vec<(&'static str, String)>,
    pub gateway: bool,
}

pub struct Platform {
    pub http: reqwest::Client,
    pub pricing: testkit::Running,
    pub media: testkit::Running,
    pub gateway: Option<testkit::Running>,
    pub database_url: String,
    pub nats_url: String,
    /// media's configuration overrides, to start it again (a restart).
    pub media_overrides: Vec<(String, String)>,
    gateway_auth: InternalAuth,
    _db: Option<TestDb>,
    _nats: Option<NatsServer>,
}

pub async fn spawn(opts: Options) -> Platform {
    let backing = testkit::Backing::new(None, None)
        .await
        .expect("database and NATS");
    let mut po: Vec<(&str, String)> = vec![
        ("credits.welcome_grant", "0".into()),
        ("credits.sweep_interval_ms", "500".into()),
    ];
    po.extend(opts.pricing.iter().cloned());
    let (pb, pc) = pricing::load_config(&backing.overrides(&po)).expect("pricing config");
    platform::cli::migrate(&pb, pricing::MIGRATIONS)
        .await
        .expect("pricing migrate");
    let pricing_app = pricing::Application::build(pb, pc).await.expect("pricing");
    let pricing = testkit::Running::spawn(
        pricing_app.port(),
        pricing_app.shutdown_token(),
        pricing_app.run_until_stopped(),
    );
    let media_overrides = backing.overrides(&opts.media);
    let (mb, mc) = media::load_config(&media_overrides).expect("media config");
    platform::cli::migrate(&mb, media::MIGRATIONS)
        .await
        .expect("media migrate");
    let media = start_media(&media_overrides).await;
    let gateway = if opts.gateway {
        let (wb, wc) = gateway::load_config(&backing.overrides(&[
            ("http.metrics_address", "127.0.0.1:0".into()),
            ("auth.argon2_memory_kib", "8192".into()),
            ("auth.argon2_iterations", "1".into()),
            ("upstreams.pricing", pricing.address.clone()),
            ("upstreams.media", media.address.clone()),
            ("proxy.read_timeout_ms", "60000".into()),
        ]))
        .expect("gateway config");
        platform::cli::migrate(&wb, gateway::MIGRATIONS)
            .await
            .expect("gateway migrate");
        let app = gateway::Application::build(wb, wc).await.expect("gateway");
        Some(testkit::Running::spawn(
            app.port(),
            app.shutdown_token(),
            app.run_until_stopped(),
        ))
    } else {
        None
    };
    drop(mc);
    let testkit::Backing {
        database_url,
        nats_url,
        db,
        nats,
    } = backing;
    let p = Platform {
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        pricing,
        media,
        gateway,
        database_url,
        nats_url,
        media_overrides,
        gateway_auth: InternalAuth::development("gateway").unwrap(),
        _db: db,
        _nats: nats,
    };
    p.wait_ready().await;
    p
}

/// Builds and runs a media instance with these overrides.
pub async fn start_media(overrides: &[(String, String)]) -> testkit::Running {
    let (mb, mc) = media::load_config(overrides).expect("media config");
    let app = media::Application::build(mb, mc).await.expect("media");
    testkit::Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped())
}

impl Platform {
    async fn wait_ready(&self) {
        assert!(
            testkit::wait_until(Duration::from_secs(30), || async {
                self.http
                    .get(self.media.url("/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
                    && self
                        .http
                        .get(self.pricing.url("/readyz"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
            })
            .await,
            "the services did not become ready"
        );
    }

    /// Stops media and starts a new instance on the same database and NATS
    /// (a restart: nothing in memory survives).
    pub async fn restart_media(&mut self) {
        self.media.stop().await;
        self.media = start_media(&self.media_overrides).await;
        self.wait_ready().await;
    }

    pub fn user(&self) -> User {
        let id = UserId::new();
        User {
            id,
            principal: Principal {
                user_id: id,
                roles: vec![Role::User],
            },
        }
    }

    pub fn admin(&self) -> User {
        let id = UserId::new();
        User {
            id,
            principal: Principal {
                user_id: id,
                roles: vec![Role::User, Role::Admin],
            },
        }
    }

    /// The token the gateway would forward to `service` for `user`.
    pub fn token(&self, service: &str, user: &User) -> String {
        self.gateway_auth
            .sign(service, Some(&user.principal))
            .unwrap()
    }

    /// A request to media (or pricing) as the gateway would forward it.
    pub fn request(
        &self,
        service: &str,
        method: reqwest::Method,
        path: &str,
        user: &User,
    ) -> reqwest::RequestBuilder {
        let base = if service == "pricing" {
            &self.pricing
        } else {
            &self.media
        };
        self.http
            .request(method, base.url(path))
            .header("X-Internal-Token", self.token(service, user))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &User,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut r = self.request("media", method, path, user);
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }

    /// Grants `user` credits (an admin adjustment in pricing).
    pub async fn fund(&self, user: &User, amount: i64) {
        let admin = self.admin();
        let r = self
            .request(
                "pricing",
                reqwest::Method::POST,
                "/api/v1/admin/pricing/adjustments",
                &admin,
            )
            .header("Idempotency-Key", format!("fund-{}", uuid::Uuid::new_v4()))
            .json(&json!({"user_id": user.id, "amount": amount, "reason": "test funding"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// `(available, held)` credits of `user`.
    pub async fn balance(&self, user: &User) -> (i64, i64) {
        let r = self
            .request(
                "pricing",
                reqwest::Method::GET,
                "/api/v1/credits/balance",
                user,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        (
            v["available"].as_i64().unwrap(),
            v["held"].as_i64().unwrap(),
        )
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap()
    }

    /// Credit holds of `user` by status: (active, captured, released).
    pub async fn holds(&self, user: &User) -> (i64, i64, i64) {
        let row = self
            .db()
            .await
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'active'),
                        count(*) FILTER (WHERE status = 'captured'),
                        count(*) FILTER (WHERE status IN ('released', 'expired'))
                 FROM pricing.holds WHERE user_id = $1",
                &[&user.id.as_uuid()],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    }

    /// The ledger's invariants (as pricing's own tests check them): every
    /// account equals its entries, every transaction sums to zero, no
    /// wallet or held account is negative.
    pub async fn ledger_is_balanced(&self) {
        let db = self.db().await;
        let bad: i64 = db
            .query_one(
                "SELECT
                   (SELECT count(*) FROM pricing.accounts a WHERE a.user_id IS NOT NULL AND a.balance <>
                      COALESCE((SELECT sum(amount) FROM pricing.entries e WHERE e.account_id = a.id), 0))
                 + (SELECT count(*) FROM (SELECT transaction_id FROM pricing.entries GROUP BY 1 HAVING sum(amount) <> 0) x)
                 + (SELECT count(*) FROM pricing.accounts WHERE kind IN ('wallet', 'held') AND balance < 0)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(bad, 0, "ledger invariants broken");
    }
}

/// Server-sent events of a body read so far: (id, event, data); comment
/// lines (keep-alives) are not events.
pub fn parse_sse(text: &str) -> Vec<(Option<String>, String, Value)> {
    text.split("\n\n")
        .filter(|b| b.lines().any(|l| !l.is_empty() && !l.starts_with(':')))
        .map(|block| {
            let mut id = None;
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                } else if let Some(i) = line.strip_prefix("id: ") {
                    id = Some(i.to_owned());
                }
            }
            (
                id,
                event,
                serde_json::from_str(&data).unwrap_or(Value::Null),
            )
        })
        .collect()
}
