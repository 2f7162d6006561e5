//! NATS: one client per process, typed request/reply, queue-group endpoints
//! registered through the NATS service API (`$SRV.PING|INFO|STATS`, so the
//! monitor discovers every instance), JetStream streams and durable
//! consumers, and trace context / request id / identity in headers.

use crate::auth::{Caller, InternalAuth};
use crate::error::AppError;
use crate::metrics::{Metrics, NatsLabels};
use async_nats::jetstream;
use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::subjects::headers as h;
use common::{ErrorBody, ErrorCode, Principal};
use futures_util::StreamExt;
use opentelemetry::propagation::{Extractor, Injector};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Connects in the background: the call returns at once and the client
/// keeps retrying (with backoff) until the server answers, and reconnects
/// forever after a disconnect. Readiness reflects the connection state.
///
/// Credentials come from config ([`crate::config::NatsConfig::auth`]): user
/// and password, a token, or an NKey seed (the client signs the server's
/// nonce with it; the seed itself is never sent). A server that refuses them
/// leaves the client unconnected (so the service stays unready) and every
/// refused attempt is logged as an error naming the method and the user,
/// never the secret.
pub async fn connect(
    cfg: &crate::config::NatsConfig,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    use crate::config::NatsAuth;
    use secrecy::ExposeSecret;

    let auth = cfg.auth()?;
    let method = auth.method();
    let user = match auth {
        NatsAuth::UserPassword { user, .. } => Some(user.to_owned()),
        _ => None,
    };
    let client_name = name.to_owned();
    let options = match auth {
        NatsAuth::None => async_nats::ConnectOptions::new(),
        NatsAuth::UserPassword { user, password } => async_nats::ConnectOptions::new()
            .user_and_password(user.to_owned(), password.expose_secret().to_owned()),
        NatsAuth::Token(token) => {
            async_nats::ConnectOptions::new().token(token.expose_secret().to_owned())
        }
        NatsAuth::NKey(seed) => {
            async_nats::ConnectOptions::new().nkey(seed.expose_secret().to_owned())
        }
    };
    let client = options
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_millis(cfg.connect_timeout_ms))
        .request_timeout(Some(cfg.request_timeout()))
        .reconnect_delay_callback(|attempts| {
            // 100 ms doubling to 2 s, with jitter, so a fleet does not reconnect in lock step.
            let base = 100u64.saturating_mul(1 << attempts.min(5)).min(2000);
            let jitter = rand::random::<u64>() % (base / 4 + 1);
            Duration::from_millis(base + jitter)
        })
        .event_callback(move |event| {
            let user = user.clone();
            let client_name = client_name.clone();
            async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("nats connected"),
                    async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                    async_nats::Event::ClientError(async_nats::ClientError::Other(e))
                        if is_auth_failure(&e) =>
                    {
                        tracing::error!(
                            error = %e,
                            nats_client = client_name.as_str(),
                            auth_method = method,
                            nats_user = user.as_deref().unwrap_or(""),
                            "nats refused this service's credentials; check nats.user/nats.password, \
                             nats.token or nats.nkey_seed against the server's authorization"
                        )
                    }
                    async_nats::Event::ServerError(e) => {
                        tracing::warn!(error = %e, "nats server error")
                    }
                    other => tracing::debug!(event = %other, "nats event"),
                }
            }
        })
        .connect(cfg.url.as_str())
        .await?;
    Ok(client)
}

/// async-nats reports a refused CONNECT as "authorization violation" (wrong
/// or missing credentials) or "failed signing nonce" (unusable NKey seed).
fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("authorization violation")
        || m.contains("signing nonce")
        || m.contains("authentication")
}

struct HeaderInjector<'a>(&'a mut HeaderMap);
impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderExtract<'a>(&'a HeaderMap);
impl Extractor for HeaderExtract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

/// Context carried with a NATS request or event.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The internal token naming the calling service (and the user it acts
    /// for). [`Bus::request`] signs one; set it only to send a token of your own.
    pub internal_token: Option<String>,
}

impl CallContext {
    /// The current request's id, if any.
    pub fn current() -> Self {
        CallContext {
            request_id: crate::http::current_request_id(),
            ..Default::default()
        }
    }

    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn with_internal_token(mut self, token: impl Into<String>) -> Self {
        self.internal_token = Some(token.into());
        self
    }

    /// Headers: `traceparent` of the current span, request id, idempotency key, token.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let cx = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut HeaderInjector(&mut headers))
        });
        if let Some(r) = &self.request_id {
            headers.insert(h::REQUEST_ID, r.as_str());
        }
        if let Some(k) = &self.idempotency_key {
            headers.insert(h::IDEMPOTENCY_KEY, k.as_str());
        }
        if let Some(t) = &self.internal_token {
            headers.insert(h::INTERNAL_TOKEN, t.as_str());
        }
        headers
    }
}

