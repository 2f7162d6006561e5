//! What a service process holds: its configuration, the one pool, the one
//! NATS client, metrics, readiness, internal auth, the outbox relay and the
//! shutdown path. [`Runtime::start`] never waits for a dependency: the pool
//! connects on demand and NATS connects in the background, so start-up
//! cannot race or crash-loop; readiness says when both answer.

use crate::auth::InternalAuth;
use crate::config::BaseConfig;
use crate::health::Health;
use crate::http::{HttpDeps, HttpServers, MetricsAccess, OpenApiDoc};
use crate::metrics::Metrics;
use crate::nats::{Bus, ConsumerSpec, RpcServer};
use crate::outbox::{OutboxSignal, RelayConfig};
use actix_web::web;
use async_nats::jetstream;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Callers of the endpoints every service has for the monitor.
const MONITOR: &[&str] = &["monitor"];

pub struct Runtime {
    pub config: BaseConfig,
    pub pool: deadpool_postgres::Pool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    /// NATS with this deployment's namespace and this service's identity.
    pub bus: Bus,
    pub metrics: Metrics,
    pub health: Health,
    pub internal_auth: InternalAuth,
    pub outbox: OutboxSignal,
    /// Cancelled by SIGTERM/SIGINT (or by a test) to begin shutdown.
    pub shutdown: CancellationToken,
    /// Every durable consumer started with [`Runtime::consume`], for
    /// `<service>.consumers.ensure` (which reads it when called, so
    /// consumers started after [`Runtime::rpc_server`] are included).
    consumers: Arc<Mutex<Vec<ConsumerSpec>>>,
    /// Cancelled once HTTP and NATS intake have stopped: stops background work.
    background: CancellationToken,
    tasks: JoinSet<()>,
}

