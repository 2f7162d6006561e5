//! The one database pool of a service process.
//!
//! [`build_pool`] is the only place in the workspace that configures
//! connections (clippy's `disallowed-methods` keeps it that way). Every
//! timeout is set: connect (on the tokio-postgres config, where the driver
//! takes it), wait, create and recycle (on the pool), and a server-side
//! statement timeout; `application_name` is the service name, and recycled
//! connections are verified with a round trip.

use crate::config::DatabaseConfig;
use crate::error::AppError;
use common::ErrorCode;
use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use secrecy::ExposeSecret;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

pub use deadpool_postgres::{Client, Object, Transaction};

/// Builds the pool. No connection is opened here: connections are created on
/// demand, so a service starts even while the database is down.
#[allow(clippy::disallowed_methods)]
pub fn build_pool(cfg: &DatabaseConfig, service: &str) -> anyhow::Result<Pool> {
    let pg = pg_config(cfg, service)?;
    let manager = Manager::from_config(
        pg,
        NoTls,
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

/// The tokio-postgres config a service's connections use. The service's
/// tables live in a Postgres schema named after it, first on `search_path`.
pub fn pg_config(cfg: &DatabaseConfig, service: &str) -> anyhow::Result<tokio_postgres::Config> {
    let mut pg: tokio_postgres::Config = cfg.url.expose_secret().parse()?;
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
    Ok(pg)
}

/// The Postgres schema that holds a service's tables.
pub fn schema_name(service: &str) -> String {
    service.replace('-', "_")
}

/// Opens one connection outside any pool, for administration only: creating
/// and dropping test databases, and `migrate`'s own connection. Services never
/// call this while serving.
#[allow(clippy::disallowed_methods)]
pub async fn connect_admin(url: &str, timeout: Duration) -> anyhow::Result<tokio_postgres::Client> {
    let mut pg: tokio_postgres::Config = url.parse()?;
    pg.connect_timeout(timeout);
    pg.application_name("jyotiflow-admin");
    let (client, conn) = tokio::time::timeout(timeout, pg.connect(NoTls))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to the database timed out"))??;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "admin connection ended");
        }
    });
    Ok(client)
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
                e.is_closed()
                    || e.code().is_none()
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
