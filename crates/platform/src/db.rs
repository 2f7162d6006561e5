//! The one database pool of a service process.
//!
//! [`build_pool`] is the only place in the workspace that configures
//! connections (clippy's `disallowed-methods` keeps it that way). Every
//! timeout is set: connect (on the tokio-postgres config, where the driver
//! takes it), wait, create and recycle (on the pool), and a server-side
//! statement timeout; `application_name` is the service name, and recycled
//! connections are verified with a round trip.
//!
//! TLS follows the URL's `sslmode` and `sslrootcert`, with libpq's meaning
//! (`disable`, `prefer` (the default), `require`, `verify-ca`,
//! `verify-full`); see [`tls`] for exactly what each mode checks. The same
//! rules apply to the pool, to `migrate`'s connection and to
//! [`connect_admin`]. For production use `verify-full` with the CA that
//! signed the server's certificate:
//!
//! ```text
//! postgres://svc:PASSWORD@db.internal:5432/jyotiflow?sslmode=verify-full&sslrootcert=/etc/jyotiflow/db-ca.pem
//! ```

pub mod tls;

use crate::config::DatabaseConfig;
use crate::error::AppError;
use common::ErrorCode;
use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use secrecy::ExposeSecret;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use deadpool_postgres::{Client, Object, Transaction};
pub use tls::{SslMode, TlsSettings};

/// Where and how to connect: the tokio-postgres config and the TLS
/// connector its `sslmode` needs.
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub settings: TlsSettings,
}

impl Target {
    /// Parses `url` (taking `sslmode`/`sslrootcert` out, see [`tls`]) and
    /// builds the TLS connector (reading `sslrootcert`).
    pub fn from_url(url: &str) -> anyhow::Result<Target> {
        let (config, settings) =
            tls::parse(url).map_err(|e| anyhow::anyhow!("database.url {e}"))?;
        let tls = settings
            .connector()
            .map_err(|e| anyhow::anyhow!("database.url {e}"))?;
        Ok(Target {
            config,
            tls,
            settings,
        })
    }

    /// Opens one connection (outside any pool) and drives it on a task.
    /// Errors say which `sslmode` was in force, so a refused certificate
    /// is recognisable.
    #[allow(clippy::disallowed_methods)]
    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, conn) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.explain(e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "database connection ended");
            }
        });
        Ok(client)
    }

    fn explain(&self, e: tokio_postgres::Error) -> anyhow::Error {
        anyhow::Error::new(e).context(format!(
            "connecting to the database (sslmode={})",
            self.settings.mode
        ))
    }
}

/// Builds the pool. No connection is opened here: connections are created on
/// demand, so a service starts even while the database is down. The TLS
/// connector is built here, once (`sslrootcert` is read now).
#[allow(clippy::disallowed_methods)]
pub fn build_pool(cfg: &DatabaseConfig, service: &str) -> anyhow::Result<Pool> {
    let target = target(cfg, service)?;
    let manager = Manager::from_config(
        target.config,
        target.tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Verified,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(cfg.max_connections)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_millis(cfg.wait_timeout_ms)),
            create: Some(Duration::from_millis(cfg.create_timeout_ms)),
            recycle: Some(Duration::from_millis(cfg.recycle_timeout_ms)),
        })
        .build()?;
    Ok(pool)
}

/// Where a service's connections go, with its TLS connector (see
/// [`pg_config`] for the settings).
pub fn target(cfg: &DatabaseConfig, service: &str) -> anyhow::Result<Target> {
    let mut target = Target::from_url(cfg.url.expose_secret())?;
    apply_service_settings(&mut target.config, cfg, service);
    Ok(target)
}

/// The tokio-postgres config a service's connections use. The service's
/// tables live in a Postgres schema named after it, first on `search_path`.
/// Its `ssl_mode` is only what tokio-postgres knows (`verify-*` become
/// `require`); connect through [`target`], which adds the connector that
/// verifies.
pub fn pg_config(cfg: &DatabaseConfig, service: &str) -> anyhow::Result<tokio_postgres::Config> {
    Ok(target(cfg, service)?.config)
}

