//! The monitor's loop. Every replica runs it; only the leader observes:
//! each round it discovers instances and probes readiness, and when due
//! reads the database, asks every service about its outbox and consumers,
//! and asks every service to check its schema. The round's findings open,
//! refresh and resolve incidents in one transaction; then the policies
//! carry out the safe repairs, each through the owning service.

use crate::config::MonitorConfig;
use crate::discovery::Discovery;
use crate::findings::Observed;
use crate::leader::{self, Leader};
use crate::metrics::MonitorMetrics;
use crate::notify::Notifier;
use crate::policy::Policies;
use crate::{database, messaging, reported, schema, store};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Watcher {
    pub pool: deadpool_postgres::Pool,
    pub bus: platform::nats::Bus,
    pub cfg: Arc<MonitorConfig>,
    pub metrics: MonitorMetrics,
    pub notifier: Notifier,
    /// This replica's id (in snapshots: who took them).
    pub instance: String,
    /// Whether this replica leads now.
    pub leading: Arc<AtomicBool>,
    pub outbox: platform::outbox::OutboxSignal,
}

pub async fn run(w: Watcher, token: CancellationToken) {
    let cfg = w.cfg.clone();
    let http = match platform::http_client::builder()
        .timeout(Duration::from_millis(cfg.watch.ready_timeout_ms))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the readiness prober; the monitor does not watch");
            return;
        }
    };
    let mut leader = Leader::new(w.pool.clone(), leader::lock_key(w.bus.prefix()));
    let mut discovery = Discovery::new(http);
    let mut policies = Policies::new();
    let interval = cfg.interval();
    let standby = Duration::from_millis(cfg.leader.check_ms);
    let db_every = Duration::from_millis(cfg.watch.database_interval_ms);
    let msg_every = Duration::from_millis(cfg.watch.messaging_interval_ms);
    let schema_every = Duration::from_millis(cfg.watch.schema_interval_ms);
    let (mut next_db, mut next_msg, mut next_schema) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut next_round = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_round) => {}
            _ = token.cancelled() => break,
        }
        let started = Instant::now();
        let was = leader.is_leader();
        let leads = leader.ensure().await;
        w.leading.store(leads, Ordering::Relaxed);
        w.metrics.leader.set(i64::from(leads));
        if !leads {
            if was {
                discovery.reset();
            }
            next_round = tokio::time::Instant::now() + standby;
            continue;
        }
        next_round = tokio::time::Instant::from_std(started) + interval;
        if !was {
            discovery.reset();
            restore(&w, &mut discovery).await;
            policies = Policies::new();
            let now = Instant::now();
            (next_db, next_msg, next_schema) = (now, now, now);
        }
        let mut obs = discovery.round(&w.bus, &cfg).await;
        let views = discovery.views();
        w.metrics.set_instances(&views);
        let live_services = discovery.live_services();
        let mut known: Vec<String> = cfg.services().iter().map(|s| (*s).to_owned()).collect();
        known.extend(live_services.iter().cloned());
        known.sort();
        known.dedup();
        let now = Instant::now();
        if now >= next_db {
            next_db = now + db_every;
            let live = discovery.live();
            let d = database::observe(&w.pool, &cfg, &live, &known).await;
            w.metrics.set_database(&d);
            save(&w, "database", &d.snapshot).await;
            obs.extend(d.observed);
        }
        if discovery.nats_ok() && now >= next_msg {
            next_msg = now + msg_every;
            let m = messaging::observe(&w.bus, &cfg, &live_services).await;
            w.metrics.set_messaging(&m);
            save(&w, "messaging", &m.snapshot).await;
            obs.extend(m.observed);
        }
        if discovery.nats_ok() && now >= next_schema {
            next_schema = now + schema_every;
            let s = schema::observe(&w.bus, &live_services).await;
            w.metrics.set_schema(&s.drift);
            save(&w, "schema", &s.snapshot).await;
            obs.extend(s.observed);
        }
        obs.extend(reported::observe(&w.pool).await);
        let overview = json!({
            "nats_ok": discovery.nats_ok(),
            "expected_services": cfg.services(),
            "instances": views,
        });
        save(&w, "overview", &overview).await;
        settle(&w, &mut policies, &obs).await;
        w.metrics.round_seconds.set(started.elapsed().as_secs_f64());
    }
    leader.release().await;
    w.leading.store(false, Ordering::Relaxed);
    w.metrics.leader.set(0);
}

/// A new leader starts from the last overview, when it is recent.
async fn restore(w: &Watcher, discovery: &mut Discovery) {
    let Ok(Some((data, at, _))) = store::snapshot(&w.pool, "overview").await else {
        return;
    };
    let age = chrono::Utc::now() - at;
    if age > chrono::Duration::seconds(i64::try_from(w.cfg.watch.forget_lost_secs).unwrap_or(900)) {
        return;
    }
    let views: Vec<crate::discovery::InstanceView> = data
        .get("instances")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    tracing::info!(
        instances = views.len(),
        "continuing from the previous leader's view"
    );
    discovery.restore(views);
}

async fn save(w: &Watcher, area: &str, data: &serde_json::Value) {
    if let Err(e) = store::put_snapshot(&w.pool, area, data, &w.instance).await {
        tracing::debug!(error = %e.message, area, "snapshot not stored");
    }
}

/// Incidents from the round's findings, notifications, then repairs.
async fn settle(w: &Watcher, policies: &mut Policies, obs: &Observed) {
    let changes = match store::apply(&w.pool, obs).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e.message, "incidents not updated this round");
            return;
        }
    };
    for i in &changes.opened {
        tracing::warn!(incident = %i.id, fingerprint = %i.fingerprint, severity = i.severity.as_str(), "incident opened: {}", i.title);
        w.metrics.incidents_opened.inc();
        w.notifier.send(crate::notify::message(i, "opened"));
    }
    for i in &changes.resolved {
        tracing::info!(incident = %i.id, fingerprint = %i.fingerprint, "incident resolved: {}", i.title);
        w.metrics.incidents_resolved.inc();
        w.notifier.send(crate::notify::message(i, "resolved"));
    }
    if !changes.opened.is_empty() || !changes.resolved.is_empty() {
        // Their events are in the outbox: relay them now.
        w.outbox.notify();
    }
    if let Ok(active) = store::active_by_service(&w.pool).await {
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for (_, s) in active {
            *counts.entry(s.as_str().to_owned()).or_default() += 1;
        }
        w.metrics.set_open(&counts.into_iter().collect::<Vec<_>>());
    }
    policies
        .run(&w.pool, &w.bus, &w.cfg, &w.metrics, &obs.findings, &changes)
        .await;
}
