//! Test helpers shared by every service's integration tests.
//!
//! * [`TestDb`]: a freshly created database on the local PostgreSQL
//!   (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
//!   dropped (with `FORCE`) when the value is dropped.
//! * [`NatsServer`]: a private `nats-server` with JetStream on a free port,
//!   so tests never see each other's subjects or streams; it can be stopped
//!   and restarted on the same port and store for fault tests.
//!   [`NatsServer::start_with_auth`] starts one that requires credentials
//!   (user/password, a token or an NKey user; see [`NatsAuth`]).
//! * [`PgServer`]: a private PostgreSQL cluster (initdb/pg_ctl from
//!   `/usr/lib/postgresql/15/bin`) that can be stopped and started;
//!   [`PgServer::start_with_tls`] starts it with `ssl=on` and a certificate
//!   from [`TestCerts`] (made with the `openssl` command for each test).
//! * [`logs`]: captured log output, to assert that secrets never appear.
//! * [`wait_until`]: polls a condition until a deadline (never a bare sleep).
//! * [`Backing`] and [`Running`]: what every service's test harness needs to
//!   run one app instance in-process on port 0 against its own database and
//!   NATS server, with the settings tests share.

pub mod bench;

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Polls `cond` every 25 ms until it is true or `timeout` passes; returns whether it became true.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn replace_db(url: &str, db: &str) -> String {
    // postgres://user@host:port/dbname?params
    let (head, params) = match url.split_once('?') {
        Some((h, p)) => (h, Some(p)),
        None => (url, None),
    };
    let base = match head.rfind('/') {
        Some(i) if i > "postgres://".len() => &head[..i],
        _ => head,
    };
    match params {
        Some(p) => format!("{base}/{db}?{p}"),
        None => format!("{base}/{db}"),
    }
}

/// A database created for one test and dropped afterwards.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

impl TestDb {
    /// Creates `test_<uuid>` on the server at `admin` (an URL to any existing database).
    pub async fn create_on(admin: &str) -> anyhow::Result<TestDb> {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let client = platform::db::connect_admin(admin, Duration::from_secs(10)).await?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        Ok(TestDb {
            url: replace_db(admin, &name),
            name,
            admin: admin.to_owned(),
        })
    }

    pub async fn create() -> anyhow::Result<TestDb> {
        Self::create_on(&admin_url()).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async work on a thread of its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(c) = platform::db::connect_admin(&admin, Duration::from_secs(5)).await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

fn temp_dir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn nats_bin() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| {
        [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| (*p).to_owned())
        .unwrap_or_else(|| "nats-server".into())
    })
}

/// The credentials a [`NatsServer`] requires (one user, as the
/// `authorization` block of nats-server's configuration).
#[derive(Clone, Debug)]
pub enum NatsAuth {
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// An NKey user: the public key (`U...`); the client holds the seed.
    NKey {
        public_key: String,
    },
}

impl NatsAuth {
    fn config(&self) -> String {
        // nats-server's config syntax: double-quoted strings with JSON escapes.
        let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        match self {
            NatsAuth::UserPassword { user, password } => format!(
                "authorization {{\n  user: {}\n  password: {}\n}}\n",
                q(user),
                q(password)
            ),
            NatsAuth::Token(token) => format!("authorization {{\n  token: {}\n}}\n", q(token)),
            NatsAuth::NKey { public_key } => format!(
                "authorization {{\n  users: [\n    {{ nkey: {} }}\n  ]\n}}\n",
                q(public_key)
            ),
        }
    }
}

/// A private nats-server with JetStream.
pub struct NatsServer {
    pub port: u16,
    store: PathBuf,
    /// A configuration file (credentials), when started with one.
    config: Option<PathBuf>,
    child: Option<Child>,
}

impl NatsServer {
    pub fn start() -> anyhow::Result<NatsServer> {
        let mut s = NatsServer {
            port: free_port(),
            store: temp_dir("jf-nats")?,
            config: None,
            child: None,
        };
        s.resume()?;
        Ok(s)
    }