fn apply_service_settings(pg: &mut tokio_postgres::Config, cfg: &DatabaseConfig, service: &str) {
    pg.application_name(service);
    pg.connect_timeout(Duration::from_millis(cfg.connect_timeout_ms));
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(30));
    let mut options = pg.get_options().map(str::to_owned).unwrap_or_default();
    if !options.is_empty() {
        options.push(' ');
    }
    options.push_str(&format!(
        "-c statement_timeout={} -c idle_in_transaction_session_timeout={} -c search_path={},public",
        cfg.statement_timeout_ms,
        cfg.idle_in_transaction_timeout_ms,
        schema_name(service)
    ));
    pg.options(&options);
}

/// The Postgres schema that holds a service's tables.
pub fn schema_name(service: &str) -> String {
    service.replace('-', "_")
}

/// Opens one connection outside any pool, for administration only: creating
/// and dropping test databases, and `migrate`'s own connection. Services never
/// call this while serving. `url`'s `sslmode`/`sslrootcert` apply as for the pool.
pub async fn connect_admin(url: &str, timeout: Duration) -> anyhow::Result<tokio_postgres::Client> {
    let mut target = Target::from_url(url)?;
    target.config.connect_timeout(timeout);
    target.config.application_name("jyotiflow-admin");
    tokio::time::timeout(timeout, target.connect())
        .await
        .map_err(|_| anyhow::anyhow!("connecting to the database timed out"))?
}

/// A database failure, classified for the client.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] PoolError),
    #[error("database: {0}")]
    Query(#[from] tokio_postgres::Error),
}

impl DbError {
    /// The SQLSTATE, when the server answered with one.
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            DbError::Query(e) => e.code(),
            DbError::Pool(PoolError::Backend(e)) => e.code(),
            _ => None,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        self.sql_state() == Some(&SqlState::UNIQUE_VIOLATION)
    }

    pub fn is_serialization_failure(&self) -> bool {
        matches!(
            self.sql_state(),
            Some(s) if *s == SqlState::T_R_SERIALIZATION_FAILURE || *s == SqlState::T_R_DEADLOCK_DETECTED
        )
    }

    /// True when the database could not be reached or the connection broke.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Pool(PoolError::Backend(e)) | DbError::Query(e) => {
                // No SQLSTATE: a broken connection (I/O, timeout, closed) is
                // unavailability; anything else (a value that does not
                // convert, a bug in our SQL) is not, and stays a 500.
                let io = std::error::Error::source(e)
                    .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
                e.is_closed()
                    || io
                    || (e.code().is_none() && e.to_string().contains("timeout"))
                    || matches!(e.code(), Some(s) if *s == SqlState::ADMIN_SHUTDOWN
                        || *s == SqlState::CANNOT_CONNECT_NOW
                        || *s == SqlState::CRASH_SHUTDOWN
                        || *s == SqlState::TOO_MANY_CONNECTIONS)
            }
            DbError::Pool(_) => true,
        }
    }

    pub fn into_app_error(self) -> AppError {
        if self.sql_state() == Some(&SqlState::QUERY_CANCELED) {
            return AppError::new(ErrorCode::Timeout, "the database took too long to answer")
                .with_cause(self);
        }
        if self.is_unavailable() {
            return AppError::new(
                ErrorCode::DatabaseUnavailable,
                "the database is unavailable",
            )
            .with_cause(self);
        }
        // Input the edge should have refused but did not: still the
        // client's input, never a 500 (the cause is logged).
        if let Some(state) = self.sql_state() {
            let code = state.code();
            if code.starts_with("22") {
                return AppError::new(
                    ErrorCode::ValidationFailed,
                    "a value is out of range or not valid here",
                )
                .with_cause(self);
            }
            if *state == SqlState::UNIQUE_VIOLATION {
                return AppError::new(ErrorCode::Conflict, "this already exists").with_cause(self);
            }
            if *state == SqlState::CHECK_VIOLATION
                || *state == SqlState::FOREIGN_KEY_VIOLATION
                || *state == SqlState::NOT_NULL_VIOLATION
            {
                return AppError::new(
                    ErrorCode::ValidationFailed,
                    "the request breaks a rule of the data",
                )
                .with_cause(self);
            }
        }
        AppError::internal(self)
    }
}

/// Takes a connection from the pool, mapping failure to a 503 `database_unavailable`.
pub async fn conn(pool: &Pool) -> Result<Object, AppError> {
    pool.get()
        .await
        .map_err(|e| DbError::from(e).into_app_error())
}

/// Maps a query error into an [`AppError`].
pub fn q(e: tokio_postgres::Error) -> AppError {
    DbError::from(e).into_app_error()
}
