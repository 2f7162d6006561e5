use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn profiles_crud_with_ownership() {
    let app = spawn_app().await;
    let alice = app.user();
    let bob = app.user();
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Me", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["relation"], "self");
    assert_eq!(me["input"]["tz"], "Asia/Kolkata");
    let chart_id = me["chart_id"].as_str().unwrap().to_owned();
    // The profile's chart is the cached chart for that birth, visible to its owner.
    let c = app
        .chart(&alice, &chennai_birth("1990-05-01", "06:30"))
        .await;
    assert_eq!(c["chart_id"], chart_id.as_str());
    assert_eq!(c["cached"], true);

    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Child", "relation": "child",
                    "birth": {"date": "2015-02-10", "time": "14:00", "lat": 19.076, "lon": 72.8777},
                    "options": {"divisional": ["D9"]}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let child: serde_json::Value = r.json().await.unwrap();
    assert_eq!(child["input"]["tz_source"], "nearest_place");
    assert_eq!(child["input"]["tz"], "Asia/Kolkata");

    // List: Alice sees two, Bob none.
    let l: serde_json::Value = app
        .get("/api/v1/profiles", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["profiles"].as_array().unwrap().len(), 2);
    assert_eq!(l["profiles"][0]["name"], "Me");
    let l: serde_json::Value = app
        .get("/api/v1/profiles", Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["profiles"].as_array().unwrap().len(), 0);

    // Get: owner 200, others 404.
    let id = me["id"].as_str().unwrap();
    let path = format!("/api/v1/profiles/{id}");
    assert_eq!(app.get(&path, Some(&alice)).await.status(), 200);
    assert_eq!(app.get(&path, Some(&bob)).await.status(), 404);
    assert_eq!(app.get(&path, None).await.status(), 401);
    // ... and not Bob's chart either.
    assert_eq!(
        app.get(&format!("/api/v1/charts/{chart_id}"), Some(&bob))
            .await
            .status(),
        404
    );

    // Patch: name only keeps the chart; new birth time recomputes it.
    let r = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&alice),
            &json!({"name": "Myself"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["name"], "Myself");
    assert_eq!(p["chart_id"], chart_id.as_str());
    let r = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&alice),
            &json!({"birth": {"date": "1990-05-01", "time": "06:45", "place_id": CHENNAI}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_ne!(p["chart_id"], chart_id.as_str());
    assert_eq!(p["input"]["time"], "06:45:00");
    assert_eq!(p["birth"]["time"], "06:45");
    let new_chart = p["chart_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/charts/{new_chart}"), Some(&alice))
            .await
            .status(),
        200
    );
    // Bob cannot patch or delete it.
    let r = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&bob),
            &json!({"name": "Mine now"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .delete(app.url(&path))
        .header("X-Internal-Token", bob.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Validation.
    let (s, e) = error(
        app.send_json(
            Method::PATCH,
            &path,
            Some(&alice),
            &json!({"relation": "boss"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (422, Some("relation")));
    let (s, e) = error(
        app.post("/api/v1/profiles", Some(&alice), &json!({"name": " ", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}}))
            .await,
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (422, Some("name")));
    let (s, e) = error(
        app.post("/api/v1/profiles", Some(&alice), &json!({"name": "X", "birth": {"date": "1890-05-01", "time": "06:30", "place_id": CHENNAI}}))
            .await,
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (422, Some("birth.date")));

    // Delete: owner 204, then 404.
    let r = app
        .http
        .delete(app.url(&path))
        .header("X-Internal-Token", alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get(&path, Some(&alice)).await.status(), 404);
    let l: serde_json::Value = app
        .get("/api/v1/profiles", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["profiles"].as_array().unwrap().len(), 1);
}

/// Issue 8.8: profile lists come a page at a time; a bad page size is refused.
#[tokio::test]
async fn profile_lists_are_paginated() {
    let app = spawn_app().await;
    let alice = app.user();
    for i in 0..5 {
        let r = app
            .post(
                "/api/v1/profiles",
                Some(&alice),
                &json!({"name": format!("P{i}"), "birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI}}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/profiles?limit=2&cursor={c}"),
            None => "/api/v1/profiles?limit=2".to_owned(),
        };
        let page: Value = app.get(&path, Some(&alice)).await.json().await.unwrap();
        pages += 1;
        for p in page["profiles"].as_array().unwrap() {
            names.push(p["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, vec!["P0", "P1", "P2", "P3", "P4"]);
    for bad in ["limit=0", "limit=101", "cursor=not-a-cursor"] {
        let (status, e) = error(
            app.get(&format!("/api/v1/profiles?{bad}"), Some(&alice))
                .await,
        )
        .await;
        assert_eq!(status, 422, "{bad}: {e}");
    }
}
