//! Pricing's OpenAPI 3.1 document (`GET /openapi.json`): every operation
//! the gateway routes here ([`crate::API_OPERATIONS`]) and nothing else
//! (the `/internal/*` operations are described in the README).
//!
//! Each operation lists every status it can answer; [`Finish`] gives every
//! error answer the common error body and declares the `internal_token`
//! security scheme that protected operations name. The gateway merges this
//! document into `/api/openapi.json`, rewriting that security to its bearer
//! token and adding its own answers (400/401/403/429/502/504).

use crate::{api, catalog, engine, ledger, payments, stripe, usage};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi};

/// The header the gateway (and a calling service) signs the principal into.
pub const INTERNAL_TOKEN_SCHEME: &str = "internal_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JyotiFlow pricing",
        description = "Credits (balance, ledger, packages, Stripe checkout and webhook), quotes and \
            service prices, and their administration under /api/v1/admin/pricing. Clients call it \
            through the gateway with a bearer token; the gateway forwards the principal in \
            X-Internal-Token (the internal_token scheme). Every error has the body \
            {\"error\": {\"code\", \"message\", \"request_id\", \"field\"}}; validation errors \
            (422 validation_failed) name the failing field."
    ),
    paths(
        api::balance,
        api::ledger_page,
        api::list_packages,
        stripe::checkout,
        stripe::webhook,
        catalog::quote_http,
        catalog::public_services,
        api::admin_list_packages,
        api::create_package,
        api::update_package,
        api::delete_package,
        api::adjust,
        api::refund,
        payments::admin_payments,
        catalog::admin_services,
        catalog::create_service,
        catalog::update_service,
        catalog::get_cost_inputs,
        catalog::put_cost_inputs,
        catalog::list_recommendations,
        catalog::generate,
        catalog::approve,
        catalog::reject,
        catalog::create_override,
        catalog::history,
        catalog::daily_report,
        usage::service_accounts,
    ),
    components(schemas(
        ledger::Balance,
        ledger::LedgerPage,
        ledger::LedgerItem,
        ledger::Movement,
        api::PackageInput,
        api::Package,
        api::PackageList,
        api::AdjustmentRequest,
        api::RefundRequest,
        payments::PaymentView,
        payments::PaymentPage,
        stripe::CheckoutRequest,
        stripe::CheckoutResponse,
        stripe::StripeEvent,
        stripe::WebhookReceived,
        catalog::QuoteRequest,
        catalog::Quote,
        catalog::PublicService,
        catalog::PublicServiceList,
        catalog::ServiceView,
        catalog::ServiceList,
        catalog::ServiceInput,
        catalog::ServiceUpdate,
        catalog::UsageInput,
        catalog::CostModel,
        catalog::CostModelUpdate,
        catalog::CostUpdate,
        catalog::RecommendationView,
        catalog::RecommendationList,
        catalog::OverrideInput,
        catalog::OverrideView,
        catalog::PriceChange,
        catalog::PriceHistory,
        catalog::DailyRow,
        catalog::DailyReport,
        usage::ServiceAccount,
        usage::ServiceAccountList,
        engine::CostInputs,
        engine::Usage,
        common::ErrorBody
    )),
    modifiers(&Finish)
)]
pub struct ApiDoc;

/// Completes the generated document: the security scheme, and the error
/// body on every 4xx/5xx answer.
pub struct Finish;

