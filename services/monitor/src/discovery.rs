//! Instances, from the NATS service API: every round one `$SRV.STATS` to
//! all (each instance answers with its name, id, version, start time,
//! metadata and per-endpoint counters; `INFO` is asked once per new
//! instance for its endpoints' subjects), then `/readyz` of each. Only this
//! deployment's instances count (`nats_prefix` in their metadata).
//!
//! An instance that misses `lost_after` rounds is lost; it is replaced when
//! a newer instance of its service appears, and forgotten after
//! `forget_lost_secs`. While NATS is unreachable, and for `lost_after`
//! rounds after it returns (while the services reconnect), no round counts
//! as missed: one `nats_unreachable` incident instead of a storm.

use crate::config::MonitorConfig;
use crate::findings::{Finding, Observed, Scope, Severity};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// One endpoint's counters, as the service API reports them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointStats {
    pub name: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub num_requests: u64,
    #[serde(default)]
    pub num_errors: u64,
    /// Nanoseconds.
    #[serde(default)]
    pub processing_time: u64,
    /// Nanoseconds.
    #[serde(default)]
    pub average_processing_time: u64,
}

#[derive(Clone, Debug, Deserialize)]
struct StatsReply {
    name: String,
    id: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    metadata: BTreeMap<String, Value>,
    #[serde(default)]
    started: Option<DateTime<Utc>>,
    #[serde(default)]
    endpoints: Vec<EndpointStats>,
}

/// An instance as the overview shows it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub service: String,
    pub id: String,
    pub version: String,
    /// `live`, `lost` or `replaced`.
    pub state: String,
    pub http_address: Option<String>,
    /// The pool size it configured (`database.max_connections`).
    pub db_pool_max: Option<i64>,
    pub started: Option<DateTime<Utc>>,
    pub uptime_secs: Option<i64>,
    pub last_seen: DateTime<Utc>,
    /// The last `/readyz` answer (`None` before the first, or unreachable).
    pub ready: Option<bool>,
    /// Readiness changes in the last 20 probes.
    pub ready_transitions: usize,
    pub requests: u64,
    pub errors: u64,
    /// Total processing time of its endpoints, milliseconds.
    pub processing_ms: f64,
    pub endpoints: Vec<EndpointStats>,
}

struct Instance {
    view: InstanceView,
    missed: u32,
    lost_at: Option<Instant>,
    first_seen: Instant,
    probes: VecDeque<bool>,
    failing_probes: u32,
}

/// What the monitor knows of the platform's instances.
pub struct Discovery {
    instances: HashMap<String, Instance>,
    /// No miss counts until then (NATS just returned).
    grace_until: Option<Instant>,
    nats_down_rounds: u32,
    started: Instant,
    http: reqwest::Client,
}

impl Discovery {
    pub fn new(http: reqwest::Client) -> Discovery {
        Discovery {
            instances: HashMap::new(),
            grace_until: None,
            nats_down_rounds: 0,
            started: Instant::now(),
            http,
        }
    }

    /// Forgets everything (this instance stopped leading).
    pub fn reset(&mut self) {
        self.instances.clear();
        self.grace_until = None;
        self.nats_down_rounds = 0;
        self.started = Instant::now();
    }

    /// Continues from the previous leader's view (its last overview): live
    /// instances must answer again within `lost_after` rounds, lost ones
    /// stay lost until replaced or forgotten, so a handover neither drops
    /// nor re-opens incidents.
    pub fn restore(&mut self, views: Vec<InstanceView>) {
        let now = Instant::now();
        // Older than anything seen from now on: a restored live instance
        // never counts as the replacement of a restored lost one.
        let long_ago = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
        for v in views {
            let lost = v.state == "lost";
            if !lost && v.state != "live" {
                continue;
            }
            self.instances.insert(
                v.id.clone(),
                Instance {
                    view: v,
                    missed: 0,
                    lost_at: lost.then_some(now),
                    first_seen: long_ago,
                    probes: VecDeque::new(),
                    failing_probes: 0,
                },
            );
        }
    }

