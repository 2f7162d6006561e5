//! What a check finds: a condition (one per fingerprint) with its evidence,
//! and, when a policy may fix it, the repair the owning service would make.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A repair only the owning service carries out.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Remedy {
    /// `<service>.schema.repair`: re-create a missing index, constraint or trigger.
    SchemaRepair {
        service: String,
        kind: String,
        name: String,
    },
    /// `<service>.db.signal` cancel: a statement over the service's hard limit.
    CancelStatement {
        service: String,
        pid: i32,
        backend_start: DateTime<Utc>,
        min_age_ms: u64,
    },
    /// `<service>.db.signal` terminate: a session idle in a transaction too long.
    TerminateIdle {
        service: String,
        pid: i32,
        backend_start: DateTime<Utc>,
        min_age_ms: u64,
    },
    /// `<service>.consumers.ensure`: a deleted durable consumer.
    RecreateConsumer { service: String, durable: String },
    /// `<service>.outbox.relay`: a stuck outbox.
    RelayOutbox { service: String },
}

impl Remedy {
    pub fn policy(&self) -> &'static str {
        match self {
            Remedy::SchemaRepair { .. } => "schema_repair",
            Remedy::CancelStatement { .. } => "cancel_statement",
            Remedy::TerminateIdle { .. } => "terminate_idle",
            Remedy::RecreateConsumer { .. } => "recreate_consumer",
            Remedy::RelayOutbox { .. } => "relay_outbox",
        }
    }

    pub fn service(&self) -> &str {
        match self {
            Remedy::SchemaRepair { service, .. }
            | Remedy::CancelStatement { service, .. }
            | Remedy::TerminateIdle { service, .. }
            | Remedy::RecreateConsumer { service, .. }
            | Remedy::RelayOutbox { service } => service,
        }
    }

    /// The object acted on, as the audit names it.
    pub fn target(&self) -> String {
        match self {
            Remedy::SchemaRepair { kind, name, .. } => format!("{kind}:{name}"),
            Remedy::CancelStatement { pid, .. } | Remedy::TerminateIdle { pid, .. } => {
                format!("pid:{pid}")
            }
            Remedy::RecreateConsumer { durable, .. } => format!("consumer:{durable}"),
            Remedy::RelayOutbox { .. } => "outbox".into(),
        }
    }
}

/// One condition found now.
#[derive(Clone, Debug)]
pub struct Finding {
    /// At most one incident per fingerprint is open at a time.
    pub fingerprint: String,
    pub kind: &'static str,
    pub service: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub evidence: Value,
    pub remedy: Option<Remedy>,
}

impl Finding {
    pub fn new(
        kind: &'static str,
        service: Option<&str>,
        key: &str,
        severity: Severity,
        title: String,
        evidence: Value,
    ) -> Finding {
        let mut fingerprint = kind.to_owned();
        if let Some(s) = service {
            fingerprint.push(':');
            fingerprint.push_str(s);
        }
        if !key.is_empty() {
            fingerprint.push(':');
            fingerprint.push_str(key);
        }
        // Fingerprints are short keys: object names come from catalogs and
        // service names, never from users, but stay bounded anyway.
        fingerprint.truncate(400);
        Finding {
            fingerprint,
            kind,
            service: service.map(str::to_owned),
            severity,
            title,
            evidence,
            remedy: None,
        }
    }

    pub fn with_remedy(mut self, remedy: Remedy) -> Finding {
        self.remedy = Some(remedy);
        self
    }
}

/// What a check looked at: incidents of this kind (of this service, or of
/// any service when `None`) that it no longer finds are resolved. A check
/// that could not look (NATS or the database down, a service not
/// answering) covers nothing, so nothing it reported is resolved blindly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub kind: &'static str,
    pub service: Option<String>,
}

impl Scope {
    pub fn all(kind: &'static str) -> Scope {
        Scope {
            kind,
            service: None,
        }
    }

    pub fn of(kind: &'static str, service: &str) -> Scope {
        Scope {
            kind,
            service: Some(service.to_owned()),
        }
    }

    pub fn covers(&self, kind: &str, service: Option<&str>) -> bool {
        self.kind == kind
            && match &self.service {
                None => true,
                Some(s) => service == Some(s.as_str()),
            }
    }
}

/// The result of one check.
#[derive(Default, Debug)]
pub struct Observed {
    pub findings: Vec<Finding>,
    pub scopes: Vec<Scope>,
}

impl Observed {
    pub fn extend(&mut self, other: Observed) {
        self.findings.extend(other.findings);
        self.scopes.extend(other.scopes);
    }
}
