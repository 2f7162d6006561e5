//! HTTP scaffolding on actix-web: request ids, the JSON error shape for
//! every error (including actix's own 404/405/413/415 and extractor errors),
//! a JSON body extractor that names the failing field, health, readiness,
//! metrics and OpenAPI endpoints, and the server builder.

use crate::error::AppError;
use crate::health::Health;
use crate::metrics::{HttpLabels, Metrics};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use common::{ErrorBody, ErrorCode};
use futures_util::future::LocalBoxFuture;
use opentelemetry::propagation::Extractor;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Instant;
use subtle::ConstantTimeEq;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if called within one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts a client's request id if it is short and printable, else makes a UUIDv7.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

struct HeaderExtractor<'a>(&'a header::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        400 => ErrorCode::BadRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 | 504 => ErrorCode::Timeout,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::ValidationFailed,
        429 => ErrorCode::TooManyRequests,
        502 => ErrorCode::BadGateway,
        503 => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::Internal,
    }
}

fn default_message(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotFound => "no such resource",
        ErrorCode::MethodNotAllowed => "method not allowed on this resource",
        ErrorCode::PayloadTooLarge => "request body is too large",
        ErrorCode::UnsupportedMediaType => "unsupported content type",
        ErrorCode::Unauthorized => "authentication required",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::TooManyRequests => "too many requests",
        _ => "request failed",
    }
}

fn is_json(res: &HttpResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/event-stream"))
}

/// Rewrites any non-JSON error response into the platform's error body.
async fn normalise_error(
    res: ServiceResponse<BoxBody>,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if status.as_u16() < 400 || is_json(res.response()) {
        return res;
    }
    let (req, resp) = res.into_parts();
    let code = code_for_status(status);
    let mut message = default_message(&code).to_owned();
    let headers = resp.headers().clone();
    if status.is_client_error() {
        if let Ok(bytes) = actix_web::body::to_bytes_limited(resp.into_body(), 4096).await {
            if let Ok(Ok(b)) = bytes.map(|b| String::from_utf8(b.to_vec())) {
                let trimmed = b.trim();
                if !trimmed.is_empty() {
                    message = trimmed.chars().take(300).collect();
                }
            }
        }
    }
    let mut body = ErrorBody::new(code, message);
    body.error.request_id = Some(request_id.to_owned());
    let mut builder = HttpResponse::build(status);
    for (k, v) in headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            builder.append_header((k.clone(), v.clone()));
        }
    }
    ServiceResponse::new(req, builder.json(body))
}

/// The middleware every service wraps its app in: request id (reused or
/// made, echoed in `X-Request-Id`), a root span joined to the caller's W3C
/// trace, HTTP metrics, and the JSON error shape for every error.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = request_id_from(&req);
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        http.method = %method,
        http.route = tracing::field::Empty,
        http.status = tracing::field::Empty,
        request_id = %request_id,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    let _ = span.set_parent(parent);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(request_id.clone(), next.call(req).instrument(span.clone()))
        .await;
    // Handlers' and extractors' errors arrive here as responses; an `Err`
    // only comes from a middleware and is rendered by actix itself.
    let res = result?.map_into_boxed_body();
    let mut res = normalise_error(res, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    span.record("http.route", route.as_str());
    span.record("http.status", status);
    if let Some(m) = metrics {
        let labels = HttpLabels {
            method,
            route,
            status,
        };
        m.http_requests.get_or_create(&labels).inc();
        m.http_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// A JSON request body. Wrong content type: 415; too large: 413; malformed
/// JSON or a field of the wrong type: 400 `malformed_json` naming the field.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ct_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json"
                    || (ct.starts_with("application/") && ct.ends_with("+json"))
            })
            .unwrap_or(false);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !ct_ok {
                return Err(AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    "request body must be application/json",
                ));
            }
            let body = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::new(ErrorCode::PayloadTooLarge, "request body is too large")
                } else {
                    AppError::new(
                        ErrorCode::BadRequest,
                        format!("could not read the request body: {e}"),
                    )
                }
            })?;
            parse_json(&body).map(Json)
        })
    }
}

/// Parses JSON, reporting the failing field path.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        // A value of the right type that breaks a rule (platform::input): 422.
        if let Some(rest) = text
            .split_once(crate::input::VALIDATION_MARK)
            .map(|(_, r)| r)
        {
            let message = rest.split(" at line ").next().unwrap_or(rest).to_owned();
            let field = if path != "." && !path.is_empty() {
                path
            } else {
                "body".to_owned()
            };
            return AppError::validation(&field, message);
        }
        let mut err = AppError::new(
            ErrorCode::MalformedJson,
            format!("malformed JSON body: {inner}"),
        );
        if path != "." && !path.is_empty() {
            err = err.with_field(&path);
        } else if inner.is_data() {
            // "missing field `x`" has no path; name the field from the message.
            if let Some(f) = inner.to_string().split('`').nth(1) {
                err = err.with_field(f);
            }
        }
        err
    })
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(health: web::Data<Health>) -> HttpResponse {
    let s = health.snapshot();
    let body = serde_json::json!({
        "ready": s.ready(),
        "database": s.database,
        "nats": s.nats,
        "draining": s.draining,
    });
    if s.ready() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Who may read `/metrics`: everyone on its listener, or only the bearer of
/// `http.metrics_token`.
#[derive(Clone, Default)]
pub struct MetricsAccess(pub Option<SecretString>);

async fn metrics(
    req: HttpRequest,
    m: web::Data<Metrics>,
    pool: web::Data<deadpool_postgres::Pool>,
    access: web::Data<MetricsAccess>,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = &access.0 {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let expected = token.expose_secret().as_bytes();
        if given.len() != expected.len() || !bool::from(given.as_bytes().ct_eq(expected)) {
            return Err(AppError::unauthorized("metrics need the operator token"));
        }
    }
    m.observe_pool(&pool);
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(m.encode()))
}

