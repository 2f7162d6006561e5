//! The API contract: every text value is checked at the edge (NUL and other
//! control characters, lengths) with a 422 naming the field and nothing
//! written; every integer has a range checked before use; the OpenAPI
//! document is valid, names exactly the routes the app serves, and its
//! schemas describe the answers the app really gives.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Everything a request could have written: row counts and the profiles' content.
async fn fingerprint(app: &TestApp) -> String {
    let row = app
        .db()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM charts.chart_cache),
                    (SELECT count(*) FROM charts.user_charts),
                    (SELECT count(*) FROM charts.outbox),
                    (SELECT COALESCE(md5(string_agg(p::text, ',' ORDER BY p.id)), '')
                       FROM charts.profiles p)",
            &[],
        )
        .await
        .unwrap();
    format!(
        "{} {} {} {}",
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2),
        row.get::<_, String>(3)
    )
}

/// Sends `body`, expects 422 naming `field`, and that nothing was written.
async fn refused(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Caller,
    body: &Value,
    field: &str,
) {
    let before = fingerprint(app).await;
    let r = app.send_json(method.clone(), path, Some(who), body).await;
    let (status, e) = error(r).await;
    assert_eq!(
        (status, e["code"].as_str(), e["field"].as_str()),
        (422, Some("validation_failed"), Some(field)),
        "{method} {path} {body} -> {e}"
    );
    assert_eq!(
        fingerprint(app).await,
        before,
        "{method} {path} {body} wrote something"
    );
}

/// Sets `value` at a dotted path of a JSON object.
fn with(mut body: Value, path: &str, value: Value) -> Value {
    let mut at = &mut body;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            at[*p] = value;
            break;
        }
        at = &mut at[*p];
    }
    body
}

const BAD_TEXT: &[&str] = &["\u{0}", "a\u{0}b", "\u{7}", "line\nbreak", "\u{1b}[31m"];