    /// Starts a server that accepts only clients with `auth`'s credentials.
    pub fn start_with_auth(auth: &NatsAuth) -> anyhow::Result<NatsServer> {
        let store = temp_dir("jf-nats")?;
        // Next to the JetStream store (nats-server writes under store/jetstream).
        let config = store.join("auth.conf");
        std::fs::write(&config, auth.config())?;
        let mut s = NatsServer {
            port: free_port(),
            store,
            config: Some(config),
            child: None,
        };
        s.resume()?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(nats_bin());
        if let Some(config) = &self.config {
            cmd.arg("-c").arg(config);
        }
        let child = cmd
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start nats-server ({}): {e}", nats_bin()))?;
        self.child = Some(child);
        if !wait_for_port(self.port, Duration::from_secs(10)) {
            anyhow::bail!("nats-server did not start on port {}", self.port);
        }
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(program: &str) -> Command {
    let path = format!(
        "{}/{program}",
        std::env::var("PG_BIN").unwrap_or_else(|_| PG_BIN.into())
    );
    // initdb and postgres refuse to run as root.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

fn openssl(args: &[&str], dir: &Path) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run openssl: {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "openssl {} failed: {}",
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Certificates for one TLS test, made with the `openssl` command in a
/// directory of their own (removed on drop): a CA and a server certificate
/// (P-256 keys, valid for two days) for the given host names and IP
/// addresses, signed by that CA, or self-signed.
pub struct TestCerts {
    pub dir: PathBuf,
    /// The CA to give clients as `sslrootcert` (for a self-signed
    /// certificate, the certificate itself).
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TestCerts {
    fn config(dir: &Path, hosts: &[&str]) -> anyhow::Result<()> {
        let san: Vec<String> = hosts
            .iter()
            .map(|h| {
                if h.parse::<std::net::IpAddr>().is_ok() {
                    format!("IP:{h}")
                } else {
                    format!("DNS:{h}")
                }
            })
            .collect();
        let cn = hosts.first().copied().unwrap_or("localhost");
        std::fs::write(
            dir.join("openssl.cnf"),
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {cn}\n\
                 [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
                 subjectKeyIdentifier = hash\n\
                 [server]\nbasicConstraints = critical,CA:FALSE\n\
                 keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n\
                 subjectAltName = {}\nsubjectKeyIdentifier = hash\n",
                san.join(",")
            ),
        )?;
        Ok(())
    }

    /// A new CA, and a server certificate it signs for `hosts`.
    pub fn signed_by_new_ca(hosts: &[&str]) -> anyhow::Result<TestCerts> {
        let dir = temp_dir("jf-certs")?;
        Self::config(&dir, hosts)?;
        // A name of its own, so another test CA is a different issuer.
        let ca_subject = format!("/CN=JyotiFlow test CA {}", uuid::Uuid::new_v4().simple());
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(key);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca",
            "-subj",
            &ca_subject,
        ]);
        openssl(&ca, &dir)?;
        let mut csr = vec!["req", "-new"];
        csr.extend(key);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-config",
            "openssl.cnf",
        ]);
        openssl(&csr, &dir)?;
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "server",
                "-out",
                "server.pem",
            ],
            &dir,
        )?;
        Ok(TestCerts {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            dir,
        })
    }

    /// A self-signed server certificate for `hosts` (no CA).
    pub fn self_signed(hosts: &[&str]) -> anyhow::Result<TestCerts> {
        let dir = temp_dir("jf-certs")?;
        Self::config(&dir, hosts)?;
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-config",
                "openssl.cnf",
                "-extensions",
                "server",
            ],
            &dir,
        )?;
        Ok(TestCerts {
            ca_cert: dir.join("server.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            dir,
        })
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private PostgreSQL cluster for fault tests.
pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    /// Extra server options (`-c ssl=on ...`).
    extra: String,
    running: bool,
}

impl PgServer {
    pub fn start() -> anyhow::Result<PgServer> {
        Self::start_inner(None)
    }

    /// Starts with `ssl=on`, serving `certs`' server certificate (clients
    /// may still connect without TLS, as with a default `pg_hba.conf`).
    pub fn start_with_tls(certs: &TestCerts) -> anyhow::Result<PgServer> {
        Self::start_inner(Some(certs))
    }

