//! The service's OpenAPI document (`GET /openapi.json`): every routed
//! operation with its parameters, request and answer schemas, the error
//! answers each operation can give (all with the platform's error body),
//! and the internal-token security scheme on every protected operation.
//!
//! Most of it is derived by utoipa from the handlers and types; what the
//! derive cannot say is added here: the error answers of each operation,
//! the one-of shapes (`place_id` xor `lat` + `lon`, one side of a match,
//! at least one purge condition), the `groom`/`bride` aliases, and the
//! configured largest place search.

use crate::config::PlacesConfig;
use crate::{api, cache, engine, panchang, places, profiles};
use serde_json::{json, Value};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JyotiFlow charts",
        description = "Birth charts (cached), birth profiles, places and panchang. Places data: GeoNames, CC BY 4.0. Protected operations take the internal token the gateway signs (`X-Internal-Token`); through the gateway they take a bearer access token."
    ),
    paths(
        api::search_places,
        api::get_place,
        api::create_chart,
        api::get_chart,
        api::chart_dashas,
        api::compatibility,
        api::panchang,
        api::cache_stats,
        api::cache_purge,
        profiles::create,
        profiles::list,
        profiles::get,
        profiles::update,
        profiles::delete
    ),
    components(schemas(
        places::Place,
        places::PlaceMatch,
        api::PlacesReply,
        api::ChartRequest,
        api::ChartAnswer,
        api::ChartDocument,
        api::Party,
        api::CompatibilityRequest,
        api::CompatibilityReply,
        api::SideReply,
        api::PurgeRequest,
        api::PurgeReply,
        engine::BirthInput,
        engine::OptionsInput,
        engine::Normalized,
        engine::Options,
        engine::PlaceRef,
        engine::TzSource,
        engine::Dashas,
        engine::Period,
        engine::Running,
        engine::Mahadasha,
        panchang::Panchang,
        panchang::Span,
        panchang::VaraOf,
        cache::CacheStats,
        profiles::Profile,
        profiles::ProfileReply,
        profiles::ProfileList,
        profiles::CreateProfile,
        profiles::UpdateProfile,
        common::ErrorBody
    )),
    modifiers(&InternalTokenAuth)
)]
pub struct ApiDoc;

/// The name of the security scheme protected operations list.
pub const SECURITY_SCHEME: &str = "internal";

/// The identity the gateway forwards (`X-Internal-Token`).
struct InternalTokenAuth;
impl utoipa::Modify for InternalTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-Token",
                "short-lived internal token the gateway signs for the authenticated user",
            ))),
        );
    }
}