/// The service a request subject belongs to (`pricing.credits.hold` → `pricing`).
pub fn audience_of(subject: &str) -> &str {
    subject.split('.').next().unwrap_or(subject)
}

/// Checks `nats.prefix`: empty, or lowercase letters, digits, `-` and `_`.
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The process's NATS connection, with this deployment's namespace and this
/// service's identity. Every subject, stream and durable consumer name goes
/// through it, so two deployments sharing one NATS server (`nats.prefix`
/// differs) never see each other's requests or events.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub auth: InternalAuth,
    prefix: Arc<str>,
    request_timeout: Duration,
}

impl Bus {
    pub fn new(
        client: async_nats::Client,
        auth: InternalAuth,
        prefix: &str,
        request_timeout: Duration,
    ) -> Bus {
        Bus {
            js: jetstream::new(client.clone()),
            client,
            auth,
            prefix: Arc::from(prefix),
            request_timeout,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A subject in this deployment's namespace.
    pub fn subject(&self, subject: &str) -> String {
        if self.prefix.is_empty() {
            subject.to_owned()
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// A subject without this deployment's prefix (for metrics and handlers).
    pub fn unprefixed<'a>(&self, subject: &'a str) -> &'a str {
        if self.prefix.is_empty() {
            return subject;
        }
        subject
            .strip_prefix(&*self.prefix)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or(subject)
    }

    /// A stream or durable name in this deployment's namespace.
    pub fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!(
                "{}_{name}",
                self.prefix.to_ascii_uppercase().replace('-', "_")
            )
        }
    }

    /// The event stream of `service`.
    pub fn stream_name(&self, service: &str) -> String {
        self.name(&common::subjects::stream_name(service))
    }

    /// Sends a typed request to `subject`, signed by this service for the
    /// subject's service and acting for `principal` if given.
    pub async fn request<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        subject: &str,
        principal: Option<&Principal>,
        ctx: &CallContext,
        req: &Req,
    ) -> Result<Resp, AppError> {
        self.request_within(subject, principal, ctx, req, self.request_timeout)
            .await
    }

    /// [`Bus::request`] with its own timeout.
    pub async fn request_within<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        subject: &str,
        principal: Option<&Principal>,
        ctx: &CallContext,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, AppError> {
        let mut ctx = ctx.clone();
        if ctx.internal_token.is_none() {
            ctx.internal_token = Some(self.auth.sign(audience_of(subject), principal)?);
        }
        request(&self.client, &self.subject(subject), &ctx, req, timeout).await
    }

    /// Publishes to every instance of the subject's service (core NATS, not
    /// queued), signed so receivers can check the sender ([`Bus::verify_broadcast`]).
    pub async fn broadcast(&self, subject: &str, payload: Bytes) -> Result<(), AppError> {
        let mut headers = CallContext::current().headers();
        let token = self.auth.sign(audience_of(subject), None)?;
        headers.insert(h::INTERNAL_TOKEN, token.as_str());
        self.client
            .publish_with_headers(self.subject(subject), headers, payload)
            .await
            .map_err(|e| {
                AppError::new(ErrorCode::MessagingUnavailable, "messaging is unavailable")
                    .with_cause(e)
            })
    }

    /// Subscribes to `subject` (in this deployment's namespace) and waits,
    /// at most 2 s, until the server has the subscription: a subscription
    /// made while the client is still connecting is otherwise not in place
    /// when the first messages are published.
    pub async fn subscribe(&self, subject: &str) -> Result<async_nats::Subscriber, AppError> {
        let sub = self
            .client
            .subscribe(self.subject(subject))
            .await
            .map_err(|e| {
                AppError::new(ErrorCode::MessagingUnavailable, "messaging is unavailable")
                    .with_cause(e)
            })?;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
        Ok(sub)
    }

    /// The sender of a broadcast, if it is one of `allowed`.
    pub fn verify_broadcast(&self, msg: &Message, allowed: &[&str]) -> Result<String, AppError> {
        let caller = self
            .auth
            .from_nats_headers(msg.headers.as_ref())?
            .ok_or_else(|| AppError::unauthorized("unsigned broadcast"))?;
        caller.allow(allowed)?;
        Ok(caller.service)
    }
}