#[tokio::test]
async fn nul_and_control_characters_in_every_text_field_are_a_422_naming_it() {
    let app = spawn_app().await;
    let u = app.user();
    let admin = app.admin();
    // A profile to patch, and a chart for the compatibility's other side.
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&u),
            &json!({"name": "Asha", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let profile: Value = r.json().await.unwrap();
    let profile_path = format!("/api/v1/profiles/{}", profile["id"].as_str().unwrap());

    let chart = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI, "tz": "Asia/Kolkata", "disambiguation": "earlier"},
                       "options": {"zodiac": "sidereal", "ayanamsa": "lahiri", "node": "mean", "house_system": "whole_sign", "divisional": ["D9"]}});
    let fields = [
        "birth.date",
        "birth.time",
        "birth.tz",
        "birth.disambiguation",
        "options.zodiac",
        "options.ayanamsa",
        "options.node",
        "options.house_system",
    ];
    for bad in BAD_TEXT {
        for field in fields {
            let body = with(chart.clone(), field, json!(format!("{bad}")));
            refused(&app, Method::POST, "/api/v1/charts", &u, &body, field).await;
            // The same birth inside a profile, a patch and a match.
            let mut p = body.clone();
            p["name"] = json!("Asha");
            refused(&app, Method::POST, "/api/v1/profiles", &u, &p, field).await;
            refused(&app, Method::PATCH, &profile_path, &u, &body, field).await;
            let m = json!({"boy": body, "girl": {"chart_id": uuid::Uuid::now_v7()}});
            refused(
                &app,
                Method::POST,
                "/api/v1/charts/compatibility",
                &u,
                &m,
                &format!("boy.{field}"),
            )
            .await;
        }
        // Text that is valid alongside: a divisional chart name.
        let body = with(
            chart.clone(),
            "options.divisional",
            json!([format!("D9{bad}")]),
        );
        refused(
            &app,
            Method::POST,
            "/api/v1/charts",
            &u,
            &body,
            "options.divisional",
        )
        .await;
        // Profile names and relations.
        let p = json!({"name": format!("Asha{bad}"), "birth": chart["birth"]});
        refused(&app, Method::POST, "/api/v1/profiles", &u, &p, "name").await;
        let p = json!({"name": "Asha", "relation": format!("self{bad}"), "birth": chart["birth"]});
        refused(&app, Method::POST, "/api/v1/profiles", &u, &p, "relation").await;
        for field in ["name", "relation"] {
            let p = json!({ field: format!("self{bad}") });
            refused(&app, Method::PATCH, &profile_path, &u, &p, field).await;
        }
        // The purge's engine version.
        let p = json!({"engine_version": format!("astro{bad}")});
        refused(
            &app,
            Method::POST,
            "/api/v1/admin/charts/cache/purge",
            &admin,
            &p,
            "engine_version",
        )
        .await;
    }
    // Query values.
    let id = uuid::Uuid::now_v7();
    for (path, field) in [
        ("/api/v1/places?q=che%00n".to_owned(), "q"),
        ("/api/v1/places?q=che%0An".to_owned(), "q"),
        ("/api/v1/places?q=che%1Bn".to_owned(), "q"),
        (
            format!("/api/v1/panchang?date=2024-01-15%00&place_id={CHENNAI}"),
            "date",
        ),
        (
            format!("/api/v1/panchang?date=2024-01-15&place_id={CHENNAI}&tz=Asia/Kolkata%00"),
            "tz",
        ),
        (
            format!("/api/v1/panchang?date=2024-01-15&place_id={CHENNAI}%00"),
            "place_id",
        ),
        (format!("/api/v1/charts/{id}/dashas?at=2024-01-15%00"), "at"),
        ("/api/v1/profiles?cursor=%00".to_owned(), "cursor"),
        ("/api/v1/profiles?limit=5%00".to_owned(), "limit"),
    ] {
        let (status, e) = error(app.get(&path, Some(&u)).await).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some(field)),
            "{path} -> {e}"
        );
    }
    // Lengths: a 101-character search, a 101-character name (spaces count).
    let long_q = format!("%20{}%20", "a".repeat(99));
    let (status, e) = error(app.get(&format!("/api/v1/places?q={long_q}"), None).await).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("q")), "{e}");
    let p = json!({"name": format!(" {} ", "a".repeat(99)), "birth": chart["birth"]});
    refused(&app, Method::POST, "/api/v1/profiles", &u, &p, "name").await;
    let p =
        json!({"name": "Asha", "birth": with(chart["birth"].clone(), "tz", json!("A".repeat(65)))});
    refused(&app, Method::POST, "/api/v1/profiles", &u, &p, "birth.tz").await;
    // Values are taken exactly as documented: no trimming, no other case.
    for (field, value) in [
        ("birth.date", " 1990-05-01"),
        ("birth.date", "1990-5-1"),
        ("birth.time", "6:30"),
        ("birth.time", "06:30 "),
        ("options.ayanamsa", "Lahiri"),
        ("options.house_system", "whole-sign"),
    ] {
        let body = with(chart.clone(), field, json!(value));
        refused(&app, Method::POST, "/api/v1/charts", &u, &body, field).await;
    }
    // A null is not a value of an optional field either (400, nothing written).
    let before = fingerprint(&app).await;
    for body in [
        with(chart.clone(), "birth.tz", Value::Null),
        with(chart.clone(), "options.divisional", Value::Null),
    ] {
        let (status, e) = error(app.post("/api/v1/charts", Some(&u), &body).await).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (400, Some("malformed_json")),
            "{e}"
        );
    }
    let (status, _) = error(
        app.send_json(
            Method::PATCH,
            &profile_path,
            Some(&u),
            &json!({"name": null}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fingerprint(&app).await, before);
}

#[tokio::test]
async fn integers_out_of_their_documented_ranges_are_refused() {
    let app = spawn_app().await;
    let u = app.user();
    let admin = app.admin();
    app.chart(&u, &chennai_birth("2001-01-01", "01:01")).await;
    let purge = "/api/v1/admin/charts/cache/purge";
    // The issue's case: 2^51 seconds used to reach PostgreSQL's interval arithmetic.
    for secs in [
        json!(1_i64 << 51),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(-1),
        json!(100_i64 * 366 * 86_400 + 1),
    ] {
        refused(
            &app,
            Method::POST,
            purge,
            &admin,
            &json!({ "older_than_secs": secs }),
            "older_than_secs",
        )
        .await;
    }
    // Beyond i64 at all: a malformed body.
    let r = app
        .http
        .post(app.url(purge))
        .header("X-Internal-Token", admin.token())
        .header("content-type", "application/json")
        .body(r#"{"older_than_secs": 18446744073709551616}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The largest allowed age is fine and deletes nothing young.
    let r = app
        .post(
            purge,
            Some(&admin),
            &json!({"older_than_secs": 100_i64 * 366 * 86_400}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["deleted"], 0);

    // Place ids in bodies.
    for id in [
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(1_i64 << 31),
    ] {
        let body = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": id}});
        refused(
            &app,
            Method::POST,
            "/api/v1/charts",
            &u,
            &body,
            "birth.place_id",
        )
        .await;
    }
    // Coordinates.
    for (field, v) in [
        ("lat", 90.0001),
        ("lat", -1e300),
        ("lon", 180.5),
        ("lon", f64::MAX),
    ] {
        let mut birth =
            json!({"date": "1990-05-01", "time": "06:30", "lat": 10.0, "lon": 10.0, "tz": "UTC"});
        birth[field] = json!(v);
        refused(
            &app,
            Method::POST,
            "/api/v1/charts",
            &u,
            &json!({ "birth": birth }),
            &format!("birth.{field}"),
        )
        .await;
    }
    // Query integers: limits, place ids; path ids.
    let max = i64::MAX.to_string();
    let min = i64::MIN.to_string();
    for (path, field) in [
        ("/api/v1/places?q=ab&limit=0".to_owned(), "limit"),
        ("/api/v1/places?q=ab&limit=51".to_owned(), "limit"),
        ("/api/v1/places?q=ab&limit=-1".to_owned(), "limit"),
        (format!("/api/v1/places?q=ab&limit={max}"), "limit"),
        (format!("/api/v1/places?q=ab&limit={min}"), "limit"),
        (
            "/api/v1/places?q=ab&limit=18446744073709551616".to_owned(),
            "limit",
        ),
        ("/api/v1/places?q=ab&limit=1.5".to_owned(), "limit"),
        ("/api/v1/profiles?limit=0".to_owned(), "limit"),
        ("/api/v1/profiles?limit=101".to_owned(), "limit"),
        (format!("/api/v1/profiles?limit={max}"), "limit"),
        (format!("/api/v1/profiles?limit={min}"), "limit"),
        (
            format!("/api/v1/panchang?date=2024-01-15&place_id={max}"),
            "place_id",
        ),
        (
            format!("/api/v1/panchang?date=2024-01-15&place_id={min}"),
            "place_id",
        ),
        (
            "/api/v1/panchang?date=2024-01-15&place_id=0".to_owned(),
            "place_id",
        ),
        (
            "/api/v1/panchang?date=2024-01-15&lat=NaN&lon=0".to_owned(),
            "lat",
        ),
        (
            "/api/v1/panchang?date=2024-01-15&lat=0&lon=inf".to_owned(),
            "lon",
        ),
    ] {
        let (status, e) = error(app.get(&path, Some(&u)).await).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some(field)),
            "{path} -> {e}"
        );
    }
    for path in [
        format!("/api/v1/places/{max}"),
        format!("/api/v1/places/{min}"),
        "/api/v1/places/+1264527".to_owned(),
        "/api/v1/places/01264527".to_owned(),
        "/api/v1/places/18446744073709551616".to_owned(),
    ] {
        assert_eq!(app.get(&path, None).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn compatibility_checks_both_sides_before_computing_anything() {
    let app = spawn_app().await;
    let u = app.user();
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&u),
            &json!({"name": "Ravi", "birth": {"date": "1988-02-02", "time": "08:00", "place_id": CHENNAI}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let prof: Value = r.json().await.unwrap();
    let pid = prof["id"].clone();
    let path = "/api/v1/charts/compatibility";
    let girl = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}});
    // Options beside a profile (or a chart) are refused, bogus or not: they
    // were silently ignored before.
    for options in [json!({"ayanamsa": "bogus"}), json!({"ayanamsa": "raman"})] {
        let body = json!({"boy": {"profile_id": pid, "options": options}, "girl": girl});
        let before = fingerprint(&app).await;
        let (status, e) = error(app.post(path, Some(&u), &body).await).await;
        assert_eq!(status, 422, "{body} -> {e}");
        assert!(
            e["field"].as_str().unwrap().starts_with("boy.options"),
            "{e}"
        );
        assert_eq!(fingerprint(&app).await, before);
    }
    let body = json!({"boy": {"chart_id": prof["chart_id"], "options": {}}, "girl": girl});
    refused(&app, Method::POST, path, &u, &body, "boy.options").await;
    // A valid side is not computed when the other is unknown or invalid.
    let unknown = json!({"chart_id": uuid::Uuid::now_v7()});
    let before = fingerprint(&app).await;
    let (status, _) = error(
        app.post(path, Some(&u), &json!({"boy": girl, "girl": unknown}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(fingerprint(&app).await, before, "the valid side was saved");
    let bad = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": 1}});
    refused(
        &app,
        Method::POST,
        path,
        &u,
        &json!({"boy": girl, "girl": bad}),
        "girl.birth.place_id",
    )
    .await;
    let tropical = json!({"birth": girl["birth"], "options": {"zodiac": "tropical"}});
    refused(
        &app,
        Method::POST,
        path,
        &u,
        &json!({"bride": tropical, "groom": girl}),
        "girl",
    )
    .await;
    // Both sides fine: a match, with the profile's chart.
    let r = app
        .post(
            path,
            Some(&u),
            &json!({"groom": {"profile_id": pid}, "bride": girl}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["boy"]["chart_id"], prof["chart_id"]);
    assert!(m["ashtakoota"]["total"].is_number());
}

// ------------------------------------------------------------------ OpenAPI

/// `(METHOD, path)` of every route `routes()` in lib.rs registers.
fn routes_in_lib_rs() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/lib.rs");
    let start = src.find("pub fn routes(").expect("routes() in lib.rs");
    let body = &src[start..];
    let end = body.find("\n}\n").expect("end of routes()");
    let body = &body[..end];
    let mut out = BTreeSet::new();
    for chunk in body.split("web::resource(\"").skip(1) {
        let path = &chunk[..chunk.find('"').unwrap()];
        for m in ["get", "post", "put", "patch", "delete", "head"] {
            if chunk.contains(&format!("web::{m}()")) {
                out.insert((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            let s = &doc["components"]["schemas"][name];
            assert!(s.is_object(), "dangling $ref {r}");
            resolve(doc, s)
        }
        None => schema,
    }
}

/// A small JSON Schema check (the keywords this document uses in answers).
fn conforms(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            conforms(doc, s, v, at, errors);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema[key].as_array() {
            let passing = options
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    conforms(doc, s, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                errors.push(format!("{at}: {passing} of the {key} branches match {v}"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: {v} is not {t}"));
            return;
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            errors.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(n), Some(min)) = (v.as_f64(), schema["minimum"].as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} < minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (v.as_f64(), schema["maximum"].as_f64()) {
        if n > max {
            errors.push(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let (Some(s), Some(f)) = (v.as_str(), schema["format"].as_str()) {
        let ok = match f {
            "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            "uuid" => uuid::Uuid::parse_str(s).is_ok(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {s:?} is not a {f}"));
        }
    }
    if let Some(o) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap();
            if !o.contains_key(r) {
                errors.push(format!("{at}: required {r} missing"));
            }
        }
        let props = schema["properties"].as_object();
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => conforms(doc, s, x, &format!("{at}.{k}"), errors),
                None if schema["additionalProperties"] == json!(false) => {
                    errors.push(format!("{at}: {k} is not a documented property"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            conforms(doc, items, x, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Asserts an answer matches the document's schema for its operation and status.
async fn answers_as_documented(
    doc: &Value,
    method: &str,
    path: &str,
    r: reqwest::Response,
) -> Value {
    let status = r.status().as_u16().to_string();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = r.json().await.unwrap();
    let answer = &doc["paths"][path][method]["responses"][&status];
    assert!(
        answer.is_object(),
        "{method} {path} answered an undocumented {status}: {body}"
    );
    assert!(ct.starts_with("application/json"), "{method} {path}: {ct}");
    let schema = &answer["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status} has no schema");
    let mut errors = Vec::new();
    conforms(doc, schema, &body, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} differs from its schema:\n{}",
        errors.join("\n")
    );
    body
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_names_every_route_the_app_serves() {
    let app = spawn_app().await;
    let admin = app.admin();
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["internal"].is_object());

    // The document's operations are exactly the routes lib.rs registers.
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    assert_eq!(documented, routes_in_lib_rs());

    for (method, path) in &documented {
        let m = method.to_lowercase();
        let op = &doc["paths"][path][&m];
        let label = format!("{method} {path}");
        // Path parameters: each `{name}` declared once, in path, required;
        // nothing else declared in path.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{label}: {p}");
                p["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(in_path, template, "{label}: path parameters");
        let mut names = BTreeSet::new();
        for p in &params {
            assert!(
                names.insert((p["in"].to_string(), p["name"].to_string())),
                "{label}: {p} declared twice"
            );
            assert!(
                ["path", "query"].contains(&p["in"].as_str().unwrap()),
                "{label}: {p}"
            );
            assert!(
                p["schema"]["type"].is_string(),
                "{label}: {p} has no schema"
            );
        }
        // Answers: a schema for every success with a body, the error body for every error.
        let responses = op["responses"].as_object().unwrap();
        for (status, answer) in responses {
            let answer = resolve(&doc, answer);
            let schema = &answer["content"]["application/json"]["schema"];
            match status.as_str() {
                "204" => assert!(answer.get("content").is_none(), "{label} 204"),
                s if s.starts_with('2') => {
                    assert!(schema.is_object(), "{label} {s} has no schema");
                    resolve(&doc, schema);
                }
                s => assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorBody",
                    "{label} {s}"
                ),
            }
        }
        let has = |s: &str| responses.contains_key(s);
        if op.get("requestBody").is_some() {
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            resolve(&doc, body);
            for s in ["400", "413", "415", "422"] {
                assert!(has(s), "{label} takes a body but does not document {s}");
            }
        }

        // The route is served (not the fallback 404/405), and protection is
        // as documented.
        let concrete = path
            .replace("/places/{id}", &format!("/places/{CHENNAI}"))
            .replace("{id}", &uuid::Uuid::now_v7().to_string());
        let send = |who: Option<&Caller>| {
            let mut r = app.http.request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&concrete),
            );
            if let Some(c) = who {
                r = r.header("X-Internal-Token", c.token());
            }
            if op.get("requestBody").is_some() {
                r = r.json(&json!({}));
            }
            r.send()
        };
        let r = send(Some(&admin)).await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{label} is not routed");
        assert_ne!(
            body["error"]["message"], "no such resource",
            "{label} is not routed"
        );
        assert!(
            has(&status.to_string()),
            "{label} answered an undocumented {status}"
        );
        let anonymous = send(None).await.unwrap().status().as_u16();
        let secured = op["security"] == json!([{"internal": []}]);
        assert_eq!(anonymous == 401, secured, "{label}: security as documented");
        assert_eq!(has("401"), secured, "{label}: 401 documented iff protected");
        if path.starts_with("/api/v1/admin/") {
            assert!(has("403"), "{label}: admin operations document 403");
            let user = app.user();
            assert_eq!(send(Some(&user)).await.unwrap().status(), 403, "{label}");
        }
    }
}

#[tokio::test]
async fn every_success_answer_matches_its_schema() {
    let app = spawn_app().await;
    let u = app.user();
    let admin = app.admin();
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();

    let r = app
        .post("/api/v1/charts", Some(&u), &json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}, "options": {"divisional": ["D9", 10], "outer_planets": true}}))
        .await;
    let c = answers_as_documented(&doc, "post", "/api/v1/charts", r).await;
    let id = c["chart_id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/v1/charts", Some(&u), &json!({"birth": {"date": "2021-11-07", "time": "01:30", "lat": 40.7128, "lon": -74.006, "tz": "America/New_York", "disambiguation": "later"}}))
        .await;
    answers_as_documented(&doc, "post", "/api/v1/charts", r).await;
    let r = app.get(&format!("/api/v1/charts/{id}"), Some(&u)).await;
    answers_as_documented(&doc, "get", "/api/v1/charts/{id}", r).await;
    for at in [
        "",
        "?at=2024-06-01T00:00:00Z",
        "?at=1850-01-01",
        "?at=2300-01-01",
    ] {
        let r = app
            .get(&format!("/api/v1/charts/{id}/dashas{at}"), Some(&u))
            .await;
        answers_as_documented(&doc, "get", "/api/v1/charts/{id}/dashas", r).await;
    }
    let r = app
        .post(
            "/api/v1/charts/compatibility",
            Some(&u),
            &json!({"boy": {"chart_id": id}, "girl": {"birth": {"date": "1992-03-01", "time": "10:00", "lat": 19.076, "lon": 72.8777}}}),
        )
        .await;
    answers_as_documented(&doc, "post", "/api/v1/charts/compatibility", r).await;
    for q in [
        format!("date=2024-01-15&place_id={CHENNAI}"),
        "date=2024-06-21&lat=69.6492&lon=18.9553".to_owned(),
    ] {
        let r = app.get(&format!("/api/v1/panchang?{q}"), None).await;
        answers_as_documented(&doc, "get", "/api/v1/panchang", r).await;
    }
    let r = app.get("/api/v1/places?q=sao&limit=3", None).await;
    answers_as_documented(&doc, "get", "/api/v1/places", r).await;
    let r = app.get(&format!("/api/v1/places/{CHENNAI}"), None).await;
    answers_as_documented(&doc, "get", "/api/v1/places/{id}", r).await;

    let r = app
        .post(
            "/api/v1/profiles",
            Some(&u),
            &json!({"name": "Asha", "relation": "spouse", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}, "options": {"ayanamsa": "kp"}}),
        )
        .await;
    let p = answers_as_documented(&doc, "post", "/api/v1/profiles", r).await;
    let pid = p["id"].as_str().unwrap().to_owned();
    let r = app.get("/api/v1/profiles?limit=1", Some(&u)).await;
    answers_as_documented(&doc, "get", "/api/v1/profiles", r).await;
    let r = app.get(&format!("/api/v1/profiles/{pid}"), Some(&u)).await;
    answers_as_documented(&doc, "get", "/api/v1/profiles/{id}", r).await;
    for patch in [
        json!({"name": "Asha R"}),
        json!({"options": {"house_system": "equal"}}),
    ] {
        let r = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/profiles/{pid}"),
                Some(&u),
                &patch,
            )
            .await;
        answers_as_documented(&doc, "patch", "/api/v1/profiles/{id}", r).await;
    }
    let r = app
        .get("/api/v1/admin/charts/cache/stats", Some(&admin))
        .await;
    answers_as_documented(&doc, "get", "/api/v1/admin/charts/cache/stats", r).await;
    let r = app
        .post(
            "/api/v1/admin/charts/cache/purge",
            Some(&admin),
            &json!({"stale_versions": true}),
        )
        .await;
    answers_as_documented(&doc, "post", "/api/v1/admin/charts/cache/purge", r).await;
    // Errors too: the error body, for a status the operation documents.
    let r = app
        .post(
            "/api/v1/charts",
            Some(&u),
            &json!({"birth": {"date": "1990-05-01", "time": "06:30"}}),
        )
        .await;
    answers_as_documented(&doc, "post", "/api/v1/charts", r).await;
    let r = app.get("/api/v1/places?q=", None).await;
    answers_as_documented(&doc, "get", "/api/v1/places", r).await;
}
