//! NATS: one client per process, typed request/reply, queue-group endpoints
//! registered through the NATS service API (`$SRV.PING|INFO|STATS`, so the
//! monitor discovers every instance), JetStream streams and durable
//! consumers, and trace context / request id / identity in headers.

use crate::auth::InternalAuth;
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
    /// The caller's internal token (names the principal).
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

/// Sends a typed request and decodes a typed reply or the common error body.
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

/// An incoming request as a handler sees it.
pub struct RpcRequest {
    pub subject: String,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The principal named by a valid internal token, if the caller sent one.
    pub principal: Option<Principal>,
    pub headers: Option<HeaderMap>,
}

#[derive(Clone, Debug, Serialize, Default)]
struct EndpointStats {
    name: String,
    subject: String,
    queue_group: String,
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
    endpoints: Mutex<Vec<EndpointStats>>,
}

/// Queue-group endpoints for one service instance, discoverable through the
/// NATS service API. Stop with [`RpcServer::drain`]: subscriptions are
/// drained (not dropped), and in-flight handlers finish.
pub struct RpcServer {
    client: async_nats::Client,
    state: Arc<ServiceState>,
    auth: InternalAuth,
    metrics: Metrics,
    token: CancellationToken,
    tasks: JoinSet<()>,
    max_in_flight: Arc<tokio::sync::Semaphore>,
}