/// Sends a typed request with the context's headers as they are (no token
/// is added: see [`Bus::request`]) and decodes a typed reply or the common
/// error body.
pub async fn request<Req: Serialize, Resp: DeserializeOwned>(
    client: &async_nats::Client,
    subject: &str,
    ctx: &CallContext,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, AppError> {
    let payload = serde_json::to_vec(req).map_err(AppError::internal)?;
    let request = async_nats::Request::new()
        .headers(ctx.headers())
        .payload(payload.into())
        .timeout(Some(timeout));
    let msg = client
        .send_request(subject.to_owned(), request)
        .await
        .map_err(|e| {
            use async_nats::RequestErrorKind as K;
            match e.kind() {
                K::TimedOut => AppError::new(
                    ErrorCode::Timeout,
                    format!("{subject} did not answer in time"),
                ),
                K::NoResponders => AppError::new(
                    ErrorCode::ServiceUnavailable,
                    format!("no instance is serving {subject}"),
                ),
                _ => AppError::new(ErrorCode::MessagingUnavailable, "messaging is unavailable")
                    .with_cause(e),
            }
        })?;
    decode_reply(subject, &msg)
}

fn decode_reply<Resp: DeserializeOwned>(subject: &str, msg: &Message) -> Result<Resp, AppError> {
    let is_error = msg
        .headers
        .as_ref()
        .is_some_and(|hm| hm.get(h::SERVICE_ERROR_CODE).is_some());
    if is_error {
        let body: ErrorBody = serde_json::from_slice(&msg.payload).map_err(|e| {
            AppError::new(
                ErrorCode::BadGateway,
                format!("{subject} answered with an unreadable error"),
            )
            .with_cause(e)
        })?;
        return Err(body.error.into());
    }
    serde_json::from_slice(&msg.payload).map_err(|e| {
        AppError::new(
            ErrorCode::BadGateway,
            format!("{subject} answered with an unreadable reply"),
        )
        .with_cause(e)
    })
}

/// An incoming request as a handler sees it. Every request is signed: the
/// caller is a verified service on the endpoint's allow-list.
pub struct RpcRequest {
    /// The subject without the deployment prefix.
    pub subject: String,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub caller: Caller,
    pub headers: Option<HeaderMap>,
}

impl RpcRequest {
    /// The person the call acts for (401 when it names nobody).
    pub fn principal(&self) -> Result<&Principal, AppError> {
        self.caller.principal()
    }

    /// The user the call acts for; see [`Caller::acting_user`].
    pub fn acting_user(&self, named: Option<common::UserId>) -> Result<common::UserId, AppError> {
        self.caller.acting_user(named)
    }

    /// A context for calls made while handling this one (same request id
    /// and idempotency key).
    pub fn context(&self) -> CallContext {
        CallContext {
            request_id: self.request_id.clone(),
            idempotency_key: self.idempotency_key.clone(),
            internal_token: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Default)]
struct EndpointStats {
    name: String,
    subject: String,
    queue_group: String,
    #[serde(skip)]
    callers: Vec<String>,
    num_requests: u64,
    num_errors: u64,
    last_error: String,
    /// Nanoseconds, as the service API specifies.
    processing_time: u64,
    average_processing_time: u64,
}

struct ServiceState {
    name: String,
    id: String,
    version: String,
    description: String,
    started: DateTime<Utc>,
    metadata: serde_json::Map<String, serde_json::Value>,
    endpoints: Mutex<Vec<EndpointStats>>,
}

/// Queue-group endpoints for one service instance, discoverable through the
/// NATS service API. Stop with [`RpcServer::drain`]: subscriptions are
/// drained (not dropped), and in-flight handlers finish.
pub struct RpcServer {
    bus: Bus,
    state: Arc<ServiceState>,
    metrics: Metrics,
    token: CancellationToken,
    tasks: JoinSet<()>,
    max_in_flight: Arc<tokio::sync::Semaphore>,
}

impl RpcServer {
    /// `metadata` is published in the service API's replies (the monitor
    /// reads the HTTP address and pool settings from it).
    pub async fn start(
        bus: Bus,
        service: &str,
        version: &str,
        metrics: Metrics,
        mut metadata: serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<RpcServer> {
        metadata.insert("nats_prefix".into(), bus.prefix().into());
        let state = Arc::new(ServiceState {
            name: service.to_owned(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            version: version.to_owned(),
            description: format!("JyotiFlow {service} service"),
            started: Utc::now(),
            metadata,
            endpoints: Mutex::new(Vec::new()),
        });
        let mut server = RpcServer {
            bus,
            state,
            metrics,
            token: CancellationToken::new(),
            tasks: JoinSet::new(),
            max_in_flight: Arc::new(tokio::sync::Semaphore::new(512)),
        };
        server.start_discovery().await?;
        Ok(server)
    }

    /// This instance's id in the service API.
    pub fn instance_id(&self) -> &str {
        &self.state.id
    }

    async fn start_discovery(&mut self) -> anyhow::Result<()> {
        let name = self.state.name.clone();
        let id = self.state.id.clone();
        for verb in ["PING", "INFO", "STATS"] {
            for subject in [
                format!("$SRV.{verb}"),
                format!("$SRV.{verb}.{name}"),
                format!("$SRV.{verb}.{name}.{id}"),
            ] {
                let mut sub = self.bus.client.subscribe(subject).await?;
                let client = self.bus.client.clone();
                let state = self.state.clone();
                let token = self.token.clone();
                self.tasks.spawn(async move {
                    loop {
                        let msg = tokio::select! {
                            m = sub.next() => m,
                            _ = token.cancelled() => break,
                        };
                        let Some(msg) = msg else { break };
                        let Some(reply) = msg.reply else { continue };
                        let body = discovery_reply(&state, verb);
                        if let Err(e) = client.publish(reply, body.into()).await {
                            tracing::debug!(error = %e, "service API reply failed");
                        }
                    }
                    let _ = sub.unsubscribe().await;
                });
            }
        }
        Ok(())
    }

    /// Serves `subject` (without the deployment prefix) in the queue group
    /// named after the service, for the services in `callers` only.
    pub async fn endpoint<Req, Resp, F, Fut>(
        &mut self,
        subject: &str,
        callers: &'static [&'static str],
        handler: F,
    ) -> anyhow::Result<()>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(RpcRequest, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, AppError>> + Send + 'static,
    {
        let queue = self.bus.name(&self.state.name);
        let mut sub = self
            .bus
            .client
            .queue_subscribe(self.bus.subject(subject), queue.clone())
            .await?;
        let index = {
            let mut eps = self
                .state
                .endpoints
                .lock()
                .map_err(|_| anyhow::anyhow!("stats lock poisoned"))?;
            eps.push(EndpointStats {
                name: subject.to_owned(),
                subject: self.bus.subject(subject),
                queue_group: queue,
                callers: callers.iter().map(|c| (*c).to_owned()).collect(),
                ..Default::default()
            });
            eps.len() - 1
        };
        let handler = Arc::new(handler);
        let bus = self.bus.clone();
        let state = self.state.clone();
        let metrics = self.metrics.clone();
        let token = self.token.clone();
        let limit = self.max_in_flight.clone();
        let subject = subject.to_owned();
        self.tasks.spawn(async move {
            let mut in_flight = JoinSet::new();
            let mut draining = false;
            loop {
                let msg = if draining {
                    sub.next().await
                } else {
                    tokio::select! {
                        m = sub.next() => m,
                        _ = token.cancelled() => {
                            draining = true;
                            if let Err(e) = sub.drain().await {
                                tracing::warn!(error = %e, subject = %subject, "drain failed");
                                break;
                            }
                            continue;
                        }
                    }
                };
                let Some(msg) = msg else { break };
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let handler = handler.clone();
                let bus = bus.clone();
                let state = state.clone();
                let metrics = metrics.clone();
                let subject = subject.clone();
                in_flight.spawn(async move {
                    let _permit = permit;
                    let ep = Endpoint {
                        subject: &subject,
                        index,
                        callers,
                    };
                    handle_one(msg, &ep, &*handler, &bus, &state, &metrics).await;
                });
                // Reap finished handlers so the set stays small.
                while in_flight.try_join_next().is_some() {}
            }
            while in_flight.join_next().await.is_some() {}
        });
        Ok(())
    }

    /// Waits (at most `timeout`) until the server has every subscription
    /// made so far, so a request sent right after start-up finds a
    /// responder. Call once after registering the endpoints; bounded, so a
    /// NATS outage at start delays start-up by `timeout` at most (the client
    /// re-subscribes by itself when NATS returns).
    pub async fn sync(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.bus.client.flush()).await;
    }

    /// Drains every subscription, lets in-flight handlers finish (up to
    /// `deadline`), then flushes replies.
    pub async fn drain(mut self, deadline: Duration) {
        self.token.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!("NATS handlers did not finish before the shutdown deadline");
            self.tasks.abort_all();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.bus.client.flush()).await;
    }
}

struct Endpoint<'a> {
    subject: &'a str,
    index: usize,
    callers: &'static [&'static str],
}

