//! NATS subject names. Request/reply: `<service>.<noun>.<verb>`, served by a
//! queue group named after the service. Events: `evt.<service>.<entity>.<event>`,
//! one JetStream stream per service capturing `evt.<service>.>`.

/// The JetStream stream that holds a service's events.
pub fn stream_name(service: &str) -> String {
    format!("EVT_{}", service.to_ascii_uppercase())
}

/// The subject filter of a service's event stream.
pub fn stream_subjects(service: &str) -> String {
    format!("evt.{service}.>")
}

/// NATS header names the platform sets.
pub mod headers {
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    pub const REQUEST_ID: &str = "X-Request-Id";
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    /// A short-lived internal token naming the principal (see `platform::auth`).
    pub const INTERNAL_TOKEN: &str = "X-Internal-Token";
    pub const MSG_ID: &str = "Nats-Msg-Id";
    pub const SERVICE_ERROR: &str = "Nats-Service-Error";
    pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
    /// The service that produced an event, and its Ed25519 signature over
    /// producer, subject, event id and payload digest (`kid:base64`).
    pub const EVENT_PRODUCER: &str = "Jf-Producer";
    pub const EVENT_SIGNATURE: &str = "Jf-Signature";
}

pub mod gateway {
    pub const SERVICE: &str = "gateway";
    pub const EVT_USER_REGISTERED: &str = "gateway.user.registered";
}

pub mod charts {
    pub const SERVICE: &str = "charts";
    pub const CHART_GET: &str = "charts.chart.get";
    pub const PROFILE_GET: &str = "charts.profile.get";
    /// The day's panchang at a place (public data; no user needed).
    pub const PANCHANG_GET: &str = "charts.panchang.get";
    pub const EVT_CHART_COMPUTED: &str = "charts.chart.computed";
}

pub mod pricing {
    pub const SERVICE: &str = "pricing";
    pub const QUOTE_CREATE: &str = "pricing.quote.create";
    pub const CREDITS_HOLD: &str = "pricing.credits.hold";
    pub const CREDITS_CAPTURE: &str = "pricing.credits.capture";
    pub const CREDITS_RELEASE: &str = "pricing.credits.release";
    pub const CREDITS_BALANCE: &str = "pricing.credits.balance";
    pub const EVT_CREDITS_GRANTED: &str = "pricing.credits.granted";
    pub const EVT_CREDITS_SPENT: &str = "pricing.credits.spent";
    pub const EVT_CREDITS_LOW: &str = "pricing.credits.low";
    pub const EVT_PRICE_CHANGED: &str = "pricing.price.changed";
}

pub mod guidance {
    pub const SERVICE: &str = "guidance";
    pub const TEXT_GENERATE: &str = "guidance.text.generate";
    pub const KNOWLEDGE_SEARCH: &str = "guidance.knowledge.search";
    /// One of the acting user's delivered answers (media speaks it).
    pub const MESSAGE_GET: &str = "guidance.message.get";
    pub const EVT_USAGE_RECORDED: &str = "guidance.usage.recorded";
}

pub mod media {
    pub const SERVICE: &str = "media";
    /// Avatar jobs waiting for a worker: the one subject of the work-queue
    /// stream [`AVATAR_JOBS_STREAM`] (each message is one job id).
    pub const AVATAR_JOBS: &str = "media.avatar.jobs";
    /// The work-queue stream of avatar jobs (before the deployment prefix).
    pub const AVATAR_JOBS_STREAM: &str = "MEDIA_AVATAR_JOBS";
    /// The durable consumer every media instance's workers share.
    pub const AVATAR_WORKERS: &str = "media_avatar_workers";
    /// Core NATS hints, `media.avatar.progress.<job id>`: a job has new
    /// events (SSE followers read them from the database).
    pub const AVATAR_PROGRESS_PREFIX: &str = "media.avatar.progress";
    /// Core NATS broadcast to every media instance: cancel a running job.
    pub const AVATAR_CANCEL: &str = "media.avatar.cancel";
    /// A live session ended and was settled (minutes, credits, reason).
    pub const EVT_LIVE_SESSION_ENDED: &str = "media.live.session.ended";
    pub const EVT_AVATAR_SUCCEEDED: &str = "media.avatar.succeeded";
    pub const EVT_AVATAR_FAILED: &str = "media.avatar.failed";
    pub const EVT_AVATAR_CANCELLED: &str = "media.avatar.cancelled";
}

pub mod monitor {
    pub const SERVICE: &str = "monitor";
    /// An incident was opened (one per fingerprint while it is not resolved).
    pub const EVT_INCIDENT_OPENED: &str = "monitor.incident.opened";
    /// An incident was resolved (its condition cleared, or an admin resolved it).
    pub const EVT_INCIDENT_RESOLVED: &str = "monitor.incident.resolved";
}

pub mod social {
    pub const SERVICE: &str = "social";
    /// A post went out (its network, provider id and URL).
    pub const EVT_POST_PUBLISHED: &str = "social.post.published";
    /// A post failed for good (the provider's message).
    pub const EVT_POST_FAILED: &str = "social.post.failed";
    /// A network refused a channel's token: the channel must be reconnected.
    pub const EVT_CREDENTIALS_EXPIRED: &str = "social.channel.credentials_expired";
    /// A channel whose credentials had expired was given a new token.
    pub const EVT_CHANNEL_RECONNECTED: &str = "social.channel.reconnected";
}

#[cfg(test)]
mod tests {
    #[test]
    fn stream_naming() {
        assert_eq!(super::stream_name("gateway"), "EVT_GATEWAY");
        assert_eq!(super::stream_subjects("pricing"), "evt.pricing.>");
    }
}
