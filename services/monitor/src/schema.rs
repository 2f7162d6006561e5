//! Schema drift: every service compares its live schema with the
//! fingerprint its `migrate` recorded (`<service>.schema.check`). A missing
//! index, constraint or trigger may be re-created by that service (the
//! `schema_repair` policy); anything else is only reported, with the exact
//! difference.

use crate::findings::{Finding, Observed, Remedy, Scope, Severity};
use platform::migrate::SchemaCheck;
use platform::nats::{Bus, CallContext};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct SchemaObservation {
    pub snapshot: Value,
    pub observed: Observed,
    /// Differences per service.
    pub drift: Vec<(String, usize)>,
}

pub async fn observe(bus: &Bus, services: &[String]) -> SchemaObservation {
    let mut obs = Observed::default();
    let mut snapshot = BTreeMap::new();
    let mut drift = Vec::new();
    let ctx = CallContext::default();
    let answers = futures_util::future::join_all(services.iter().map(|svc| {
        let ctx = ctx.clone();
        async move {
            let r: Result<SchemaCheck, _> = bus
                .request(&format!("{svc}.schema.check"), None, &ctx, &json!({}))
                .await;
            (svc, r)
        }
    }))
    .await;
    for (svc, r) in answers {
        match r {
            Ok(check) => {
                obs.scopes.push(Scope::of("schema_drift", svc));
                drift.push((svc.clone(), check.differences.len()));
                for d in &check.differences {
                    let repairable = d.change == "missing"
                        && matches!(d.kind.as_str(), "index" | "constraint" | "trigger");
                    let key = format!("{}:{}:{}", d.change, d.kind, d.name);
                    let mut f = Finding::new(
                        "schema_drift",
                        Some(svc),
                        &key,
                        if repairable {
                            Severity::Warning
                        } else {
                            Severity::Critical
                        },
                        format!("{svc}: {} {} is {}", d.kind, d.name, d.change),
                        json!(d),
                    );
                    if repairable {
                        f = f.with_remedy(Remedy::SchemaRepair {
                            service: svc.clone(),
                            kind: d.kind.clone(),
                            name: d.name.clone(),
                        });
                    }
                    obs.findings.push(f);
                }
                snapshot.insert(svc.clone(), json!(check));
            }
            Err(e) => {
                snapshot.insert(svc.clone(), json!({"error": e.message}));
            }
        }
    }
    SchemaObservation {
        snapshot: json!(snapshot),
        observed: obs,
        drift,
    }
}
