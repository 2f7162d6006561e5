//! Webhook notifications of opened and resolved incidents, as
//! Slack-compatible JSON (`text`, and an attachment with the details). A
//! bounded queue feeds one sender task: monitoring never waits on a
//! webhook; a slow or failing one costs retries (with backoff) on that task
//! only, and a full queue drops (and counts) the newest notifications.

use crate::metrics::MonitorMetrics;
use crate::store::Incident;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Notifier {
    tx: Option<mpsc::Sender<Value>>,
    metrics: MonitorMetrics,
}

/// The Slack-compatible message for an incident that was `what` (opened / resolved).
pub fn message(i: &Incident, what: &str) -> Value {
    let color = match (what, i.severity) {
        ("resolved", _) => "good",
        (_, crate::findings::Severity::Critical) => "danger",
        _ => "warning",
    };
    json!({
        "text": format!("[{}] incident {what}: {}", i.severity.as_str(), i.title),
        "attachments": [{
            "color": color,
            "fields": [
                {"title": "kind", "value": i.kind, "short": true},
                {"title": "service", "value": i.service.clone().unwrap_or_else(|| "-".into()), "short": true},
                {"title": "incident", "value": i.id.to_string(), "short": false},
                {"title": "first seen", "value": i.first_seen.to_rfc3339(), "short": true},
            ],
        }],
        "incident": {"id": i.id, "fingerprint": i.fingerprint, "state": i.state, "event": what},
    })
}

/// The task that posts queued notifications to every webhook.
pub struct Sender {
    rx: mpsc::Receiver<Value>,
    http: reqwest::Client,
    webhooks: Vec<String>,
    attempts: u32,
    metrics: MonitorMetrics,
}

impl Sender {
    pub async fn run(mut self, token: CancellationToken) {
        loop {
            let msg = tokio::select! {
                m = self.rx.recv() => m,
                _ = token.cancelled() => None,
            };
            let Some(msg) = msg else { break };
            for url in &self.webhooks {
                if !deliver(&self.http, url, &msg, self.attempts, &token).await {
                    self.metrics.notifications_failed.inc();
                }
            }
        }
    }
}

impl Notifier {
    /// The notifier, and its sender task when webhooks are configured.
    pub fn new(
        webhooks: Vec<String>,
        timeout: Duration,
        attempts: u32,
        queue: usize,
        metrics: MonitorMetrics,
    ) -> anyhow::Result<(Notifier, Option<Sender>)> {
        if webhooks.is_empty() {
            return Ok((Notifier { tx: None, metrics }, None));
        }
        let http = platform::http_client::builder().timeout(timeout).build()?;
        let (tx, rx) = mpsc::channel::<Value>(queue);
        let sender = Sender {
            rx,
            http,
            webhooks,
            attempts,
            metrics: metrics.clone(),
        };
        Ok((
            Notifier {
                tx: Some(tx),
                metrics,
            },
            Some(sender),
        ))
    }

    pub fn send(&self, msg: Value) {
        if let Some(tx) = &self.tx {
            if tx.try_send(msg).is_err() {
                self.metrics.notifications_dropped.inc();
                tracing::warn!("webhook queue full: a notification was dropped");
            }
        }
    }
}

async fn deliver(
    http: &reqwest::Client,
    url: &str,
    msg: &Value,
    attempts: u32,
    token: &CancellationToken,
) -> bool {
    let mut backoff = Duration::from_millis(250);
    for attempt in 1..=attempts {
        match http.post(url).json(msg).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                tracing::warn!(status = %r.status(), "a webhook refused a notification");
                return false;
            }
            Ok(r) => tracing::debug!(status = %r.status(), attempt, "webhook failed; retrying"),
            Err(e) => tracing::debug!(error = %e, attempt, "webhook unreachable; retrying"),
        }
        if attempt < attempts {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = token.cancelled() => return false,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
    tracing::warn!(attempts, "a webhook notification failed every attempt");
    false
}