impl RpcServer {
    pub async fn start(
        client: async_nats::Client,
        service: &str,
        version: &str,
        auth: InternalAuth,
        metrics: Metrics,
    ) -> anyhow::Result<RpcServer> {
        let state = Arc::new(ServiceState {
            name: service.to_owned(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            version: version.to_owned(),
            description: format!("JyotiFlow {service} service"),
            started: Utc::now(),
            endpoints: Mutex::new(Vec::new()),
        });
        let mut server = RpcServer {
            client,
            state,
            auth,
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
                let mut sub = self.client.subscribe(subject).await?;
                let client = self.client.clone();
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

    /// Serves `subject` in the queue group named after the service.
    pub async fn endpoint<Req, Resp, F, Fut>(
        &mut self,
        subject: &str,
        handler: F,
    ) -> anyhow::Result<()>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(RpcRequest, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, AppError>> + Send + 'static,
    {
        let queue = self.state.name.clone();
        let mut sub = self
            .client
            .queue_subscribe(subject.to_owned(), queue.clone())
            .await?;
        let index = {
            let mut eps = self
                .state
                .endpoints
                .lock()
                .map_err(|_| anyhow::anyhow!("stats lock poisoned"))?;
            eps.push(EndpointStats {
                name: subject.to_owned(),
                subject: subject.to_owned(),
                queue_group: queue,
                ..Default::default()
            });
            eps.len() - 1
        };
        let handler = Arc::new(handler);
        let client = self.client.clone();
        let state = self.state.clone();
        let auth = self.auth.clone();
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
                let client = client.clone();
                let state = state.clone();
                let auth = auth.clone();
                let metrics = metrics.clone();
                let subject = subject.clone();
                in_flight.spawn(async move {
                    let _permit = permit;
                    handle_one(
                        msg, &subject, index, &*handler, &client, &state, &auth, &metrics,
                    )
                    .await;
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
        let _ = tokio::time::timeout(timeout, self.client.flush()).await;
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
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle_one<Req, Resp, F, Fut>(
    msg: Message,
    subject: &str,
    index: usize,
    handler: &F,
    client: &async_nats::Client,
    state: &ServiceState,
    auth: &InternalAuth,
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
        subject = %subject,
        request_id = request_id.as_deref().unwrap_or(""),
    );
    if let Some(hm) = msg.headers.as_ref() {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtract(hm)));
        let _ = span.set_parent(parent);
    }
    let result: Result<Resp, AppError> = async {
        let principal = auth.from_nats_headers(msg.headers.as_ref())?;
        let req: Req = crate::http::parse_json(&msg.payload)?;
        let rpc = RpcRequest {
            subject: msg.subject.to_string(),
            request_id: request_id.clone(),
            idempotency_key: header(h::IDEMPOTENCY_KEY),
            principal,
            headers: msg.headers.clone(),
        };
        handler(rpc, req).await
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed();
    let outcome = if result.is_ok() { "ok" } else { "error" };
    let labels = NatsLabels {
        subject: subject.to_owned(),
        outcome: outcome.to_owned(),
    };
    metrics.nats_handled.get_or_create(&labels).inc();
    metrics
        .nats_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    if let Ok(mut eps) = state.endpoints.lock() {
        if let Some(ep) = eps.get_mut(index) {
            ep.num_requests += 1;
            ep.processing_time += u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            if let Err(e) = &result {
                ep.num_errors += 1;
                ep.last_error = format!("{}:{}", e.code.http_status(), e.code);
            }
            ep.average_processing_time = ep.processing_time / ep.num_requests.max(1);
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
    if let Err(e) = client
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
            "name": state.name, "id": state.id, "version": state.version, "metadata": {},
        }),
        "INFO" => serde_json::json!({
            "type": "io.nats.micro.v1.info_response",
            "name": state.name, "id": state.id, "version": state.version, "metadata": {},
            "description": state.description,
            "endpoints": endpoints.iter().map(|e| serde_json::json!({
                "name": e.name, "subject": e.subject, "queue_group": e.queue_group, "metadata": null,
            })).collect::<Vec<_>>(),
        }),
        _ => serde_json::json!({
            "type": "io.nats.micro.v1.stats_response",
            "name": state.name, "id": state.id, "version": state.version, "metadata": {},
            "started": state.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "endpoints": endpoints,
        }),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Creates (or finds) the service's event stream `EVT_<SERVICE>` on `evt.<service>.>`.
pub async fn ensure_stream(
    js: &jetstream::Context,
    service: &str,
) -> anyhow::Result<jetstream::stream::Stream> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: common::subjects::stream_name(service),
            subjects: vec![common::subjects::stream_subjects(service)],
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    Ok(stream)
}

/// A delivered event, decoded.
pub struct Delivery<T> {
    pub envelope: common::EventEnvelope<T>,
    pub subject: String,
}

/// Runs a durable pull consumer on `stream` until `token` is cancelled.
/// The handler's `Ok` acks; `Err` naks with a delay so the event comes back.
/// Set-up is retried with backoff while NATS or the stream is not there yet.
/// Handlers must be idempotent (use [`crate::outbox::mark_processed`]).
pub async fn run_consumer<T, F, Fut>(
    js: jetstream::Context,
    stream: String,
    durable: String,
    filter_subject: String,
    token: CancellationToken,
    handler: F,
) where
    T: DeserializeOwned,
    F: Fn(Delivery<T>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = Duration::from_millis(200);
    'setup: loop {
        if token.is_cancelled() {
            return;
        }
        let setup = async {
            let s = js.get_stream(&stream).await?;
            let consumer: jetstream::consumer::PullConsumer = s
                .get_or_create_consumer(
                    &durable,
                    jetstream::consumer::pull::Config {
                        durable_name: Some(durable.clone()),
                        filter_subject: filter_subject.clone(),
                        ack_policy: jetstream::consumer::AckPolicy::Explicit,
                        ack_wait: Duration::from_secs(30),
                        ..Default::default()
                    },
                )
                .await?;
            let messages = consumer.messages().await?;
            anyhow::Ok(messages)
        };
        let mut messages = match setup.await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, stream = %stream, durable = %durable, "consumer set-up failed; retrying");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue 'setup;
            }
        };
        backoff = Duration::from_millis(200);
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = token.cancelled() => return,
            };
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "consumer stream error");
                    continue;
                }
                None => continue 'setup,
            };
            let subject = msg.subject.to_string();
            let decoded: Result<common::EventEnvelope<T>, _> = serde_json::from_slice(&msg.payload);
            let outcome = match decoded {
                Ok(envelope) => handler(Delivery { envelope, subject }).await,
                Err(e) => {
                    // A message we cannot read will never become readable: ack it and say so.
                    tracing::error!(error = %e, subject = %subject, "undecodable event skipped");
                    Ok(())
                }
            };
            let ack = match outcome {
                Ok(()) => msg.ack().await,
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "event handling failed; will be redelivered"
                    );
                    msg.ack_with(jetstream::AckKind::Nak(Some(Duration::from_secs(1))))
                        .await
                }
            };
            if let Err(e) = ack {
                tracing::debug!(error = %e, "ack failed; the event will be redelivered");
            }
        }
    }
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