/// The service's OpenAPI document, as JSON text.
#[derive(Clone)]
pub struct OpenApiDoc(pub std::sync::Arc<String>);

async fn openapi(doc: web::Data<OpenApiDoc>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.as_str().to_owned())
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::new(ErrorCode::NotFound, "no such resource"))
}

/// Registers `/healthz`, `/readyz`, `/openapi.json`, and `/metrics` unless
/// it has a listener of its own.
pub fn platform_routes(cfg: &mut web::ServiceConfig, metrics_here: bool) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/openapi.json", web::get().to(openapi));
    if metrics_here {
        cfg.route("/metrics", web::get().to(metrics));
    }
}

/// Defence in depth for `/internal/*`: only another service's signed call
/// gets through (the endpoint then checks its own allow-list), so neither a
/// gateway bug nor a client that reaches the port directly can use them.
async fn guard_internal(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.path().starts_with("/internal/") {
        let verdict = req
            .app_data::<web::Data<crate::auth::InternalAuth>>()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("InternalAuth is not registered")))
            .and_then(|auth| {
                let token = req
                    .headers()
                    .get(common::subjects::headers::INTERNAL_TOKEN)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| AppError::unauthorized("service credentials are required"))?;
                let caller = auth.verify(token)?;
                if caller.service == crate::auth::GATEWAY {
                    return Err(AppError::new(
                        ErrorCode::Forbidden,
                        "internal endpoints take service credentials only",
                    ));
                }
                Ok(())
            });
        if let Err(e) = verdict {
            let (req, _) = req.into_parts();
            let resp = actix_web::ResponseError::error_response(&e);
            return Ok(ServiceResponse::new(req, resp));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Everything the HTTP server needs from the runtime.
#[derive(Clone)]
pub struct HttpDeps {
    pub metrics: web::Data<Metrics>,
    pub health: web::Data<Health>,
    pub pool: web::Data<deadpool_postgres::Pool>,
    pub internal_auth: web::Data<crate::auth::InternalAuth>,
    pub openapi: web::Data<OpenApiDoc>,
    pub metrics_access: web::Data<MetricsAccess>,
    pub body_limit: usize,
}

/// A service's HTTP servers: the main listener and, when configured, the
/// metrics listener.
pub struct HttpServers {
    pub port: u16,
    pub metrics_port: Option<u16>,
    pub(crate) main: actix_web::dev::Server,
    pub(crate) metrics: Option<actix_web::dev::Server>,
}

/// Binds and starts the HTTP server (not yet awaited). `configure` adds the
/// service's routes and app data. Signals are handled by [`crate::shutdown`],
/// not by actix.
pub fn serve<F>(
    listener: std::net::TcpListener,
    metrics_listener: Option<std::net::TcpListener>,
    deps: HttpDeps,
    workers: usize,
    shutdown_timeout_secs: u64,
    configure: F,
) -> std::io::Result<HttpServers>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let port = listener.local_addr()?.port();
    let metrics_here = metrics_listener.is_none();
    let main_deps = deps.clone();
    let server = actix_web::HttpServer::new(move || {
        let deps = main_deps.clone();
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(guard_internal))
            .wrap(actix_web::middleware::from_fn(observe))
            .app_data(deps.metrics)
            .app_data(deps.health)
            .app_data(deps.pool)
            .app_data(deps.internal_auth)
            .app_data(deps.openapi)
            .app_data(deps.metrics_access)
            .app_data(web::PayloadConfig::new(deps.body_limit))
            .app_data(web::JsonConfig::default().limit(deps.body_limit))
            .configure(|c| platform_routes(c, metrics_here))
            .configure(configure.clone())
            .default_service(web::to(not_found))
    })
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_secs);
    let server = if workers > 0 {
        server.workers(workers)
    } else {
        server
    };
    let main = server.listen(listener)?.run();
    let (metrics, metrics_port) = match metrics_listener {
        None => (None, None),
        Some(l) => {
            let mport = l.local_addr()?.port();
            let s = actix_web::HttpServer::new(move || {
                let deps = deps.clone();
                actix_web::App::new()
                    .wrap(actix_web::middleware::from_fn(observe))
                    .app_data(deps.metrics)
                    .app_data(deps.pool)
                    .app_data(deps.metrics_access)
                    .route("/metrics", web::get().to(metrics))
                    .default_service(web::to(not_found))
            })
            .disable_signals()
            .workers(1)
            .shutdown_timeout(shutdown_timeout_secs)
            .listen(l)?
            .run();
            (Some(s), Some(mport))
        }
    };
    Ok(HttpServers {
        port,
        metrics_port,
        main,
        metrics,
    })
}

/// Binds `host:port` (port 0 picks a free one) and returns the listener and real port.
pub fn bind(host: &str, port: u16) -> std::io::Result<(std::net::TcpListener, u16)> {
    let listener = std::net::TcpListener::bind((host, port))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: u32,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"email": "a@b.c", "age": "x"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
        assert_eq!(e.field.as_deref(), Some("age"));
        let e = parse_json::<Body>(br#"{"age": 3}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("email"));
        let e = parse_json::<Body>(b"not json").unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
        assert!(e.field.is_none());
    }
}
