//! The versioned event envelope published to JetStream:
//! `{id, type, version, occurred_at, source, data}`.

use crate::ids::EventId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope<T> {
    pub id: EventId,
    /// Dotted type, e.g. `gateway.user.registered`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    /// The service that emitted it.
    pub source: String,
    pub data: T,
}

impl<T> EventEnvelope<T> {
    pub fn new(source: &str, event_type: &str, version: u32, data: T) -> Self {
        Self {
            id: EventId::new(),
            event_type: event_type.to_owned(),
            version,
            occurred_at: Utc::now(),
            source: source.to_owned(),
            data,
        }
    }

    /// The JetStream subject: `evt.<type>` (`evt.gateway.user.registered`).
    pub fn subject(&self) -> String {
        format!("evt.{}", self.event_type)
    }
}

/// Payload of `evt.gateway.user.registered` (version 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: crate::UserId,
    pub email: String,
    pub display_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_wire_shape() {
        let e = EventEnvelope::new(
            "gateway",
            "gateway.user.registered",
            1,
            serde_json::json!({"a": 1}),
        );
        let v = serde_json::to_value(&e).unwrap();
        for k in ["id", "type", "version", "occurred_at", "source", "data"] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["type"], "gateway.user.registered");
        assert_eq!(e.subject(), "evt.gateway.user.registered");
    }
}

/// Payload of `evt.guidance.usage.recorded` (version 1): one answer or one
/// generated text, for pricing's demand factor and cost reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecorded {
    /// The catalog service it counts against (`text_guidance`, ...).
    pub service_code: String,
    pub units: i64,
    /// Credits charged for it (0 when nothing was charged).
    pub credits: i64,
    /// The user charged, if any; otherwise the calling service.
    pub user_id: Option<crate::UserId>,
    pub caller: Option<String>,
    /// The hold captured for it, so a consumer counts it once however it learns of it.
    pub hold_id: Option<crate::HoldId>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub provider: String,
}