async fn handle_one<Req, Resp, F, Fut>(
    msg: Message,
    ep: &Endpoint<'_>,
    handler: &F,
    bus: &Bus,
    state: &ServiceState,
    metrics: &Metrics,
) where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: Fn(RpcRequest, Req) -> Fut,
    Fut: Future<Output = Result<Resp, AppError>>,
{
    let started = Instant::now();
    let header = |name: &str| {
        msg.headers
            .as_ref()
            .and_then(|hm| hm.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let request_id = header(h::REQUEST_ID);
    let span = tracing::info_span!(
        "nats.request",
        otel.kind = "server",
        subject = %ep.subject,
        caller = tracing::field::Empty,
        request_id = request_id.as_deref().unwrap_or(""),
    );
    if let Some(hm) = msg.headers.as_ref() {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtract(hm)));
        let _ = span.set_parent(parent);
    }
    let result: Result<Resp, AppError> = async {
        let caller = bus
            .auth
            .from_nats_headers(msg.headers.as_ref())?
            .ok_or_else(|| AppError::unauthorized("service credentials are required"))?;
        tracing::Span::current().record("caller", caller.service.as_str());
        caller.allow(ep.callers)?;
        let req: Req = crate::http::parse_json(&msg.payload)?;
        let rpc = RpcRequest {
            subject: ep.subject.to_owned(),
            request_id: request_id.clone(),
            idempotency_key: header(h::IDEMPOTENCY_KEY),
            caller,
            headers: msg.headers.clone(),
        };
        handler(rpc, req).await
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed();
    let outcome = if result.is_ok() { "ok" } else { "error" };
    let labels = NatsLabels {
        subject: ep.subject.to_owned(),
        outcome: outcome.to_owned(),
    };
    metrics.nats_handled.get_or_create(&labels).inc();
    metrics
        .nats_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    if let Ok(mut eps) = state.endpoints.lock() {
        if let Some(s) = eps.get_mut(ep.index) {
            s.num_requests += 1;
            s.processing_time += u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            if let Err(e) = &result {
                s.num_errors += 1;
                s.last_error = format!("{}:{}", e.code.http_status(), e.code);
            }
            s.average_processing_time = s.processing_time / s.num_requests.max(1);
        }
    }
    let Some(reply) = msg.reply else { return };
    let (headers, body) = match result {
        Ok(resp) => match serde_json::to_vec(&resp) {
            Ok(b) => (HeaderMap::new(), b),
            Err(e) => error_reply(&AppError::internal(e), request_id),
        },
        Err(e) => {
            if e.code.is_server_error() {
                let _g = span.enter();
                tracing::error!(code = %e.code, error = ?e, "request failed");
            }
            error_reply(&e, request_id)
        }
    };
    if let Err(e) = bus
        .client
        .publish_with_headers(reply, headers, body.into())
        .await
    {
        tracing::warn!(error = %e, "reply could not be sent");
    }
}

fn error_reply(e: &AppError, request_id: Option<String>) -> (HeaderMap, Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert(h::SERVICE_ERROR, e.code.as_str());
    headers.insert(
        h::SERVICE_ERROR_CODE,
        e.code.http_status().to_string().as_str(),
    );
    let body = serde_json::to_vec(&e.body(request_id)).unwrap_or_default();
    (headers, body)
}

fn discovery_reply(state: &ServiceState, verb: &str) -> Vec<u8> {
    let endpoints = state
        .endpoints
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let v = match verb {
        "PING" => serde_json::json!({
            "type": "io.nats.micro.v1.ping_response",
            "name": state.name, "id": state.id, "version": state.version, "metadata": state.metadata,
        }),
        "INFO" => serde_json::json!({
            "type": "io.nats.micro.v1.info_response",
            "name": state.name, "id": state.id, "version": state.version, "metadata": state.metadata,
            "description": state.description,
            "endpoints": endpoints.iter().map(|e| serde_json::json!({
                "name": e.name, "subject": e.subject, "queue_group": e.queue_group,
                "metadata": {"callers": e.callers.join(",")},
            })).collect::<Vec<_>>(),
        }),
        _ => serde_json::json!({
            "type": "io.nats.micro.v1.stats_response",
            "name": state.name, "id": state.id, "version": state.version, "metadata": state.metadata,
            "started": state.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "endpoints": endpoints,
        }),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Creates (or finds) the service's event stream `EVT_<SERVICE>` on `evt.<service>.>`.
pub async fn ensure_stream(bus: &Bus, service: &str) -> anyhow::Result<jetstream::stream::Stream> {
    let stream = bus
        .js
        .get_or_create_stream(jetstream::stream::Config {
            name: bus.stream_name(service),
            subjects: vec![bus.subject(&common::subjects::stream_subjects(service))],
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    Ok(stream)
}

/// The dead-letter stream (`DLQ` on `dlq.>`), holding events that
/// exhausted their deliveries, with the error and where they came from in
/// headers. Kept 30 days.
pub async fn ensure_dead_letter_stream(bus: &Bus) -> anyhow::Result<jetstream::stream::Stream> {
    let stream = bus
        .js
        .get_or_create_stream(jetstream::stream::Config {
            name: bus.name(DLQ_STREAM),
            subjects: vec![bus.subject("dlq.>")],
            max_age: Duration::from_secs(30 * 24 * 3600),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    Ok(stream)
}

/// Name of the dead-letter stream (before the deployment prefix).
pub const DLQ_STREAM: &str = "DLQ";
/// Headers on a dead-lettered event.
pub mod dlq_headers {
    pub const ERROR: &str = "Jf-Dlq-Error";
    pub const CONSUMER: &str = "Jf-Dlq-Consumer";
    pub const STREAM: &str = "Jf-Dlq-Stream";
    pub const SUBJECT: &str = "Jf-Dlq-Subject";
    pub const SEQUENCE: &str = "Jf-Dlq-Sequence";
    pub const DELIVERIES: &str = "Jf-Dlq-Deliveries";
}

/// A delivered event, decoded.
pub struct Delivery<T> {
    pub envelope: common::EventEnvelope<T>,
    /// The subject without the deployment prefix.
    pub subject: String,
    /// The verified producing service.
    pub producer: String,
}

/// A durable consumer of one producer's events.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// The service whose stream this reads; only events it signed are applied.
    pub producer: &'static str,
    /// Durable name (before the deployment prefix).
    pub durable: &'static str,
    /// Event subject filter (before the deployment prefix).
    pub subject: &'static str,
    /// Deliveries before an event goes to the dead-letter stream.
    pub max_deliver: i64,
    /// Delay before the n-th redelivery (the last one repeats).
    pub backoff: Vec<Duration>,
    /// When the durable consumer disappears from the server while running,
    /// how long [`run_consumer`] waits for it to be re-created elsewhere
    /// (by `<service>.consumers.ensure` at the monitor's request) before
    /// creating it itself.
    pub recreate_after: Duration,
}

impl ConsumerSpec {
    /// Eight deliveries over about four minutes, then the dead-letter stream.
    pub fn new(
        producer: &'static str,
        durable: &'static str,
        subject: &'static str,
    ) -> ConsumerSpec {
        ConsumerSpec {
            producer,
            durable,
            subject,
            max_deliver: 8,
            backoff: [1, 2, 5, 10, 30, 60, 120]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            recreate_after: CONSUMER_RECREATE_AFTER,
        }
    }

    fn delay(&self, delivered: i64) -> Duration {
        let i = usize::try_from(delivered.max(1) - 1).unwrap_or(0);
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }
}

/// Why an event could not be applied.
enum Failure {
    /// Will never succeed (unsigned, forged, unreadable): dead-letter now.
    Permanent(String),
    /// May succeed later: redeliver with backoff until `max_deliver`.
    Transient(String),
}

/// How long a lost durable consumer is left for the monitor to re-create
/// (see [`ConsumerSpec::recreate_after`]).
pub const CONSUMER_RECREATE_AFTER: Duration = Duration::from_secs(30);

/// First delay before set-up is retried; it doubles up to a cap.
const SETUP_BACKOFF: Duration = Duration::from_millis(200);
/// Cap of the set-up backoff while a consumer that ran is missing, so it is
/// picked up again within about two seconds of being re-created.
const LOST_BACKOFF_CAP: Duration = Duration::from_secs(2);
/// Cap of the set-up backoff at start (NATS or the stream not there yet).
const START_BACKOFF_CAP: Duration = Duration::from_secs(5);
/// A message stream that ran this long before failing was healthy: the
/// next loss starts the backoff and the re-creation delay afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// The JetStream configuration of `spec`'s durable pull consumer: what
/// [`run_consumer`] creates, and what `<service>.consumers.ensure`
/// re-creates.
pub fn consumer_config(bus: &Bus, spec: &ConsumerSpec) -> jetstream::consumer::pull::Config {
    jetstream::consumer::pull::Config {
        durable_name: Some(bus.name(spec.durable)),
        filter_subject: bus.subject(spec.subject),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_deliver: spec.max_deliver,
        ..Default::default()
    }
}

/// Whether a message-stream error means the consumer is gone or the pull
/// loop cannot go on, so set-up must run again. async-nats 0.51 reports a
/// consumer deleted while a pull request waits as `ConsumerDeleted` (and
/// then ends the stream); a pull sent after the deletion is answered
/// `NoResponders`; and a stream that hears nothing, not even the idle
/// heartbeat, for twice the heartbeat interval reports `MissingHeartbeat`.
/// The other kinds (a pull request that could not be published, an
/// unexpected status) are transient: the stream keeps pulling.
fn consumer_lost(kind: &jetstream::consumer::pull::MessagesErrorKind) -> bool {
    use jetstream::consumer::pull::MessagesErrorKind as K;
    matches!(
        kind,
        K::ConsumerDeleted
            | K::NoResponders
            | K::MissingHeartbeat
            | K::PushBasedConsumer
            | K::RequestLimitExceeded
    )
}

/// Finds or creates the durable consumer. At start (`lost_at` is `None`)
/// it is created (or its configuration updated) at once. After it was lost
/// it is looked up: re-created by `<service>.consumers.ensure` (at the
/// monitor's request) it is used as it is; still missing
/// `spec.recreate_after` after the loss was noticed, it is created here.
async fn acquire_consumer(
    bus: &Bus,
    spec: &ConsumerSpec,
    stream: &str,
    lost_at: Option<Instant>,
) -> anyhow::Result<jetstream::consumer::PullConsumer> {
    let s = bus.js.get_stream(stream).await?;
    let config = consumer_config(bus, spec);
    let Some(lost_at) = lost_at else {
        return Ok(s.create_consumer(config).await?);
    };
    let durable = bus.name(spec.durable);
    match s
        .get_consumer::<jetstream::consumer::pull::Config>(&durable)
        .await
    {
        Ok(consumer) => Ok(consumer),
        Err(e) => {
            let missing = e
                .downcast_ref::<jetstream::context::ConsumerInfoError>()
                .is_some_and(|e| e.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound);
            if !missing {
                return Err(anyhow::anyhow!(e));
            }
            if lost_at.elapsed() < spec.recreate_after {
                anyhow::bail!(
                    "durable consumer {durable} is missing; waiting for it to be re-created"
                );
            }
            tracing::warn!(
                consumer = spec.durable,
                stream = %stream,
                waited_secs = lost_at.elapsed().as_secs(),
                "durable consumer still missing; creating it"
            );
            Ok(s.create_consumer(config).await?)
        }
    }
}

/// Runs a durable pull consumer until `token` is cancelled. The handler's
/// `Ok` acks; `Err` is redelivered after the spec's backoff, and after
/// `max_deliver` deliveries the event moves to the dead-letter stream (the
/// error in its headers, counted in `consumer_dead_letters`). Events not
/// signed by the spec's producer, or unreadable, go there at once. Set-up
/// is retried with backoff while NATS or the stream is not there yet.
/// Handlers must be idempotent (use [`crate::outbox::mark_processed`]).
///
/// When the durable consumer disappears from the server (deleted, or lost
/// with the server's state), the loop goes back to set-up: it looks the
/// consumer up every two seconds at most, and uses it as soon as it exists
/// again (the monitor re-creates it through `<service>.consumers.ensure`);
/// if it is still missing after `spec.recreate_after` (30 s), it creates it
/// itself. A re-created consumer delivers the stream from its start again:
/// idempotent handlers skip what they already applied.
pub async fn run_consumer<T, F, Fut>(
    bus: Bus,
    metrics: Metrics,
    spec: ConsumerSpec,
    token: CancellationToken,
    handler: F,
) where
    T: DeserializeOwned,
    F: Fn(Delivery<T>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let labels = crate::metrics::ConsumerLabels {
        consumer: spec.durable.to_owned(),
    };
    let stream = bus.stream_name(spec.producer);
    let durable = bus.name(spec.durable);
    let mut setup_backoff = SETUP_BACKOFF;
    // When the running consumer was found missing; None at start.
    let mut lost_at: Option<Instant> = None;
    loop {
        if token.is_cancelled() {
            return;
        }
        let setup = async {
            let consumer = acquire_consumer(&bus, &spec, &stream, lost_at).await?;
            let messages = consumer.messages().await?;
            anyhow::Ok(messages)
        };
        let mut messages = match setup.await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, stream = %stream, durable = %durable, "consumer set-up failed; retrying");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(setup_backoff) => {}
                }
                let cap = if lost_at.is_some() {
                    LOST_BACKOFF_CAP
                } else {
                    START_BACKOFF_CAP
                };
                setup_backoff = (setup_backoff * 2).min(cap);
                continue;
            }
        };
        if lost_at.is_some() {
            tracing::info!(consumer = spec.durable, stream = %stream, "durable consumer is back; consuming again");
        }
        let running_since = Instant::now();
        let lost = loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = token.cancelled() => return,
            };
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) if consumer_lost(&e.kind()) => break e.to_string(),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "consumer stream error");
                    continue;
                }
                None => break "the message stream ended".to_owned(),
            };
            // Delivering: the consumer is there.
            lost_at = None;
            setup_backoff = SETUP_BACKOFF;
            let subject = bus.unprefixed(&msg.subject).to_owned();
            let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
            let outcome =
                match bus
                    .auth
                    .verify_event(msg.headers.as_ref(), &msg.subject, &msg.payload)
                {
                    Err(e) => Err(Failure::Permanent(e.message)),
                    Ok(producer) if producer != spec.producer => Err(Failure::Permanent(format!(
                        "event signed by {producer}, expected {}",
                        spec.producer
                    ))),
                    Ok(producer) => {
                        match serde_json::from_slice::<common::EventEnvelope<T>>(&msg.payload) {
                            Err(e) => Err(Failure::Permanent(format!("unreadable event: {e}"))),
                            Ok(envelope) => handler(Delivery {
                                envelope,
                                subject: subject.clone(),
                                producer,
                            })
                            .await
                            .map_err(|e| Failure::Transient(format!("{e:#}"))),
                        }
                    }
                };
            let ack = match outcome {
                Ok(()) => {
                    metrics.consumer_handled.get_or_create(&labels).inc();
                    msg.ack().await
                }
                Err(Failure::Transient(e)) if delivered < spec.max_deliver => {
                    metrics.consumer_failures.get_or_create(&labels).inc();
                    tracing::warn!(error = %e, consumer = spec.durable, delivered, "event handling failed; will be redelivered");
                    msg.ack_with(jetstream::AckKind::Nak(Some(spec.delay(delivered))))
                        .await
                }
                Err(Failure::Transient(e) | Failure::Permanent(e)) => {
                    metrics.consumer_failures.get_or_create(&labels).inc();
                    tracing::error!(error = %e, consumer = spec.durable, subject = %subject, delivered, "event dead-lettered");
                    match dead_letter(&bus, &spec, &msg, &e, delivered).await {
                        Ok(()) => {
                            metrics.consumer_dead_letters.get_or_create(&labels).inc();
                            msg.ack_with(jetstream::AckKind::Term).await
                        }
                        Err(de) => {
                            tracing::warn!(error = %de, "dead-lettering failed; the event will be redelivered");
                            msg.ack_with(jetstream::AckKind::Nak(Some(spec.delay(delivered))))
                                .await
                        }
                    }
                }
            };
            if let Err(e) = ack {
                tracing::debug!(error = %e, "ack failed; the event will be redelivered");
            }
        };
        drop(messages);
        if running_since.elapsed() >= HEALTHY_RUN {
            // A fresh loss after a healthy run (a stream that keeps failing
            // at once keeps its first loss time, so the fallback still comes).
            lost_at = None;
            setup_backoff = SETUP_BACKOFF;
        }
        if lost_at.is_none() {
            tracing::warn!(
                consumer = spec.durable,
                stream = %stream,
                reason = %lost,
                recreate_after_secs = spec.recreate_after.as_secs(),
                "durable consumer lost; waiting for it to be re-created"
            );
            lost_at = Some(Instant::now());
        } else {
            tracing::debug!(consumer = spec.durable, reason = %lost, "consumer still unavailable");
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(setup_backoff) => {}
        }
        setup_backoff = (setup_backoff * 2).min(LOST_BACKOFF_CAP);
    }
}