impl Runtime {
    pub async fn start(config: BaseConfig) -> anyhow::Result<Runtime> {
        let service = config.service.clone();
        let pool = crate::db::build_pool(&config.database, &service)?;
        let nats = crate::nats::connect(&config.nats, &service).await?;
        let metrics = Metrics::new(&service);
        let health = Health::default();
        let internal_auth = InternalAuth::from_config(&service, &config.internal_auth, config.env)?;
        let bus = Bus::new(
            nats.clone(),
            internal_auth.clone(),
            &config.nats.prefix,
            config.nats.request_timeout(),
        );
        let js = bus.js.clone();
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
            bus.clone(),
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
            bus,
            metrics,
            health,
            internal_auth,
            outbox,
            shutdown: CancellationToken::new(),
            consumers: Arc::new(Mutex::new(Vec::new())),
            background,
            tasks,
        })
    }

    pub fn service(&self) -> &str {
        &self.config.service
    }

    /// The durable consumers started so far with [`Runtime::consume`].
    pub fn consumer_specs(&self) -> Vec<ConsumerSpec> {
        lock_specs(&self.consumers).clone()
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
            metrics_access: web::Data::new(MetricsAccess(self.config.http.metrics_token.clone())),
            body_limit: self.config.http.body_limit_bytes,
        }
    }

    /// Binds the HTTP listener (port 0 picks one) and, when
    /// `http.metrics_address` is set, the metrics listener, and starts
    /// serving the platform routes plus `configure`'s.
    pub fn serve_http<F>(&self, openapi_json: String, configure: F) -> anyhow::Result<HttpServers>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let http = &self.config.http;
        let (listener, _) = crate::http::bind(&http.host, http.port)?;
        let metrics_listener = match http.metrics_address.as_deref().filter(|a| !a.is_empty()) {
            Some(addr) => Some(std::net::TcpListener::bind(addr)?),
            None => None,
        };
        Ok(crate::http::serve(
            listener,
            metrics_listener,
            self.http_deps(openapi_json),
            http.workers,
            http.shutdown_timeout_secs,
            configure,
        )?)
    }

    /// The service's NATS endpoints, discoverable with `metadata` (the
    /// HTTP address and pool settings are added here).
    pub async fn rpc_server(&self, http_port: u16) -> anyhow::Result<RpcServer> {
        let mut metadata = serde_json::Map::new();
        let hostname = std::env::var("HOSTNAME").ok();
        metadata.insert(
            "http_address".into(),
            self.config
                .http
                .advertised_address(http_port, hostname.as_deref())
                .into(),
        );
        metadata.insert(
            "db_pool_max".into(),
            self.config.database.max_connections.to_string().into(),
        );
        metadata.insert("env".into(), self.config.env.as_str().into());
        let mut server = RpcServer::start(
            self.bus.clone(),
            self.service(),
            env!("CARGO_PKG_VERSION"),
            self.metrics.clone(),
            metadata,
        )
        .await?;
        // Every service reports its outbox backlog to the monitor.
        let pool = self.pool.clone();
        server
            .endpoint(
                &format!("{}.outbox.stats", self.service()),
                MONITOR,
                move |_r: crate::nats::RpcRequest,
                      _req: serde_json::Map<String, serde_json::Value>| {
                    let pool = pool.clone();
                    async move {
                        let c = crate::db::conn(&pool).await?;
                        crate::outbox::stats(&c).await
                    }
                },
            )
            .await?;
        // ... and compares its live schema with what `migrate` recorded.
        let pool = self.pool.clone();
        let service = self.service().to_owned();
        server
            .endpoint(
                &format!("{}.schema.check", self.service()),
                MONITOR,
                move |_r: crate::nats::RpcRequest,
                      _req: serde_json::Map<String, serde_json::Value>| {
                    let pool = pool.clone();
                    let service = service.clone();
                    async move {
                        let c = crate::db::conn(&pool).await?;
                        crate::migrate::check(&c, &service)
                            .await
                            .map_err(crate::AppError::internal)
                    }
                },
            )
            .await?;
        // ... and re-creates a missing index, constraint or trigger from it.
        let pool = self.pool.clone();
        let service = self.service().to_owned();
        server
            .endpoint(
                &format!("{}.schema.repair", self.service()),
                MONITOR,
                move |_r: crate::nats::RpcRequest, req: crate::migrate::RepairRequest| {
                    let pool = pool.clone();
                    let service = service.clone();
                    async move {
                        let mut c = crate::db::conn(&pool).await?;
                        let client: &mut tokio_postgres::Client = &mut c;
                        crate::migrate::repair(client, &service, &req)
                            .await
                            .map_err(|e| match e {
                                crate::migrate::RepairRefused::NotRepairable(m) => {
                                    crate::AppError::new(common::ErrorCode::Conflict, m)
                                }
                                crate::migrate::RepairRefused::Database(e) => {
                                    crate::AppError::internal(e)
                                }
                            })
                    }
                },
            )
            .await?;
        // ... wakes its outbox relay now, and reports the backlog ...
        let pool = self.pool.clone();
        let outbox = self.outbox.clone();
        server
            .endpoint(
                &format!("{}.outbox.relay", self.service()),
                MONITOR,
                move |_r: crate::nats::RpcRequest,
                      _req: serde_json::Map<String, serde_json::Value>| {
                    let pool = pool.clone();
                    let outbox = outbox.clone();
                    async move {
                        outbox.notify();
                        let c = crate::db::conn(&pool).await?;
                        crate::outbox::stats(&c).await
                    }
                },
            )
            .await?;
        // ... cancels a statement or ends a session of its own that the
        // monitor found over a limit (the service checks it is its own) ...
        let pool = self.pool.clone();
        let service = self.service().to_owned();
        server
            .endpoint(
                &format!("{}.db.signal", self.service()),
                MONITOR,
                move |r: crate::nats::RpcRequest, req: crate::monitoring::SignalRequest| {
                    let pool = pool.clone();
                    let service = service.clone();
                    async move {
                        tracing::info!(caller = %r.caller.service, pid = req.pid, action = req.action.as_str(), dry_run = req.dry_run, "database session signal requested");
                        let c = crate::db::conn(&pool).await?;
                        crate::monitoring::signal_session(&c, &service, &req).await
                    }
                },
            )
            .await?;
        // ... and reports its durable consumers, re-creating missing ones.
        let bus = self.bus.clone();
        let consumers = self.consumers.clone();
        server
            .endpoint(
                &format!("{}.consumers.ensure", self.service()),
                MONITOR,
                move |_r: crate::nats::RpcRequest, req: crate::monitoring::ConsumersRequest| {
                    let bus = bus.clone();
                    let specs = lock_specs(&consumers).clone();
                    async move { crate::monitoring::ensure_consumers(&bus, &specs, req.dry_run).await }
                },
            )
            .await?;
        Ok(server)
    }

    /// Runs a durable consumer of another service's (or this one's) events
    /// until shutdown; see [`crate::nats::run_consumer`].
    pub fn consume<T, F, Fut>(&mut self, spec: crate::nats::ConsumerSpec, handler: F)
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(crate::nats::Delivery<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        lock_specs(&self.consumers).push(spec.clone());
        let bus = self.bus.clone();
        let metrics = self.metrics.clone();
        self.spawn(move |token| crate::nats::run_consumer(bus, metrics, spec, token, handler));
    }

    /// Serves until shutdown is requested or the HTTP server exits, then
    /// shuts down in order: readiness false, HTTP stops accepting and
    /// finishes in-flight requests, NATS subscriptions drain, background
    /// work stops and the outbox makes a last relay pass, the pool closes,
    /// NATS flushes. All within `http.shutdown_timeout_secs`.
    pub async fn serve_until_stopped(
        mut self,
        servers: HttpServers,
        rpc: Option<RpcServer>,
    ) -> anyhow::Result<()> {
        let server = servers.main;
        let metrics_server = servers.metrics;
        let handle = server.handle();
        let mut server_task = tokio::spawn(server);
        let metrics_task = metrics_server.map(|m| {
            let h = m.handle();
            (h, tokio::spawn(m))
        });
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
        if let Some((h, task)) = metrics_task {
            h.stop(true).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
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

/// The consumer list; a panic while it was held cannot leave it half-written
/// (a push or a clone), so a poisoned lock is used as it is.
fn lock_specs(specs: &Mutex<Vec<ConsumerSpec>>) -> std::sync::MutexGuard<'_, Vec<ConsumerSpec>> {
    specs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What every service's `Application` is made of: the runtime, its HTTP
/// servers and its NATS endpoints. Built identically by `main` and by tests.
pub struct Service {
    runtime: Runtime,
    http: HttpServers,
    rpc: Option<RpcServer>,
}

impl Service {
    pub fn new(runtime: Runtime, http: HttpServers, rpc: Option<RpcServer>) -> Service {
        tracing::info!(port = http.port, metrics_port = ?http.metrics_port, service = runtime.service(), "listening");
        Service { runtime, http, rpc }
    }

    /// The main HTTP port (the real one when configured as 0).
    pub fn port(&self) -> u16 {
        self.http.port
    }

    /// The metrics listener's port, when `/metrics` has one of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.http.metrics_port
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Cancelling this token shuts the service down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.runtime.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.runtime.serve_until_stopped(self.http, self.rpc).await
    }
}
