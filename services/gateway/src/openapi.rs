//! The public API as one OpenAPI document: `GET /api/openapi.json`.
//!
//! Built from the gateway's own document and each upstream's
//! `/openapi.json`, keeping exactly the operations the route table sends to
//! that upstream (so `/internal/*` and anything unrouted never appear), with
//! the security and the answers the gateway itself adds: a bearer token on
//! user and admin routes (401, and 403 on admin routes), 400 `invalid_path`,
//! 429 from the rate limits, and 502/504 when the service is unreachable.
//! Each operation is tagged with its service. Schemas that two services
//! name alike but define differently are renamed `<Service><Name>`.
//! Cached for `CACHE_SECS`; an upstream that does not answer is left out of
//! that version (and logged), never fatal.

use crate::config::{Access, Route};
use crate::proxy::match_route;
use crate::state::GatewayState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CACHE_SECS: u64 = 30;
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// The cached merged document.
#[derive(Default)]
pub struct Merged(Mutex<Option<(Instant, String)>>);

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Rewrites `#/components/schemas/<from>` references to `<to>` in `v`.
fn rename_refs(v: &mut Value, from: &str, to: &str) {
    let old = format!("#/components/schemas/{from}");
    let new = format!("#/components/schemas/{to}");
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "$ref" && x.as_str() == Some(old.as_str()) {
                    *x = Value::String(new.clone());
                } else {
                    rename_refs(x, from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_refs(x, from, to)),
        _ => {}
    }
}

/// Adds the gateway's own answers and security to one operation.
fn decorate(op: &mut Map<String, Value>, service: &str, access: Option<Access>) {
    op.insert("tags".into(), json!([service]));
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else { return };
    let mut add = |code: &str, what: &str| {
        responses
            .entry(code.to_owned())
            .or_insert_with(|| error_response(what));
    };
    add("400", "bad_request, malformed_json or invalid_path");
    add("429", "too_many_requests (rate limit; see Retry-After)");
    match access {
        Some(Access::User) => add("401", "unauthorized, invalid_token or token_expired"),
        Some(Access::Admin) => {
            add("401", "unauthorized, invalid_token or token_expired");
            add("403", "forbidden: admins only");
        }
        _ => {}
    }
    if access.is_some() {
        // The service behind the gateway may be unreachable.
        add("502", "bad_gateway: the service is unreachable");
        add("504", "gateway_timeout: the service did not answer in time");
    }
    match access {
        Some(Access::User) | Some(Access::Admin) => {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        Some(Access::Public) => {
            op.insert("security".into(), json!([]));
        }
        None => {}
    }
}

/// Merges `doc` (one service's document) into `out`.
fn merge_service(
    out: &mut Value,
    mut doc: Value,
    service: &str,
    routes: &[Route],
    own: bool,
) -> usize {
    // Schemas first: a name already taken by a different definition is renamed.
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, schema) in schemas {
        let existing = out.pointer(&format!("/components/schemas/{name}")).cloned();
        let target = match existing {
            Some(e) if e != schema => {
                let renamed = format!("{}{name}", capitalized(service));
                rename_refs(&mut doc, &name, &renamed);
                renamed
            }
            _ => name.clone(),
        };
        let schema = doc
            .pointer(&format!("/components/schemas/{name}"))
            .cloned()
            .unwrap_or(schema);
        if let Some(m) = out
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            m.insert(target, schema);
        }
    }
    let mut kept = 0;
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in paths {
        let route = match_route(routes, &path);
        let access = match (own, route) {
            (true, _) => None,
            (false, Some(r)) if r.upstream == service => Some(r.access),
            _ => continue, // not routed to this service: not part of the public API
        };
        let Some(item) = item.as_object() else {
            continue;
        };
        let mut item = item.clone();
        for m in METHODS {
            if let Some(op) = item.get_mut(*m).and_then(Value::as_object_mut) {
                decorate(op, service, access);
                kept += 1;
            }
        }
        if let Some(p) = out.get_mut("paths").and_then(Value::as_object_mut) {
            p.insert(path, Value::Object(item));
        }
    }
    kept
}

