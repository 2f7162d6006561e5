//! Routing to upstream services. The route table (config `routes`) maps path
//! prefixes to upstreams with an access level. Client-sent identity headers
//! are stripped; an authenticated principal travels as a short-lived
//! internal token the upstream verifies. Upstream failures answer 502/504 in
//! the JSON error shape; response bodies stream through unbuffered (so
//! server-sent events pass as they are produced).

use crate::accounts::{bearer_principal, client_address};
use crate::config::{Access, Route};
use crate::state::GatewayState;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use common::subjects::headers::INTERNAL_TOKEN;
use common::{ErrorCode, Principal};
use futures_util::StreamExt;
use opentelemetry::propagation::Injector;
use platform::AppError;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Headers that describe one hop, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Identity headers a client might try to smuggle; services must only ever
/// see the gateway's own.
const IDENTITY: &[&str] = &[
    "x-internal-token",
    "x-user-id",
    "x-user-roles",
    "x-user-email",
    "x-principal",
    "x-roles",
    "x-admin",
    "x-forwarded-user",
    "x-remote-user",
    "remote-user",
    "authorization",
    "cookie",
];

fn strip_request_header(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
        || IDENTITY.contains(&name)
        || name.starts_with("x-internal-")
        || name.starts_with("x-jyotiflow-")
        || name == "traceparent"
        || name == "tracestate"
        || name == "x-request-id"
        || name == "x-forwarded-for"
}

/// The longest route whose prefix matches `path` at a segment boundary.
pub fn match_route<'a>(routes: &'a [Route], path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| {
            path == r.prefix || path.starts_with(&format!("{}/", r.prefix.trim_end_matches('/')))
        })
        .max_by_key(|r| r.prefix.len())
}

struct ReqwestInjector<'a>(&'a mut reqwest::header::HeaderMap);
impl Injector for ReqwestInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(key.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

fn authorize(
    req: &HttpRequest,
    state: &GatewayState,
    access: Access,
) -> Result<Option<Principal>, AppError> {
    match access {
        // Public routes ignore a bad token rather than fail: they need none.
        Access::Public => Ok(bearer_principal(req, state).ok().flatten()),
        Access::User => bearer_principal(req, state)?
            .map(Some)
            .ok_or_else(|| AppError::unauthorized("authentication required")),
        Access::Admin => {
            let p = bearer_principal(req, state)?
                .ok_or_else(|| AppError::unauthorized("authentication required"))?;
            if p.is_admin() {
                Ok(Some(p))
            } else {
                Err(AppError::forbidden())
            }
        }
    }
}

/// Reads a request body of at most `limit` bytes (413 beyond).
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, AppError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::new(
                common::ErrorCode::BadRequest,
                "the request body could not be read",
            )
            .with_cause(anyhow::anyhow!("{e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::new(
                common::ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GatewayState>,
) -> Result<HttpResponse, AppError> {
    // Route, authorise and forward on one normalised path.
    let path = crate::path::normalize(req.path())?;
    let route =
        match_route(&state.cfg.routes, &path).ok_or_else(|| AppError::not_found("route"))?;
    let principal = authorize(&req, &state, route.access)?;
    let client_addr = client_address(&req, &state.proxies);
    state
        .limits
        .check(&client_addr, principal.as_ref().map(|p| p.user_id))?;
    let limit = route.max_body_bytes.unwrap_or(state.body_limit);
    if let Some(n) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if n > limit {
            return Err(AppError::new(
                common::ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            ));
        }
    }
    let body = read_body(payload, limit).await?;
    let base = state.cfg.upstreams.get(&route.upstream).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "route names unknown upstream {}",
            route.upstream
        ))
    })?;
    let url = crate::path::upstream_url(base, &path, req.query_string())?;
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in req.headers() {
        let n = name.as_str();
        if strip_request_header(n) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(n.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(k, v);
        }
    }
    if let Some(p) = &principal {
        let token = state.internal_auth.sign(&route.upstream, Some(p))?;
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&token) {
            headers.insert(INTERNAL_TOKEN, v);
        }
    }
    if let Some(rid) = platform::http::current_request_id() {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&rid) {
            headers.insert("x-request-id", v);
        }
    }
    // Continue the caller's trace: the current span carries its context.
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut ReqwestInjector(&mut headers))
    });
    if !headers.contains_key("traceparent") {
        // No exporter configured: pass the caller's trace context on as it came.
        for h in ["traceparent", "tracestate"] {
            if let Some(v) = req
                .headers()
                .get(h)
                .and_then(|v| reqwest::header::HeaderValue::from_bytes(v.as_bytes()).ok())
            {
                headers.insert(h, v);
            }
        }
    }
    if let Ok(v) = reqwest::header::HeaderValue::from_str(&client_addr) {
        headers.insert("x-forwarded-for", v);
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| AppError::new(ErrorCode::MethodNotAllowed, "unsupported method"))?;
    let upstream = route.upstream.clone();
    let resp = state
        .http
        .request(method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| upstream_error(&upstream, e))?;
    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16()).map_err(|_| {
        AppError::new(
            ErrorCode::BadGateway,
            "upstream answered with an invalid status",
        )
    })?;
    let mut out = HttpResponse::build(status);
    for (name, value) in resp.headers() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n == "x-request-id" {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append_header((k, v));
        }
    }
    if resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
    {
        out.insert_header(("x-accel-buffering", "no"));
    }
    let stream = resp.bytes_stream().map(move |chunk| {
        chunk.map_err(|e| {
            tracing::warn!(error = %e, "upstream body ended early");
            std::io::Error::other("upstream body ended early")
        })
    });
    Ok(out.streaming(stream))
}

fn upstream_error(upstream: &str, e: reqwest::Error) -> AppError {
    if e.is_timeout() {
        AppError::new(
            ErrorCode::GatewayTimeout,
            format!("the {upstream} service did not answer in time"),
        )
        .with_cause(e)
    } else {
        AppError::new(
            ErrorCode::BadGateway,
            format!("the {upstream} service is unreachable"),
        )
        .with_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_routes;

    #[test]
    fn longest_prefix_wins_at_segment_boundaries() {
        let routes = default_routes();
        assert_eq!(
            match_route(&routes, "/api/v1/pricing/services")
                .unwrap()
                .access,
            Access::Public
        );
        assert_eq!(
            match_route(&routes, "/api/v1/pricing/quotes")
                .unwrap()
                .access,
            Access::User
        );
        assert_eq!(
            match_route(&routes, "/api/v1/payments/stripe/webhook")
                .unwrap()
                .access,
            Access::Public
        );
        assert_eq!(
            match_route(&routes, "/api/v1/admin/charts/cache/stats")
                .unwrap()
                .access,
            Access::Admin
        );
        assert_eq!(
            match_route(&routes, "/api/v1/charts").unwrap().upstream,
            "charts"
        );
        assert!(match_route(&routes, "/api/v1/chartsxyz").is_none());
        assert!(match_route(&routes, "/api/v1/unknown").is_none());
    }

    #[test]
    fn identity_headers_are_stripped() {
        for h in [
            "x-internal-token",
            "x-user-id",
            "authorization",
            "x-jyotiflow-role",
            "connection",
        ] {
            assert!(strip_request_header(h), "{h}");
        }
        assert!(!strip_request_header("content-type"));
        assert!(!strip_request_header("stripe-signature"));
    }
}