async fn dead_letter(
    bus: &Bus,
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    error: &str,
    delivered: i64,
) -> anyhow::Result<()> {
    ensure_dead_letter_stream(bus).await?;
    let mut headers = msg.headers.clone().unwrap_or_default();
    let one_line: String = error
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    headers.insert(dlq_headers::ERROR, one_line.as_str());
    headers.insert(dlq_headers::CONSUMER, spec.durable);
    headers.insert(dlq_headers::SUBJECT, msg.subject.as_str());
    headers.insert(dlq_headers::DELIVERIES, delivered.to_string().as_str());
    if let Ok(info) = msg.info() {
        headers.insert(dlq_headers::STREAM, info.stream);
        headers.insert(
            dlq_headers::SEQUENCE,
            info.stream_sequence.to_string().as_str(),
        );
    }
    // A fresh message id: the original's would be de-duplicated away if the
    // same event is dead-lettered by two consumers.
    headers.insert(
        h::MSG_ID,
        format!("dlq-{}-{}", spec.durable, uuid::Uuid::now_v7()).as_str(),
    );
    publish_event(
        &bus.js,
        bus.subject(&format!("dlq.{}", spec.durable)),
        headers,
        msg.payload.clone(),
        Duration::from_secs(5),
    )
    .await
}

/// Headers for a published event: `Nats-Msg-Id` (JetStream de-duplication) plus context.
pub fn event_headers(event_id: &str, ctx: &CallContext) -> HeaderMap {
    let mut headers = ctx.headers();
    headers.insert(h::MSG_ID, event_id);
    headers
}

/// Publishes to JetStream and waits for the stream's acknowledgement.
pub async fn publish_event(
    js: &jetstream::Context,
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
    timeout: Duration,
) -> anyhow::Result<()> {
    let ack = tokio::time::timeout(timeout, async {
        js.publish_with_headers(subject, headers, payload)
            .await?
            .await
    })
    .await
    .map_err(|_| anyhow::anyhow!("JetStream did not acknowledge in time"))??;
    let _ = ack;
    Ok(())
}
