//! The admin API: create, edit, deactivate, reactivate, list and versions,
//! each change versioned and searchable at once.

use crate::helpers::{error, spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const BASE: &str = "/api/v1/admin/guidance/knowledge";

fn new_entry() -> Value {
    json!({
        "id": "practice-tulsi-watering",
        "domain": "practice",
        "title": "Watering the tulsi plant at dawn",
        "tags": ["tulsi", "holy basil", "morning", "devotion"],
        "sources": [],
        "body": "Many households water the tulsi (holy basil) plant at sunrise as a small daily devotion.\n\n## How\nOffer a little water, light a lamp in the evening, and walk around the plant once with a quiet prayer."
    })
}

async fn json_ok(r: reqwest::Response, status: u16) -> Value {
    let s = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(s, status, "{body}");
    body
}

async fn versions(app: &TestApp, id: &str) -> Vec<(i64, String)> {
    let admin = app.admin();
    let v = json_ok(
        app.get(&format!("{BASE}/{id}/versions"), Some(&admin))
            .await,
        200,
    )
    .await;
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn admins_create_edit_deactivate_and_reactivate_with_versions() {
    let app = spawn_app().await;
    let admin = app.admin();
    let id = "practice-tulsi-watering";

    let created = json_ok(
        app.send_json(Method::POST, BASE, Some(&admin), &new_entry())
            .await,
        201,
    )
    .await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["origin"], "admin");
    assert_eq!(created["language"], "en");
    // Searchable at once.
    assert_eq!(app.search_ids("holy basil watering ritual").await[0], id);
    app.assert_postings_match_chunks().await;
    // Ids are never reused.
    let (status, e) = error(
        app.send_json(Method::POST, BASE, Some(&admin), &new_entry())
            .await,
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (409, Some("conflict")));

    // Edit the body: version 2, the new text is what is found.
    let edited = json_ok(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/{id}"),
            Some(&admin),
            &json!({"expected_version": 1, "body": "Watering tulsi at dawn is a gentle devotion.\n\n## How\nPour water while chanting softly, then sit in silence for a minute."}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["version"], 2);
    assert!(edited["body"].as_str().unwrap().contains("chanting softly"));
    // A stale version is refused.
    let (status, e) = error(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/{id}"),
            Some(&admin),
            &json!({"expected_version": 1, "title": "Tulsi"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (409, Some("expected_version"))
    );
    // No change, no version.
    let same = json_ok(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/{id}"),
            Some(&admin),
            &json!({"title": "Watering the tulsi plant at dawn"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(same["version"], 2);

    // Deactivate: kept, no longer found.
    let gone = json_ok(
        app.send_json(
            Method::DELETE,
            &format!("{BASE}/{id}"),
            Some(&admin),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (gone["active"].as_bool(), gone["version"].as_i64()),
        (Some(false), Some(3))
    );
    assert!(!app
        .search_ids("holy basil watering ritual")
        .await
        .contains(&id.to_owned()));
    let fetched = json_ok(app.get(&format!("{BASE}/{id}"), Some(&admin)).await, 200).await;
    assert_eq!(fetched["active"], false);

    // Reactivate.
    let back = json_ok(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/{id}"),
            Some(&admin),
            &json!({"active": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (back["active"].as_bool(), back["version"].as_i64()),
        (Some(true), Some(4))
    );
    assert!(app
        .search_ids("tulsi chanting softly")
        .await
        .contains(&id.to_owned()));
    // Edited, deactivated and reactivated: the full-text index followed.
    app.assert_postings_match_chunks().await;

    assert_eq!(
        versions(&app, id).await,
        [
            (4, "reactivated".to_owned()),
            (3, "deactivated".to_owned()),
            (2, "updated".to_owned()),
            (1, "created".to_owned())
        ]
    );
    let changed_by: Option<String> = app
        .db()
        .await
        .query_one(
            "SELECT changed_by::text FROM guidance.knowledge_versions WHERE entry_id = $1 AND version = 2",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(changed_by, Some(admin.id.to_string()));
}

#[tokio::test]
async fn an_admin_edit_of_a_corpus_entry_survives_a_reseed() {
    let app = spawn_app().await;
    let admin = app.admin();
    let r = app
        .send_json(
            Method::PATCH,
            &format!("{BASE}/saturn-in-house-7"),
            Some(&admin),
            &json!({"title": "Saturn (Shani) in the seventh house"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let again = app.seed().await.unwrap();
    assert!(!again.changed(), "{again}");
    let e = json_ok(
        app.get(&format!("{BASE}/saturn-in-house-7"), Some(&admin))
            .await,
        200,
    )
    .await;
    assert_eq!(e["title"], "Saturn (Shani) in the seventh house");
    assert_eq!(e["version"], 2);
}

#[tokio::test]
async fn listing_and_filters() {
    let app = spawn_app().await;
    let admin = app.admin();
    let all = json_ok(app.get(BASE, Some(&admin)).await, 200).await;
    assert_eq!(all["total"], crate::helpers::SMALL.len());
    let some = json_ok(
        app.get(
            &format!("{BASE}?q=SATURN-in-house&domain=graha_in_house"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;
    let ids: Vec<&str> = some["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["saturn-in-house-7"]);
    let page = json_ok(
        app.get(
            &format!("{BASE}?limit=2&offset=2&active=true"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let none = json_ok(
        app.get(&format!("{BASE}?active=false"), Some(&admin)).await,
        200,
    )
    .await;
    assert_eq!(none["total"], 0);
    for bad in [
        "limit=0",
        "limit=501",
        "offset=-1",
        "active=maybe",
        "domain=astronomy",
        "q=%00",
    ] {
        let (status, e) = error(app.get(&format!("{BASE}?{bad}"), Some(&admin)).await).await;
        assert_eq!(status, 422, "{bad}: {e}");
    }
}

#[tokio::test]
async fn only_admins_and_only_valid_entries() {
    let app = spawn_app().await;
    let admin = app.admin();
    let user = app.user();
    let (status, _) = error(app.get(BASE, None).await).await;
    assert_eq!(status, 401);
    let (status, _) = error(app.get(BASE, Some(&user)).await).await;
    assert_eq!(status, 403);
    let (status, _) = error(
        app.send_json(Method::POST, BASE, Some(&user), &new_entry())
            .await,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = error(
        app.get(&format!("{BASE}/no-such-entry"), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = error(
        app.get(&format!("{BASE}/NOT%20AN%20ID"), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(status, 404);

    let cases: Vec<(Value, &str)> = vec![
        (json!({"id": "Bad Id"}), "id"),
        (json!({"domain": "astronomy"}), "domain"),
        (json!({"title": "a\u{0000}b"}), "title"),
        (json!({"tags": ["one"]}), "tags"),
        (json!({"tags": ["UPPER", "b", "c"]}), "tags"),
        (json!({"graha": "pluto"}), "graha"),
        (json!({"house": 13}), "house"),
        (json!({"sign": "aries"}), "sign"),
        (json!({"language": "fr"}), "language"),
        (json!({"body": "nul \u{0000} here"}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"domain": "graha_in_house", "graha": "sun"}), "house"),
    ];
    for (patch, field) in cases {
        let mut body = new_entry();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, e) = error(app.send_json(Method::POST, BASE, Some(&admin), &body).await).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some(field)),
            "{patch}: {e}"
        );
    }
    // Unknown fields and wrong types are malformed bodies.
    let mut body = new_entry();
    body["colour"] = json!("blue");
    let (status, _) = error(app.send_json(Method::POST, BASE, Some(&admin), &body).await).await;
    assert_eq!(status, 400);
    let (status, e) = error(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/saturn-in-house-7"),
            Some(&admin),
            &json!({"house": 0}),
        )
        .await,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("house")));
    let (status, _) = error(
        app.send_json(
            Method::PATCH,
            &format!("{BASE}/nothing-here"),
            Some(&admin),
            &json!({"title": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.count("SELECT count(*) FROM guidance.knowledge_entries WHERE origin = 'admin'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_answer() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = &doc["paths"];
    let codes = |path: &str, method: &str| -> Vec<String> {
        let mut c: Vec<String> = paths[path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
            .keys()
            .cloned()
            .collect();
        c.sort();
        c
    };
    assert_eq!(
        codes("/api/v1/guidance/knowledge/search", "get"),
        ["200", "400", "401", "422"]
    );
    assert_eq!(
        codes(BASE, "post"),
        ["201", "400", "401", "403", "409", "413", "415", "422"]
    );
    assert_eq!(
        codes(&format!("{BASE}/{{id}}"), "patch"),
        ["200", "400", "401", "403", "404", "409", "413", "415", "422"]
    );
    assert_eq!(
        codes(&format!("{BASE}/{{id}}"), "delete"),
        ["200", "401", "403", "404"]
    );
    assert_eq!(
        codes(&format!("{BASE}/{{id}}/versions"), "get"),
        ["200", "401", "403", "404"]
    );
    assert_eq!(codes(BASE, "get"), ["200", "400", "401", "403", "422"]);
    assert!(doc["components"]["securitySchemes"]["internal"].is_object());
}
