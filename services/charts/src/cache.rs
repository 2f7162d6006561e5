//! The chart cache: a bounded in-process LRU in front of PostgreSQL
//! (`chart_cache`, the chart as JSONB with hit counts), single flight per
//! key and process, computation on a bounded blocking pool, and one row per
//! key across replicas (`INSERT ... ON CONFLICT DO NOTHING`).
//!
//! A hit is served from memory without touching the database: hit counts
//! accumulate in memory and are flushed every `cache.hit_flush_ms`; the
//! (user, chart) ownership link is written once and remembered.

use crate::engine::{self, Normalized};
use crate::lru::Lru;
use common::{ErrorCode, EventEnvelope};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use platform::nats::CallContext;
use platform::outbox::OutboxSignal;
use platform::AppError;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A cached chart: its row id and the chart document as JSON text.
#[derive(Debug)]
pub struct CachedChart {
    pub id: Uuid,
    pub chart: Arc<str>,
}

/// Where a chart came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Memory,
    Database,
    Computed,
}

impl Source {
    pub fn cached(self) -> bool {
        self != Source::Computed
    }
}

/// A cloneable error, shared by every waiter of a flight.
#[derive(Clone, Debug)]
pub struct FlightError {
    code: ErrorCode,
    message: String,
    field: Option<String>,
}

impl From<AppError> for FlightError {
    fn from(e: AppError) -> Self {
        if e.code.is_server_error() {
            tracing::error!(error = ?e, "chart flight failed");
        }
        FlightError {
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<FlightError> for AppError {
    fn from(e: FlightError) -> Self {
        let mut a = AppError::new(e.code, e.message);
        a.field = e.field;
        a
    }
}

type FlightResult = Result<(Arc<CachedChart>, Source), FlightError>;
type Flight = Shared<BoxFuture<'static, FlightResult>>;

#[derive(Clone)]
pub struct CacheMetrics {
    pub hits_memory: Counter,
    pub hits_database: Counter,
    pub misses: Counter,
    pub computations: Counter,
    pub compute_seconds: Histogram,
    pub lru_size: Gauge,
    pub inflight: Gauge,
}

impl CacheMetrics {
    pub fn new(m: &platform::metrics::Metrics) -> Self {
        let c = CacheMetrics {
            hits_memory: Counter::default(),
            hits_database: Counter::default(),
            misses: Counter::default(),
            computations: Counter::default(),
            // 1 ms .. ~4 s
            compute_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 13)),
            lru_size: Gauge::default(),
            inflight: Gauge::default(),
        };
        m.register(
            "charts_cache_hits_memory",
            "chart requests served from the in-process LRU",
            c.hits_memory.clone(),
        );
        m.register(
            "charts_cache_hits_database",
            "chart requests served from PostgreSQL",
            c.hits_database.clone(),
        );
        m.register(
            "charts_cache_misses",
            "chart requests that waited for a computation",
            c.misses.clone(),
        );
        m.register(
            "charts_computations",
            "charts computed by the engine",
            c.computations.clone(),
        );
        m.register(
            "charts_compute_seconds",
            "engine time per chart",
            c.compute_seconds.clone(),
        );
        m.register(
            "charts_cache_lru_size",
            "charts in the in-process LRU",
            c.lru_size.clone(),
        );
        m.register(
            "charts_cache_inflight",
            "computations in flight",
            c.inflight.clone(),
        );
        c
    }
}

/// Payload of `evt.charts.chart.computed` (version 1).
#[derive(Clone, Debug, Serialize)]
pub struct ChartComputed {
    pub chart_id: Uuid,
    pub key: String,
    pub engine_version: String,
    pub utc: chrono::DateTime<chrono::Utc>,
    pub lat: f64,
    pub lon: f64,
    pub options: engine::Options,
    pub compute_ms: f64,
}

pub struct ChartCache {
    pool: deadpool_postgres::Pool,
    lru: Mutex<Lru<String, Arc<CachedChart>>>,
    owners: Mutex<Lru<(Uuid, Uuid), ()>>,
    inflight: Mutex<HashMap<String, Flight>>,
    pending_hits: Mutex<HashMap<String, i64>>,
    permits: Arc<Semaphore>,
    rt: tokio::runtime::Handle,
    pub metrics: CacheMetrics,
    pub engine_version: String,
    outbox: OutboxSignal,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes a flight from the map when its task ends (even by panic).
struct FlightGuard {
    cache: Arc<ChartCache>,
    key: String,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        lock(&self.cache.inflight).remove(&self.key);
        self.cache
            .metrics
            .inflight
            .set(i64::try_from(lock(&self.cache.inflight).len()).unwrap_or(0));
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    pub engine_version: String,
    pub hits_memory: u64,
    pub hits_database: u64,
    pub hits: u64,
    pub misses: u64,
    pub computations: u64,
    pub lru_size: usize,
    pub lru_capacity: usize,
    pub inflight: usize,
    pub compute_threads: usize,
    pub rows: i64,
    pub rows_current_version: i64,
    pub total_row_hits: i64,
}

impl ChartCache {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: deadpool_postgres::Pool,
        lru_capacity: usize,
        ownership_capacity: usize,
        compute_threads: usize,
        rt: tokio::runtime::Handle,
        metrics: CacheMetrics,
        engine_version: String,
        outbox: OutboxSignal,
    ) -> Arc<Self> {
        Arc::new(ChartCache {
            pool,
            lru: Mutex::new(Lru::new(lru_capacity)),
            owners: Mutex::new(Lru::new(ownership_capacity)),
            inflight: Mutex::new(HashMap::new()),
            pending_hits: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(compute_threads.max(1))),
            rt,
            metrics,
            engine_version,
            outbox,
        })
    }