    /// Live instances: (service, pool size).
    pub fn live(&self) -> Vec<(&str, Option<i64>)> {
        self.instances
            .values()
            .filter(|i| i.view.state == "live")
            .map(|i| (i.view.service.as_str(), i.view.db_pool_max))
            .collect()
    }

    /// Services with at least one live instance.
    pub fn live_services(&self) -> Vec<String> {
        let mut s: Vec<String> = self.live().into_iter().map(|(s, _)| s.to_owned()).collect();
        s.sort();
        s.dedup();
        s
    }

    pub fn views(&self) -> Vec<InstanceView> {
        let mut v: Vec<InstanceView> = self.instances.values().map(|i| i.view.clone()).collect();
        v.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
        v
    }

    /// Whether NATS answers now (and answered the last round).
    pub fn nats_ok(&self) -> bool {
        self.nats_down_rounds == 0
    }

    /// Whether a round now may count misses and trust readiness.
    fn settled(&self) -> bool {
        self.grace_until.is_none_or(|t| Instant::now() >= t)
    }

    /// One round: asks every instance, probes readiness, and reports.
    pub async fn round(&mut self, bus: &platform::nats::Bus, cfg: &MonitorConfig) -> Observed {
        let mut obs = Observed::default();
        // Services reconnect with a backoff of up to about 2.5 s and probe
        // their readiness every second: give them that, on top of the rounds.
        let grace = cfg.interval() * cfg.watch.lost_after + Duration::from_secs(5);
        let connected = platform::health::nats_connected(&bus.client);
        let replies = if connected {
            ask(
                bus,
                "$SRV.STATS",
                Duration::from_millis(cfg.watch.collect_ms),
            )
            .await
        } else {
            Err(anyhow::anyhow!("not connected to NATS"))
        };
        let replies = match replies {
            Ok(r) => {
                if self.nats_down_rounds > 0 {
                    tracing::info!("NATS answers again; instances get {grace:?} to reconnect");
                    self.grace_until = Some(Instant::now() + grace);
                }
                self.nats_down_rounds = 0;
                obs.scopes.push(Scope::all("nats_unreachable"));
                r
            }
            Err(e) => {
                self.nats_down_rounds += 1;
                tracing::warn!(error = %e, rounds = self.nats_down_rounds, "NATS unreachable");
                obs.findings.push(Finding::new(
                    "nats_unreachable",
                    None,
                    "",
                    Severity::Critical,
                    "NATS is unreachable from the monitor".into(),
                    json!({"error": e.to_string(), "rounds": self.nats_down_rounds}),
                ));
                // Nothing else can be known this round.
                return obs;
            }
        };
        let now = Utc::now();
        let prefix = bus.prefix();
        let mut answered = std::collections::HashSet::new();
        let mut new_ids = Vec::new();
        for r in replies {
            let Ok(s) = serde_json::from_slice::<StatsReply>(&r) else {
                continue;
            };
            let p = s
                .metadata
                .get("nats_prefix")
                .and_then(Value::as_str)
                .unwrap_or("");
            if p != prefix {
                continue;
            }
            answered.insert(s.id.clone());
            let meta_str = |k: &str| s.metadata.get(k).and_then(Value::as_str).map(str::to_owned);
            let pool_max = meta_str("db_pool_max").and_then(|v| v.parse::<i64>().ok());
            let requests = s.endpoints.iter().map(|e| e.num_requests).sum();
            let errors = s.endpoints.iter().map(|e| e.num_errors).sum();
            let processing_ms =
                s.endpoints.iter().map(|e| e.processing_time).sum::<u64>() as f64 / 1e6;
            let entry = self.instances.entry(s.id.clone()).or_insert_with(|| {
                new_ids.push(s.id.clone());
                Instance {
                    view: InstanceView {
                        service: s.name.clone(),
                        id: s.id.clone(),
                        version: s.version.clone(),
                        state: "live".into(),
                        http_address: None,
                        db_pool_max: None,
                        started: s.started,
                        uptime_secs: None,
                        last_seen: now,
                        ready: None,
                        ready_transitions: 0,
                        requests: 0,
                        errors: 0,
                        processing_ms: 0.0,
                        endpoints: Vec::new(),
                    },
                    missed: 0,
                    lost_at: None,
                    first_seen: Instant::now(),
                    probes: VecDeque::new(),
                    failing_probes: 0,
                }
            });
            let v = &mut entry.view;
            v.version = s.version.clone();
            v.state = "live".into();
            v.http_address = meta_str("http_address");
            v.db_pool_max = pool_max;
            v.started = s.started;
            v.uptime_secs = s.started.map(|t| (now - t).num_seconds());
            v.last_seen = now;
            v.requests = requests;
            v.errors = errors;
            v.processing_ms = processing_ms;
            v.endpoints = s.endpoints;
            entry.missed = 0;
            entry.lost_at = None;
        }
        // Misses, losses and replacements.
        let settled = self.settled();
        let lost_after = cfg.watch.lost_after;
        let forget = Duration::from_secs(cfg.watch.forget_lost_secs);
        for i in self.instances.values_mut() {
            if answered.contains(&i.view.id) || i.view.state != "live" {
                continue;
            }
            if settled {
                i.missed += 1;
            }
            if i.missed >= lost_after {
                tracing::warn!(service = %i.view.service, instance = %i.view.id, "instance lost");
                i.view.state = "lost".into();
                i.view.ready = None;
                i.lost_at = Some(Instant::now());
            }
        }
        let newest_first_seen: HashMap<String, Instant> = {
            let mut m: HashMap<String, Instant> = HashMap::new();
            for i in self.instances.values().filter(|i| i.view.state == "live") {
                let e = m.entry(i.view.service.clone()).or_insert(i.first_seen);
                if i.first_seen > *e {
                    *e = i.first_seen;
                }
            }
            m
        };
        self.instances.retain(|_, i| match i.lost_at {
            Some(at) => {
                let replaced = newest_first_seen
                    .get(&i.view.service)
                    .is_some_and(|t| *t > at);
                !replaced && at.elapsed() < forget
            }
            None => true,
        });
        // Endpoints of new instances (for the overview).
        for id in new_ids {
            let Some(service) = self.instances.get(&id).map(|i| i.view.service.clone()) else {
                continue;
            };
            if let Some(info) = info(bus, &service, &id).await {
                if let Some(i) = self.instances.get_mut(&id) {
                    for e in &mut i.view.endpoints {
                        if let Some(s) = info.get(&e.name) {
                            e.subject.clone_from(s);
                        }
                    }
                }
            }
        }
        // Readiness of every live instance, probed together.
        let probes: Vec<(String, Option<String>)> = self
            .instances
            .values()
            .filter(|i| i.view.state == "live")
            .map(|i| (i.view.id.clone(), i.view.http_address.clone()))
            .collect();
        let timeout = Duration::from_millis(cfg.watch.ready_timeout_ms);
        let results = futures_util::future::join_all(probes.into_iter().map(|(id, addr)| {
            let http = self.http.clone();
            async move {
                let ok = match addr {
                    Some(a) => http
                        .get(format!("http://{a}/readyz"))
                        .timeout(timeout)
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false),
                    None => false,
                };
                (id, ok)
            }
        }))
        .await;
        for (id, ok) in results {
            if let Some(i) = self.instances.get_mut(&id) {
                i.view.ready = Some(ok);
                i.probes.push_back(ok);
                if i.probes.len() > 20 {
                    i.probes.pop_front();
                }
                i.view.ready_transitions = i
                    .probes
                    .iter()
                    .zip(i.probes.iter().skip(1))
                    .filter(|(a, b)| a != b)
                    .count();
                i.failing_probes = if ok { 0 } else { i.failing_probes + 1 };
            }
        }
        self.report(cfg, settled, &mut obs);
        obs
    }

    fn report(&self, cfg: &MonitorConfig, settled: bool, obs: &mut Observed) {
        let expected = cfg.services();
        let mut services: Vec<String> = self
            .instances
            .values()
            .map(|i| i.view.service.clone())
            .collect();
        services.extend(expected.iter().map(|s| (*s).to_owned()));
        services.sort();
        services.dedup();
        let watched_long_enough =
            self.started.elapsed() >= cfg.interval() * (cfg.watch.lost_after + 1);
        for svc in &services {
            let of: Vec<&Instance> = self
                .instances
                .values()
                .filter(|i| &i.view.service == svc)
                .collect();
            let live = of.iter().filter(|i| i.view.state == "live").count();
            let lost: Vec<&str> = of
                .iter()
                .filter(|i| i.view.state == "lost")
                .map(|i| i.view.id.as_str())
                .collect();
            obs.scopes.push(Scope::of("instance_lost", svc));
            if !lost.is_empty() {
                obs.findings.push(Finding::new(
                    "instance_lost",
                    Some(svc),
                    "",
                    if live == 0 {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    format!(
                        "{svc}: {} instance(s) stopped answering ({live} live)",
                        lost.len()
                    ),
                    json!({"lost_instances": lost, "live_instances": live,
                           "missed_rounds": cfg.watch.lost_after}),
                ));
            }
            if watched_long_enough {
                obs.scopes.push(Scope::of("service_absent", svc));
                if live == 0 && lost.is_empty() && expected.contains(&svc.as_str()) {
                    obs.findings.push(Finding::new(
                        "service_absent",
                        Some(svc),
                        "",
                        Severity::Critical,
                        format!("{svc}: no instance is running"),
                        json!({"live_instances": 0}),
                    ));
                }
            }
            // Readiness is not judged while instances may still be reconnecting.
            if settled {
                obs.scopes.push(Scope::of("not_ready", svc));
                obs.scopes.push(Scope::of("flapping", svc));
                for i in of.iter().filter(|i| i.view.state == "live") {
                    if i.failing_probes >= cfg.watch.lost_after {
                        obs.findings.push(Finding::new(
                            "not_ready",
                            Some(svc),
                            &i.view.id,
                            Severity::Warning,
                            format!("{svc} instance {} is not ready", i.view.id),
                            json!({"instance": i.view.id, "http_address": i.view.http_address,
                                   "failing_probes": i.failing_probes}),
                        ));
                    } else if i.view.ready_transitions >= cfg.thresholds.flap_transitions {
                        obs.findings.push(Finding::new(
                            "flapping",
                            Some(svc),
                            &i.view.id,
                            Severity::Warning,
                            format!("{svc} instance {} flaps between ready and not", i.view.id),
                            json!({"instance": i.view.id,
                                   "transitions_in_last_20_probes": i.view.ready_transitions}),
                        ));
                    }
                }
            }
        }
    }
}