    fn start_inner(certs: Option<&TestCerts>) -> anyhow::Result<PgServer> {
        let dir = temp_dir("jf-pg")?;
        let mut extra = String::new();
        if let Some(certs) = certs {
            let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
            std::fs::copy(&certs.server_cert, &cert)?;
            std::fs::copy(&certs.server_key, &key)?;
            // PostgreSQL refuses a key that group or others can read.
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
            extra = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            );
        }
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
        let data = dir.join("data");
        let out = as_postgres("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            anyhow::bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut s = PgServer {
            port: free_port(),
            dir,
            extra,
            running: false,
        };
        s.resume()?;
        Ok(s)
    }

    /// An URL for database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn resume(&mut self) -> anyhow::Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50{}",
            self.port,
            self.dir.display(),
            self.extra
        );
        let out = as_postgres("pg_ctl")
            .args(["-w", "-t", "30", "-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &opts, "-D"])
            .arg(self.dir.join("data"))
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "pg_ctl start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.running = true;
        Ok(())
    }

    /// Stops immediately (no checkpoint; as a crash or an outage would).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let _ = as_postgres("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.running = false;
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database and NATS server one app instance under test uses.
pub struct Backing {
    pub database_url: String,
    pub nats_url: String,
    /// The fresh database, when this Backing created it (dropped with it).
    pub db: Option<TestDb>,
    /// The private NATS server, when this Backing started it.
    pub nats: Option<NatsServer>,
}

impl Backing {
    /// Uses the given database / NATS URLs, or creates a fresh database and
    /// starts a private nats-server for those not given.
    pub async fn new(
        database_url: Option<String>,
        nats_url: Option<String>,
    ) -> anyhow::Result<Backing> {
        init_logs();
        let (db, database_url) = match database_url {
            Some(u) => (None, u),
            None => {
                let db = TestDb::create().await?;
                let url = db.url.clone();
                (Some(db), url)
            }
        };
        let (nats, nats_url) = match nats_url {
            Some(u) => (None, u),
            None => {
                let n = NatsServer::start()?;
                let url = n.url();
                (Some(n), url)
            }
        };
        Ok(Backing {
            database_url,
            nats_url,
            db,
            nats,
        })
    }

    /// Configuration overrides every service test starts from (test
    /// environment, port 0, two workers, short timeouts, a fast outbox),
    /// then `extra` (key, value) pairs, which replace or add.
    pub fn overrides(&self, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut o: Vec<(String, String)> = [
            ("env", "test"),
            ("http.port", "0"),
            ("http.workers", "2"),
            ("http.shutdown_timeout_secs", "5"),
            ("database.wait_timeout_ms", "5000"),
            ("database.create_timeout_ms", "2000"),
            ("database.connect_timeout_ms", "2000"),
            ("nats.request_timeout_ms", "5000"),
            ("outbox.poll_interval_ms", "100"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        o.push(("database.url".into(), self.database_url.clone()));
        o.push(("nats.url".into(), self.nats_url.clone()));
        for (k, v) in extra {
            o.retain(|(ok, _)| ok != k);
            o.push(((*k).to_owned(), v.clone()));
        }
        o
    }
}

/// A service application running on the test's runtime; cancelled when dropped.
pub struct Running {
    pub port: u16,
    pub address: String,
    token: tokio_util::sync::CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Spawns `run` (the app's `run_until_stopped()`); `token` is its shutdown token.
    pub fn spawn<F>(port: u16, token: tokio_util::sync::CancellationToken, run: F) -> Running
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Running {
            port,
            address: format!("http://127.0.0.1:{port}"),
            token,
            handle: Some(tokio::spawn(run)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Shuts the app down gracefully and waits (up to 15 s) for it.
    pub async fn stop(&mut self) {
        self.token.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Log output captured from every test in the process.
#[derive(Clone, Default)]
pub struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static LOGS: OnceLock<LogSink> = OnceLock::new();

/// Installs log capture once per process (printing instead when `TEST_LOG=1`).
pub fn init_logs() -> LogSink {
    LOGS.get_or_init(|| {
        let sink = LogSink::default();
        platform::telemetry::init_for_tests(sink.clone());
        sink
    })
    .clone()
}

/// Everything logged so far in this process.
pub fn logs() -> String {
    let sink = init_logs();
    let bytes = sink.0.lock().map(|v| v.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::replace_db("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u:p@h:1/db?sslmode=disable", "y"),
            "postgres://u:p@h:1/y?sslmode=disable"
        );
    }
}