    fn lru_get(&self, key: &str) -> Option<Arc<CachedChart>> {
        lock(&self.lru).get(&key.to_owned()).cloned()
    }

    fn record_hit(&self, key: &str) {
        let mut h = lock(&self.pending_hits);
        if let Some(n) = h.get_mut(key) {
            *n += 1;
        } else {
            h.insert(key.to_owned(), 1);
        }
    }

    /// The chart for a normalized birth: from memory, from PostgreSQL, or
    /// computed (once per key and process, however many ask at once).
    pub async fn get_or_compute(
        self: &Arc<Self>,
        n: &Normalized,
    ) -> Result<(Arc<CachedChart>, Source), AppError> {
        if let Some(c) = self.lru_get(&n.key) {
            self.metrics.hits_memory.inc();
            self.record_hit(&n.key);
            return Ok((c, Source::Memory));
        }
        let flight = {
            let mut inflight = lock(&self.inflight);
            // Checked again under the flight lock: a flight puts its chart
            // into the LRU before it leaves the map.
            if let Some(c) = self.lru_get(&n.key) {
                drop(inflight);
                self.metrics.hits_memory.inc();
                self.record_hit(&n.key);
                return Ok((c, Source::Memory));
            }
            match inflight.get(&n.key) {
                Some(f) => f.clone(),
                None => {
                    let this = self.clone();
                    let n2 = n.clone();
                    let ctx = CallContext::current();
                    let task = self.rt.spawn(async move {
                        let _guard = FlightGuard {
                            cache: this.clone(),
                            key: n2.key.clone(),
                        };
                        let r = this.fill(&n2, &ctx).await.map_err(FlightError::from);
                        if let Ok((c, _)) = &r {
                            let mut lru = lock(&this.lru);
                            lru.put(n2.key.clone(), c.clone());
                            this.metrics
                                .lru_size
                                .set(i64::try_from(lru.len()).unwrap_or(0));
                        }
                        r
                    });
                    let flight: Flight = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(FlightError::from(AppError::internal(anyhow::anyhow!(
                                "chart flight task failed: {e}"
                            ))))
                        })
                    }
                    .boxed()
                    .shared();
                    inflight.insert(n.key.clone(), flight.clone());
                    self.metrics
                        .inflight
                        .set(i64::try_from(inflight.len()).unwrap_or(0));
                    flight
                }
            }
        };
        let (chart, source) = flight.await?;
        match source {
            Source::Computed => {
                self.metrics.misses.inc();
            }
            _ => {
                self.metrics.hits_database.inc();
                self.record_hit(&n.key);
            }
        }
        Ok((chart, source))
    }

    /// One flight: the row if another process (or an earlier run) wrote it,
    /// else compute and insert.
    async fn fill(
        &self,
        n: &Normalized,
        ctx: &CallContext,
    ) -> Result<(Arc<CachedChart>, Source), AppError> {
        {
            let client = platform::db::conn(&self.pool).await?;
            let row = client
                .query_opt(
                    "SELECT id, chart::text FROM chart_cache WHERE key = $1",
                    &[&n.key],
                )
                .await
                .map_err(platform::db::q)?;
            if let Some(row) = row {
                let chart: String = row.get(1);
                return Ok((
                    Arc::new(CachedChart {
                        id: row.get(0),
                        chart: chart.into(),
                    }),
                    Source::Database,
                ));
            }
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        let n2 = n.clone();
        let version = self.engine_version.clone();
        let computations = self.metrics.computations.clone();
        let started = Instant::now();
        let chart = self
            .rt
            .spawn_blocking(move || {
                let _permit = permit;
                computations.inc();
                engine::compute(&n2, &version)
            })
            .await
            .map_err(AppError::internal)??;
        let elapsed = started.elapsed();
        self.metrics.compute_seconds.observe(elapsed.as_secs_f64());
        let compute_ms = elapsed.as_secs_f64() * 1000.0;
        let input = serde_json::to_value(n).map_err(AppError::internal)?;
        let id = Uuid::now_v7();
        let mut client = platform::db::conn(&self.pool).await?;
        let tx = client.transaction().await.map_err(platform::db::q)?;
        let inserted = tx
            .query_opt(
                "INSERT INTO chart_cache (id, key, engine_version, input, chart, compute_ms)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
                 ON CONFLICT (key) DO NOTHING RETURNING id",
                &[
                    &id,
                    &n.key,
                    &self.engine_version,
                    &input,
                    &chart,
                    &compute_ms,
                ],
            )
            .await
            .map_err(platform::db::q)?;
        let id = match inserted {
            Some(_) => {
                let event = EventEnvelope::new(
                    common::subjects::charts::SERVICE,
                    common::subjects::charts::EVT_CHART_COMPUTED,
                    1,
                    ChartComputed {
                        chart_id: id,
                        key: n.key.clone(),
                        engine_version: self.engine_version.clone(),
                        utc: n.utc,
                        lat: n.lat,
                        lon: n.lon,
                        options: n.options.clone(),
                        compute_ms,
                    },
                );
                platform::outbox::enqueue(&tx, &event, ctx).await?;
                tx.commit().await.map_err(platform::db::q)?;
                self.outbox.notify();
                id
            }
            None => {
                // Another replica wrote the row first; the chart is the same.
                let row = tx
                    .query_one("SELECT id FROM chart_cache WHERE key = $1", &[&n.key])
                    .await
                    .map_err(platform::db::q)?;
                tx.commit().await.map_err(platform::db::q)?;
                row.get(0)
            }
        };
        Ok((
            Arc::new(CachedChart {
                id,
                chart: chart.into(),
            }),
            Source::Computed,
        ))
    }

    /// Records that `user` may see `chart` (written once, then remembered).
    /// False when the chart row no longer exists (purged).
    pub async fn ensure_owner(&self, user: Uuid, chart: Uuid) -> Result<bool, AppError> {
        if lock(&self.owners).get(&(user, chart)).is_some() {
            return Ok(true);
        }
        let client = platform::db::conn(&self.pool).await?;
        let r = client
            .execute(
                "INSERT INTO user_charts (user_id, chart_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&user, &chart],
            )
            .await;
        match r {
            Ok(_) => {
                lock(&self.owners).put((user, chart), ());
                Ok(true)
            }
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
                Ok(false)
            }
            Err(e) => Err(platform::db::q(e)),
        }
    }

    /// Drops one key from memory.
    pub fn forget(&self, key: &str) {
        let mut lru = lock(&self.lru);
        lru.remove(&key.to_owned());
        self.metrics
            .lru_size
            .set(i64::try_from(lru.len()).unwrap_or(0));
    }

    /// Runs pure computation on the bounded blocking pool.
    pub async fn run_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, AppError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        self.rt
            .spawn_blocking(move || {
                let _permit = permit;
                f()
            })
            .await
            .map_err(AppError::internal)?
    }

    /// Writes accumulated hit counts.
    pub async fn flush_hits(&self) -> Result<usize, AppError> {
        let pending: HashMap<String, i64> = std::mem::take(&mut *lock(&self.pending_hits));
        if pending.is_empty() {
            return Ok(0);
        }
        let (keys, counts): (Vec<String>, Vec<i64>) = pending.into_iter().unzip();
        let result = async {
            let client = platform::db::conn(&self.pool).await?;
            client
                .execute(
                    "UPDATE chart_cache c SET hits = c.hits + v.n, last_hit_at = now()
                     FROM unnest($1::text[], $2::bigint[]) AS v(key, n) WHERE c.key = v.key",
                    &[&keys, &counts],
                )
                .await
                .map_err(platform::db::q)
        }
        .await;
        match result {
            Ok(n) => Ok(usize::try_from(n).unwrap_or(0)),
            Err(e) => {
                // Put them back for the next pass.
                let mut h = lock(&self.pending_hits);
                for (k, n) in keys.into_iter().zip(counts) {
                    *h.entry(k).or_insert(0) += n;
                }
                Err(e)
            }
        }
    }

    /// Flushes hit counts every `every` until cancelled, then once more.
    pub async fn hit_flush_loop(self: Arc<Self>, every: Duration, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.flush_hits().await {
                tracing::debug!(error = ?e, "hit count flush failed; will retry");
            }
        }
        let _ = self.flush_hits().await;
    }

    /// Forgets everything held in memory (after a purge).
    pub fn clear_memory(&self) {
        lock(&self.lru).clear();
        lock(&self.owners).clear();
        self.metrics.lru_size.set(0);
    }

    pub async fn stats(&self, compute_threads: usize) -> Result<CacheStats, AppError> {
        let client = platform::db::conn(&self.pool).await?;
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE engine_version = $1), COALESCE(sum(hits), 0)::bigint
                 FROM chart_cache",
                &[&self.engine_version],
            )
            .await
            .map_err(platform::db::q)?;
        let (lru_size, lru_capacity) = {
            let l = lock(&self.lru);
            (l.len(), l.capacity())
        };
        let m = &self.metrics;
        Ok(CacheStats {
            engine_version: self.engine_version.clone(),
            hits_memory: m.hits_memory.get(),
            hits_database: m.hits_database.get(),
            hits: m.hits_memory.get() + m.hits_database.get(),
            misses: m.misses.get(),
            computations: m.computations.get(),
            lru_size,
            lru_capacity,
            inflight: lock(&self.inflight).len(),
            compute_threads,
            rows: row.get(0),
            rows_current_version: row.get(1),
            total_row_hits: row.get(2),
        })
    }
}