/// Builds the merged document from the gateway's own and the upstreams'.
pub async fn build(state: &GatewayState, own: &str) -> Value {
    let mut out = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "JyotiFlow public API",
            "description": "Every operation the gateway routes, as clients call it: through the gateway, with a bearer access token where the operation lists security. Tags name the service behind each operation.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
    });
    let own: Value = serde_json::from_str(own).unwrap_or(Value::Null);
    merge_service(
        &mut out,
        own,
        crate::config::SERVICE,
        &state.cfg.routes,
        true,
    );
    let mut upstreams: Vec<&String> = state.cfg.routes.iter().map(|r| &r.upstream).collect();
    upstreams.sort();
    upstreams.dedup();
    for name in upstreams {
        let Some(base) = state.cfg.upstreams.get(name) else {
            continue;
        };
        let url = format!("{}/openapi.json", base.trim_end_matches('/'));
        let fetched = async {
            state
                .http
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        }
        .await;
        match fetched {
            Ok(doc) => {
                merge_service(&mut out, doc, name, &state.cfg.routes, false);
            }
            Err(e) => {
                tracing::debug!(upstream = %name, error = %e, "no OpenAPI document from upstream")
            }
        }
    }
    out
}

/// `GET /api/openapi.json`
pub async fn public_document(
    state: web::Data<GatewayState>,
    merged: web::Data<Merged>,
    own: web::Data<platform::http::OpenApiDoc>,
) -> HttpResponse {
    if let Ok(guard) = merged.0.lock() {
        if let Some((at, doc)) = guard.as_ref() {
            if at.elapsed() < Duration::from_secs(CACHE_SECS) {
                return HttpResponse::Ok()
                    .content_type("application/json")
                    .body(doc.clone());
            }
        }
    }
    let doc = build(&state, own.0.as_str()).await.to_string();
    if let Ok(mut guard) = merged.0.lock() {
        *guard = Some((Instant::now(), doc.clone()));
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_routes;

    #[test]
    fn only_routed_operations_are_kept_with_gateway_answers() {
        let mut out =
            json!({"paths": {}, "components": {"schemas": {"ErrorBody": {"type": "object"}}}});
        let doc = json!({
            "paths": {
                "/api/v1/credits/balance": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/internal/v1/credits/holds": {"post": {"responses": {"200": {"description": "ok"}}}},
                "/api/v1/pricing/services": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/api/v1/admin/pricing/packages": {"get": {"responses": {"200": {"description": "ok"}}}},
            },
            "components": {"schemas": {"ErrorBody": {"type": "string"}, "Balance": {"type": "object"}}}
        });
        let n = merge_service(&mut out, doc, "pricing", &default_routes(), false);
        assert_eq!(n, 3);
        assert!(out
            .pointer("/paths/~1internal~1v1~1credits~1holds")
            .is_none());
        let bal = &out["paths"]["/api/v1/credits/balance"]["get"];
        assert_eq!(bal["security"], json!([{"bearer": []}]));
        assert!(bal["responses"]["401"].is_object());
        assert!(bal["responses"]["403"].is_null());
        assert_eq!(bal["tags"], json!(["pricing"]));
        let admin = &out["paths"]["/api/v1/admin/pricing/packages"]["get"];
        assert!(admin["responses"]["403"].is_object());
        let public = &out["paths"]["/api/v1/pricing/services"]["get"];
        assert_eq!(public["security"], json!([]));
        assert!(public["responses"]["401"].is_null());
        // A different ErrorBody under the same name is renamed.
        assert_eq!(
            out["components"]["schemas"]["PricingErrorBody"],
            json!({"type": "string"})
        );
        assert_eq!(
            out["components"]["schemas"]["ErrorBody"],
            json!({"type": "object"})
        );
    }
}
