//! Messaging: each service's outbox (`<service>.outbox.stats`: rows
//! pending, the oldest one's age) and its durable consumers
//! (`<service>.consumers.ensure` with `dry_run`: pending, ack-pending,
//! redelivered, and whether each still exists), plus the dead-letter
//! stream's count per consumer.

use crate::config::MonitorConfig;
use crate::findings::{Finding, Observed, Remedy, Scope, Severity};
use futures_util::StreamExt;
use platform::monitoring::{ConsumerState, ConsumersRequest};
use platform::nats::{Bus, CallContext};
use platform::outbox::OutboxStats;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct MsgObservation {
    pub snapshot: Value,
    pub observed: Observed,
    /// (service, pending, oldest age in seconds).
    pub outboxes: Vec<(String, i64, f64)>,
    /// (consumer, pending, ack pending, redelivered, dead-lettered).
    pub consumers: Vec<(String, u64, u64, u64, u64)>,
}

/// Dead-lettered events per consumer (the `dlq.<durable>` subjects).
async fn dead_letters(bus: &Bus) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let stream = match bus
        .js
        .get_stream(bus.name(platform::nats::DLQ_STREAM))
        .await
    {
        Ok(s) => s,
        // No dead letter yet: the stream is created with the first one.
        Err(e) if e.to_string().to_ascii_lowercase().contains("not found") => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    let mut subjects = stream.info_with_subjects(bus.subject("dlq.>")).await?;
    while let Some(item) = subjects.next().await {
        let (subject, n) = item?;
        let durable = bus
            .unprefixed(&subject)
            .strip_prefix("dlq.")
            .unwrap_or(&subject)
            .to_owned();
        out.insert(durable, n as u64);
    }
    Ok(out)
}

pub async fn observe(bus: &Bus, cfg: &MonitorConfig, services: &[String]) -> MsgObservation {
    let mut obs = Observed::default();
    let mut outboxes = Vec::new();
    let mut consumers_out = Vec::new();
    let mut per_service = BTreeMap::new();
    let ctx = CallContext::default();
    let dlq = match dead_letters(bus).await {
        Ok(d) => {
            obs.scopes.push(Scope::all("dead_letters"));
            Some(d)
        }
        Err(e) => {
            tracing::debug!(error = %e, "dead-letter counts unavailable");
            None
        }
    };
    let answers = futures_util::future::join_all(services.iter().map(|svc| {
        let ctx = ctx.clone();
        async move {
            let outbox: Result<OutboxStats, _> = bus
                .request(&format!("{svc}.outbox.stats"), None, &ctx, &json!({}))
                .await;
            let consumers: Result<Vec<ConsumerState>, _> = bus
                .request(
                    &format!("{svc}.consumers.ensure"),
                    None,
                    &ctx,
                    &ConsumersRequest { dry_run: true },
                )
                .await;
            (svc, outbox, consumers)
        }
    }))
    .await;
    for (svc, outbox, consumers) in answers {
        let mut entry = serde_json::Map::new();
        match outbox {
            Ok(o) => {
                obs.scopes.push(Scope::of("outbox_stuck", svc));
                let age = o.oldest_pending_age_secs.unwrap_or(0.0);
                outboxes.push((svc.clone(), o.pending, age));
                if o.pending > 0 && age > cfg.thresholds.outbox_stuck_secs as f64 {
                    obs.findings.push(
                        Finding::new(
                            "outbox_stuck",
                            Some(svc),
                            "",
                            Severity::Warning,
                            format!(
                                "{svc}: {} event(s) not relayed, the oldest {age:.0} s old",
                                o.pending
                            ),
                            json!(o),
                        )
                        .with_remedy(Remedy::RelayOutbox {
                            service: svc.clone(),
                        }),
                    );
                }
                entry.insert("outbox".into(), json!(o));
            }
            Err(e) => {
                entry.insert("outbox_error".into(), json!(e.message));
            }
        }
        match consumers {
            Ok(list) => {
                obs.scopes.push(Scope::of("consumer_missing", svc));
                obs.scopes.push(Scope::of("consumer_backlog", svc));
                let mut shown = Vec::new();
                for c in list {
                    let dead = dlq
                        .as_ref()
                        .and_then(|d| d.get(&c.durable))
                        .copied()
                        .unwrap_or(0);
                    consumers_out.push((
                        c.durable.clone(),
                        c.pending,
                        c.ack_pending,
                        c.redelivered,
                        dead,
                    ));
                    // A consumer whose stream does not exist yet (its producer
                    // has published nothing) is waiting, not missing.
                    let stream_there = c.existed || bus.js.get_stream(&c.stream).await.is_ok();
                    if !c.existed && stream_there {
                        obs.findings.push(
                            Finding::new(
                                "consumer_missing",
                                Some(svc),
                                &c.durable,
                                Severity::Critical,
                                format!(
                                    "{svc}: the durable consumer {} is missing from {}",
                                    c.durable, c.stream
                                ),
                                json!(c),
                            )
                            .with_remedy(Remedy::RecreateConsumer {
                                service: svc.clone(),
                                durable: c.durable.clone(),
                            }),
                        );
                    } else if c.pending > cfg.thresholds.consumer_pending {
                        obs.findings.push(Finding::new(
                            "consumer_backlog",
                            Some(svc),
                            &c.durable,
                            Severity::Warning,
                            format!("{svc}: {} has {} events pending", c.durable, c.pending),
                            json!(c),
                        ));
                    }
                    if dead > 0 {
                        obs.findings.push(Finding::new(
                            "dead_letters",
                            Some(svc),
                            &c.durable,
                            Severity::Warning,
                            format!("{svc}: {dead} event(s) of {} were dead-lettered", c.durable),
                            json!({"consumer": c.durable, "dead_lettered": dead}),
                        ));
                    }
                    let mut v = json!(c);
                    if let Some(m) = v.as_object_mut() {
                        m.insert("dead_lettered".into(), json!(dead));
                    }
                    shown.push(v);
                }
                entry.insert("consumers".into(), Value::Array(shown));
            }
            Err(e) => {
                entry.insert("consumers_error".into(), json!(e.message));
            }
        }
        per_service.insert(svc.clone(), Value::Object(entry));
    }
    MsgObservation {
        snapshot: json!({"services": per_service, "dead_letters": dlq}),
        observed: obs,
        outboxes,
        consumers: consumers_out,
    }
}