/// An error answer: status and description.
pub type Answer = (u16, &'static str);
/// The error answers of one operation: method, path, answers.
pub type OperationErrors = (&'static str, &'static str, &'static [Answer]);

const BAD_BODY: Answer = (
    400,
    "malformed_json: not JSON, a value of the wrong type, or a field missing or unknown (named in `field`)",
);
const BAD_QUERY: Answer = (
    400,
    "bad_request: a query string that cannot be read (e.g. a parameter given twice)",
);
const UNAUTHORIZED: Answer = (
    401,
    "unauthorized or invalid_token: no valid internal token naming a user",
);
const FORBIDDEN: Answer = (403, "forbidden: admins only");
const TOO_LARGE: Answer = (413, "payload_too_large: the body is over the size limit");
const MEDIA_TYPE: Answer = (
    415,
    "unsupported_media_type: the body must be `application/json`",
);
const INVALID: Answer = (422, "validation_failed, naming the field in `field`");
const DB_DOWN: Answer = (503, "database_unavailable");
const DB_SLOW: Answer = (504, "timeout: the database took too long to answer");

/// The error answers of each operation: everything the service itself can
/// answer besides the success (the gateway adds its own when merging).
pub const ERRORS: &[OperationErrors] = &[
    (
        "get",
        "/api/v1/places",
        &[BAD_QUERY, (422, "validation_failed: `q` empty, too long or with control characters, or `limit` out of range")],
    ),
    ("get", "/api/v1/places/{id}", &[(404, "not_found: no place with this id")]),
    (
        "post",
        "/api/v1/charts",
        &[BAD_BODY, UNAUTHORIZED, TOO_LARGE, MEDIA_TYPE, INVALID, DB_DOWN, DB_SLOW],
    ),
    (
        "get",
        "/api/v1/charts/{id}",
        &[UNAUTHORIZED, (404, "not_found: no such chart among the caller's"), DB_DOWN, DB_SLOW],
    ),
    (
        "get",
        "/api/v1/charts/{id}/dashas",
        &[
            BAD_QUERY,
            UNAUTHORIZED,
            (404, "not_found: no such chart among the caller's"),
            (422, "validation_failed: `at` is not a date or an RFC 3339 instant"),
            DB_DOWN,
            DB_SLOW,
        ],
    ),
    (
        "post",
        "/api/v1/charts/compatibility",
        &[
            BAD_BODY,
            UNAUTHORIZED,
            (404, "not_found: a chart or profile that is not the caller's"),
            TOO_LARGE,
            MEDIA_TYPE,
            (422, "validation_failed, naming the field (`boy`, `girl.birth.date`, ...): a bad side, a tropical chart"),
            DB_DOWN,
            DB_SLOW,
        ],
    ),
    (
        "get",
        "/api/v1/panchang",
        &[BAD_QUERY, (422, "validation_failed, naming the parameter")],
    ),
    (
        "get",
        "/api/v1/admin/charts/cache/stats",
        &[UNAUTHORIZED, FORBIDDEN, DB_DOWN, DB_SLOW],
    ),
    (
        "post",
        "/api/v1/admin/charts/cache/purge",
        &[BAD_BODY, UNAUTHORIZED, FORBIDDEN, TOO_LARGE, MEDIA_TYPE, INVALID, DB_DOWN, DB_SLOW],
    ),
    (
        "post",
        "/api/v1/profiles",
        &[BAD_BODY, UNAUTHORIZED, TOO_LARGE, MEDIA_TYPE, INVALID, DB_DOWN, DB_SLOW],
    ),
    (
        "get",
        "/api/v1/profiles",
        &[
            BAD_QUERY,
            UNAUTHORIZED,
            (422, "validation_failed: `limit` out of range or `cursor` not from this list"),
            DB_DOWN,
            DB_SLOW,
        ],
    ),
    (
        "get",
        "/api/v1/profiles/{id}",
        &[UNAUTHORIZED, (404, "not_found: no such profile among the caller's"), DB_DOWN, DB_SLOW],
    ),
    (
        "patch",
        "/api/v1/profiles/{id}",
        &[
            BAD_BODY,
            UNAUTHORIZED,
            (404, "not_found: no such profile among the caller's"),
            TOO_LARGE,
            MEDIA_TYPE,
            INVALID,
            DB_DOWN,
            DB_SLOW,
        ],
    ),
    (
        "delete",
        "/api/v1/profiles/{id}",
        &[UNAUTHORIZED, (404, "not_found: no such profile among the caller's"), DB_DOWN, DB_SLOW],
    ),
];

fn error_answer(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// `{"required": [a]}` for each name.
fn each_required(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| json!({"required": [n]})).collect()
}

/// Exactly one of the named groups of properties is present.
fn exactly_one_of(groups: &[&[&str]]) -> Value {
    let all: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let branches: Vec<Value> = groups
        .iter()
        .map(|g| {
            let others: Vec<&str> = all.iter().copied().filter(|n| !g.contains(n)).collect();
            json!({"required": g, "not": {"anyOf": each_required(&others)}})
        })
        .collect();
    Value::Array(branches)
}

/// The document as served, for this configuration.
pub fn document(places: &PlacesConfig) -> anyhow::Result<Value> {
    let mut doc = serde_json::to_value(ApiDoc::openapi())?;
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("the document has no schemas"))?;

    // place_id xor lat + lon.
    if let Some(b) = schemas.get_mut("BirthInput").and_then(Value::as_object_mut) {
        b.insert(
            "oneOf".into(),
            exactly_one_of(&[&["place_id"], &["lat", "lon"]]),
        );
    }
    // One side of a match: a chart, a profile, or a birth (with options).
    if let Some(p) = schemas.get_mut("Party").and_then(Value::as_object_mut) {
        p.insert(
            "oneOf".into(),
            json!([
                {"required": ["chart_id"], "not": {"anyOf": each_required(&["profile_id", "birth", "options"])}},
                {"required": ["profile_id"], "not": {"anyOf": each_required(&["chart_id", "birth", "options"])}},
                {"required": ["birth"], "not": {"anyOf": each_required(&["chart_id", "profile_id"])}},
            ]),
        );
    }
    // `groom` and `bride` are aliases of `boy` and `girl`.
    if let Some(c) = schemas
        .get_mut("CompatibilityRequest")
        .and_then(Value::as_object_mut)
    {
        if let Some(props) = c.get_mut("properties").and_then(Value::as_object_mut) {
            for (alias, of) in [("groom", "boy"), ("bride", "girl")] {
                if let Some(mut s) = props.get(of).cloned() {
                    if let Some(o) = s.as_object_mut() {
                        o.insert("description".into(), json!(format!("alias of `{of}`")));
                    }
                    props.insert(alias.into(), s);
                }
            }
        }
        c.remove("required");
        c.insert(
            "allOf".into(),
            json!([
                {"oneOf": each_required(&["boy", "groom"])},
                {"oneOf": each_required(&["girl", "bride"])},
            ]),
        );
    }
    // A purge names at least one condition.
    if let Some(p) = schemas
        .get_mut("PurgeRequest")
        .and_then(Value::as_object_mut)
    {
        p.insert(
            "anyOf".into(),
            json!([
                {"required": ["engine_version"]},
                {"required": ["older_than_secs"]},
                {"required": ["stale_versions"], "properties": {"stale_versions": {"const": true}}},
            ]),
        );
    }

    let max_limit = places.max_limit;
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("the document has no paths"))?;
    // The configured largest place search.
    if let Some(params) = paths
        .get_mut("/api/v1/places")
        .and_then(|p| p.pointer_mut("/get/parameters"))
        .and_then(Value::as_array_mut)
    {
        for p in params.iter_mut().filter(|p| p["name"] == "limit") {
            p["schema"]["maximum"] = json!(max_limit);
        }
    }
    // The error answers of each operation.
    for (method, path, answers) in ERRORS {
        let responses = paths
            .get_mut(*path)
            .and_then(|p| p.get_mut(*method))
            .and_then(|op| op.get_mut("responses"))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| anyhow::anyhow!("no operation {method} {path} to document errors of"))?;
        for (status, description) in *answers {
            responses.insert(status.to_string(), error_answer(description));
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_operation_has_its_error_answers_and_the_configured_limit() {
        let doc = document(&PlacesConfig {
            default_limit: 10,
            max_limit: 30,
            max_zone_distance_km: 300.0,
        })
        .unwrap();
        if std::env::var("PRINT_OPENAPI").is_ok() {
            println!("{}", serde_json::to_string_pretty(&doc).unwrap());
        }
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                assert!(
                    ERRORS.iter().any(|(m, p, _)| m == method && p == path),
                    "{method} {path} has no error answers listed"
                );
                for (status, answer) in op["responses"].as_object().unwrap() {
                    assert!(
                        answer["description"].is_string(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
        assert_eq!(operations, ERRORS.len());
        let limit = doc["paths"]["/api/v1/places"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], 30);
    }
}