impl Modify for Finish {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            INTERNAL_TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                common::subjects::headers::INTERNAL_TOKEN,
                "The principal, signed by the gateway (or by a calling service) for pricing.",
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(r)) = (is_error, response) {
                        if r.content.is_empty() {
                            r.content.insert(
                                "application/json".into(),
                                Content::new(Some(RefOr::Ref(
                                    utoipa::openapi::Ref::from_schema_name("ErrorBody"),
                                ))),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The document `/openapi.json` serves, as JSON.
///
/// A documented field of an inlined type comes out of utoipa as
/// `{"oneOf": [<schema>], "description": ...}`; that is folded into the
/// schema itself so that its constraints sit where readers (and
/// generators) look. Every operation is tagged `pricing`.
pub fn document() -> serde_json::Value {
    let mut v = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    fold_single_one_of(&mut v);
    if let Some(paths) = v
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    {
        for item in paths
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            for op in item
                .values_mut()
                .filter_map(serde_json::Value::as_object_mut)
            {
                op.insert("tags".into(), serde_json::json!([crate::config::SERVICE]));
            }
        }
    }
    v
}

fn fold_single_one_of(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for x in m.values_mut() {
                fold_single_one_of(x);
            }
            let single = m
                .get("oneOf")
                .and_then(serde_json::Value::as_array)
                .filter(|a| a.len() == 1)
                .and_then(|a| a[0].as_object())
                .filter(|inner| !inner.contains_key("$ref"))
                .cloned();
            let only_annotations = m
                .keys()
                .all(|k| matches!(k.as_str(), "oneOf" | "description" | "default"));
            if let (Some(inner), true) = (single, only_annotations) {
                m.remove("oneOf");
                for (k, x) in inner {
                    m.entry(k).or_insert(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(fold_single_one_of),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Value;

    fn doc() -> Value {
        document()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = vec![];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn the_document_has_exactly_the_routed_operations() {
        let doc = doc();
        let mut documented: Vec<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let mut routed: Vec<(String, String)> = crate::API_OPERATIONS
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        assert!(documented.iter().all(|(_, p)| !p.starts_with("/internal")));
    }

    #[test]
    fn every_answer_is_described_and_every_error_has_the_error_body() {
        let doc = doc();
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            let success: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
            assert!(!success.is_empty(), "{method} {path}: no success answer");
            for (status, r) in responses {
                let schema = &r["content"]["application/json"]["schema"];
                if status == "204" {
                    assert!(r["content"].is_null(), "{method} {path} 204 has a body");
                } else if status.starts_with('2') {
                    assert!(schema.is_object(), "{method} {path} {status}: no schema");
                } else {
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let public = path == "/api/v1/pricing/services" || path.ends_with("/stripe/webhook");
            if public {
                assert!(op["security"].is_null(), "{method} {path}");
            } else {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{INTERNAL_TOKEN_SCHEME: []}]),
                    "{method} {path}"
                );
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
                assert_eq!(
                    responses.contains_key("403"),
                    path.starts_with("/api/v1/admin/"),
                    "{method} {path}: 403 exactly on admin operations"
                );
            }
            if op["requestBody"].is_object() && !path.ends_with("/stripe/webhook") {
                for s in ["400", "413", "415"] {
                    assert!(responses.contains_key(s), "{method} {path}: no {s}");
                }
                // Checkout's body is one UUID: no rule beyond its type.
                assert_eq!(
                    responses.contains_key("422"),
                    !path.ends_with("/checkout"),
                    "{method} {path}: 422"
                );
            }
        }
        assert!(doc["components"]["securitySchemes"][INTERNAL_TOKEN_SCHEME].is_object());
    }

    #[test]
    fn constraints_are_documented() {
        let doc = doc();
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["PackageInput"]["properties"]["credits"]["maximum"].as_f64(),
            Some(1e9)
        );
        assert_eq!(
            s["AdjustmentRequest"]["properties"]["amount"]["oneOf"][0]["minimum"].as_f64(),
            Some(-1e12)
        );
        assert!(s["AdjustmentRequest"]["properties"]["reason"]["pattern"].is_string());
        let ledger = &doc["paths"]["/api/v1/credits/ledger"]["get"]["parameters"];
        let limit = ledger
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(
            (
                limit["schema"]["minimum"].as_f64(),
                limit["schema"]["maximum"].as_f64()
            ),
            (Some(1.0), Some(200.0))
        );
        let adjust = &doc["paths"]["/api/v1/admin/pricing/adjustments"]["post"]["parameters"];
        let key = adjust
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap();
        assert_eq!(
            (&key["in"], &key["required"]),
            (&"header".into(), &true.into())
        );
        // Generic input types are inlined: no shared, last-one-wins component.
        for name in ["Int", "Line", "Text"] {
            assert!(s[name].is_null(), "a {name} component");
        }
    }
}
