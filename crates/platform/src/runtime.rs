//! What a service process holds: its configuration, the one pool, the one
//! NATS client, metrics, readiness, internal auth, the outbox relay and the
//! shutdown path. [`Runtime::start`] never waits for a dependency: the pool
//! connects on demand and NATS connects in the background, so start-up
//! cannot race or crash-loop; readiness says when both answer.

use crate::auth::InternalAuth;
use crate::config::BaseConfig;
use crate::health::Health;
use crate::http::{HttpDeps, OpenApiDoc};
use crate::metrics::Metrics;
use crate::nats::RpcServer;
use crate::outbox::{OutboxSignal, RelayConfig};
use actix_web::web;
use async_nats::jetstream;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct Runtime {
    pub config: BaseConfig,
    pub pool: deadpool_postgres::Pool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub metrics: Metrics,
    pub health: Health,
    pub internal_auth: InternalAuth,
    pub outbox: OutboxSignal,
    /// Cancelled by SIGTERM/SIGINT (or by a test) to begin shutdown.
    pub shutdown: CancellationToken,
    /// Cancelled once HTTP and NATS intake have stopped: stops background work.
    background: CancellationToken,
    tasks: JoinSet<()>,
}

impl Runtime {
    pub async fn start(config: BaseConfig) -> anyhow::Result<Runtime> {
        let service = config.service.clone();
        let pool = crate::db::build_pool(&config.database, &service)?;
        let nats = crate::nats::connect(&config.nats, &service).await?;
        let js = jetstream::new(nats.clone());
        let metrics = Metrics::new(&service);
        let health = Health::default();
        let internal_auth = InternalAuth::new(
            config.internal_auth.secret.clone(),
            config.internal_auth.ttl_secs,
        );
        let background = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(crate::health::probe_loop(
            health.clone(),
            pool.clone(),
            nats.clone(),
            metrics.clone(),
            Duration::from_millis(1000),
            background.clone(),
        ));
        let outbox = OutboxSignal::default();
        tasks.spawn(crate::outbox::relay_loop(
            pool.clone(),
            js.clone(),
            RelayConfig {
                service: service.clone(),
                poll_interval: Duration::from_millis(config.outbox.poll_interval_ms),
                batch_size: config.outbox.batch_size,
                retention_hours: config.outbox.retention_hours,
                publish_timeout: config.nats.request_timeout(),
            },
            metrics.clone(),
            outbox.clone(),
            background.clone(),
            Duration::from_secs(5),
        ));
        Ok(Runtime {
            config,
            pool,
            nats,
            js,
            metrics,
            health,
            internal_auth,
            outbox,
            shutdown: CancellationToken::new(),
            background,
            tasks,
        })
    }

    pub fn service(&self) -> &str {
        &self.config.service
    }

    /// Runs a background task (e.g. a JetStream consumer) that stops when
    /// the background token is cancelled during shutdown.
    pub fn spawn<F, Fut>(&mut self, f: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let fut = f(self.background.clone());
        self.tasks.spawn(fut);
    }

    pub fn http_deps(&self, openapi_json: String) -> HttpDeps {
        HttpDeps {
            metrics: web::Data::new(self.metrics.clone()),
            health: web::Data::new(self.health.clone()),
            pool: web::Data::new(self.pool.clone()),
            internal_auth: web::Data::new(self.internal_auth.clone()),
            openapi: web::Data::new(OpenApiDoc(Arc::new(openapi_json))),
            body_limit: self.config.http.body_limit_bytes,
        }
    }

    pub async fn rpc_server(&self) -> anyhow::Result<RpcServer> {
        RpcServer::start(
            self.nats.clone(),
            self.service(),
            env!("CARGO_PKG_VERSION"),
            self.internal_auth.clone(),
            self.metrics.clone(),
        )
        .await
    }

    /// Serves until shutdown is requested or the HTTP server exits, then
    /// shuts down in order: readiness false, HTTP stops accepting and
    /// finishes in-flight requests, NATS subscriptions drain, background
    /// work stops and the outbox makes a last relay pass, the pool closes,
    /// NATS flushes. All within `http.shutdown_timeout_secs`.
    pub async fn serve_until_stopped(
        mut self,
        server: actix_web::dev::Server,
        rpc: Option<RpcServer>,
    ) -> anyhow::Result<()> {
        let handle = server.handle();
        let mut server_task = tokio::spawn(server);
        let deadline = Duration::from_secs(self.config.http.shutdown_timeout_secs);
        let early_exit = tokio::select! {
            _ = self.shutdown.cancelled() => None,
            r = &mut server_task => Some(r),
        };
        tracing::info!("shutting down");
        self.health.set_draining();
        let started = tokio::time::Instant::now();
        if early_exit.is_none() {
            handle.stop(true).await;
            let _ = tokio::time::timeout(deadline, server_task).await;
        }
        if let Some(rpc) = rpc {
            rpc.drain(
                deadline
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_secs(1)),
            )
            .await;
        }
        self.background.cancel();
        let remaining = deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        let tasks = &mut self.tasks;
        if tokio::time::timeout(remaining, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("background tasks did not stop before the deadline");
            self.tasks.abort_all();
        }
        self.pool.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.nats.flush()).await;
        tracing::info!("stopped");
        match early_exit {
            Some(Ok(Err(e))) => Err(e.into()),
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}