/// Publishes `subject` with a reply inbox and gathers every reply for `wait`.
pub async fn ask(
    bus: &platform::nats::Bus,
    subject: &str,
    wait: Duration,
) -> anyhow::Result<Vec<bytes::Bytes>> {
    let client = &bus.client;
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subject.to_owned(), inbox, bytes::Bytes::new())
        .await?;
    tokio::time::timeout(wait.min(Duration::from_secs(2)), client.flush())
        .await
        .map_err(|_| anyhow::anyhow!("NATS did not take the request"))??;
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, sub.next()).await {
        out.push(m.payload);
    }
    let _ = sub.unsubscribe().await;
    Ok(out)
}

/// An instance's endpoints and who may call them (`$SRV.INFO.<service>.<id>`).
async fn info(
    bus: &platform::nats::Bus,
    service: &str,
    id: &str,
) -> Option<HashMap<String, String>> {
    #[derive(Deserialize)]
    struct Ep {
        name: String,
        subject: String,
    }
    #[derive(Deserialize)]
    struct Info {
        #[serde(default)]
        endpoints: Vec<Ep>,
    }
    let m = tokio::time::timeout(
        Duration::from_millis(500),
        bus.client
            .request(format!("$SRV.INFO.{service}.{id}"), bytes::Bytes::new()),
    )
    .await
    .ok()?
    .ok()?;
    let i: Info = serde_json::from_slice(&m.payload).ok()?;
    Some(
        i.endpoints
            .into_iter()
            .map(|e| (e.name, e.subject))
            .collect(),
    )
}
