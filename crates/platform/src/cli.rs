//! What every service binary does besides serving: `migrate` (the only way
//! migrations run) and `healthcheck` (for container probes).

use crate::config::{BaseConfig, ConfigError};
use crate::migrate::Migration;
use std::future::Future;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

/// The subcommands every service binary has. A service with more (the
/// gateway's `create-admin`) flattens this into its own enum.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Serve HTTP and NATS (the default in containers).
    Serve,
    /// Apply database migrations (safe to run from many replicas at once).
    Migrate,
    /// Exit 0 when the local instance is ready (`--live` checks liveness only).
    Healthcheck {
        #[arg(long)]
        live: bool,
    },
    /// Print a new Ed25519 service key: the seed for this service's
    /// `internal_auth.signing_key` and the public key its peers list in
    /// `internal_auth.trusted_keys.<service>`.
    Keygen,
    /// Print the public key (`kid:base64`) of the configured signing key.
    PublicKey,
}

/// Runs a standard subcommand: configuration errors exit 2 naming the key;
/// `healthcheck` probes the local instance; `migrate` applies the platform's
/// and the service's migrations; `serve` runs `serve(base, cfg)` (which
/// builds the application, installs the signal handlers and waits).
pub fn run_standard<C, S, F>(
    service: &str,
    command: Command,
    loaded: Result<(BaseConfig, C), ConfigError>,
    migrations: &[Migration],
    serve: S,
) -> ExitCode
where
    S: FnOnce(BaseConfig, C) -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    if let Command::Keygen = command {
        // Needs no configuration: it is how production configuration starts.
        return match crate::auth::generate_key() {
            Ok((seed, public)) => {
                println!("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY={seed}");
                println!("public key (list it in the peers' JYOTIFLOW__INTERNAL_AUTH__TRUSTED_KEYS__{}): <key_id>:{public}", service.to_ascii_uppercase());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{service}: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let (base, cfg) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Keygen => ExitCode::SUCCESS,
        Command::PublicKey => {
            match crate::auth::InternalAuth::from_config(service, &base.internal_auth, base.env) {
                Ok(a) => {
                    println!("{}", a.public_key());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{service}: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Healthcheck { live } => {
            let path = if live { "/healthz" } else { "/readyz" };
            match healthcheck(&base.http.host, base.http.port, path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{service}: not healthy: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate => run_task(service, &base, async {
            let report = migrate(&base, migrations).await?;
            println!(
                "migrations applied: {:?}; already applied: {}",
                report.applied, report.already
            );
            Ok(())
        }),
        Command::Serve => {
            let telemetry_cfg = base.clone();
            run_task(service, &telemetry_cfg, serve(base, cfg))
        }
    }
}

/// Installs telemetry (before the async runtime, as the OTLP exporter
/// needs), runs `task` on a multi-threaded runtime, flushes telemetry, and
/// maps the outcome to an exit code (errors printed with their causes).
pub fn run_task<F: Future<Output = anyhow::Result<()>>>(
    service: &str,
    base: &BaseConfig,
    task: F,
) -> ExitCode {
    let mut telemetry = match crate::telemetry::init(&base.service, &base.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{service}: telemetry: {e}");
            return ExitCode::from(2);
        }
    };
    let result = block_on(task);
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{service}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Platform migrations applied into every service schema before its own.
pub const PLATFORM_MIGRATIONS: &[Migration] = &[Migration {
    version: -1,
    name: "platform_outbox",
    sql: include_str!("../../../migrations/platform/0001_outbox.sql"),
}];

/// Runs `f` on a multi-threaded tokio runtime.
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Applies the platform's and the service's migrations. Waits (with backoff)
/// up to a minute for the database, so it can run as a one-shot container
/// started together with PostgreSQL.
pub async fn migrate(
    cfg: &BaseConfig,
    migrations: &[Migration],
) -> anyhow::Result<crate::migrate::Report> {
    // The same target (and TLS settings) as the service's pool.
    let target = crate::db::target(&cfg.database, &cfg.service)?;
    let mut delay = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let mut client = loop {
        match target.connect().await {
            Ok(client) => break client,
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                tracing::warn!(error = %format_args!("{e:#}"), "database not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(e) => return Err(e),
        }
    };
    let mut all: Vec<Migration> = PLATFORM_MIGRATIONS.to_vec();
    all.extend_from_slice(migrations);
    crate::migrate::run(&mut client, &cfg.service, &all).await
}

/// GETs `http://host:port/<path>` and succeeds on a 200. No client library:
/// it must work in a minimal container.
pub fn healthcheck(host: &str, port: u16, path: &str) -> anyhow::Result<()> {
    let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        anyhow::bail!("{path} answered {status}")
    }
}
