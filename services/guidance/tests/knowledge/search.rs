//! Search for signed-in users (HTTP) and other services (NATS), replicas
//! kept current, and the entries for a chart's own placements.

use crate::helpers::{enc, error, spawn_app, spawn_with, Options};
use guidance::retrieval::Placement;
use platform::nats::{Bus, CallContext};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const SEARCH: &str = "/api/v1/guidance/knowledge/search";

#[tokio::test]
async fn users_search_in_english_and_sanskrit() {
    let app = spawn_app().await;
    let user = app.user();
    let r = app
        .http
        .get(app.url(&format!(
            "{SEARCH}?q={}&k=3",
            enc("Shani in 7th bhava affects marriage")
        )))
        .header("X-Internal-Token", user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let top = &results[0];
    assert_eq!(top["id"], "saturn-in-house-7");
    assert_eq!(top["domain"], "graha_in_house");
    assert_eq!(top["title"], "Saturn in the seventh house");
    assert!(!top["snippet"].as_str().unwrap().is_empty());
    assert!(top["score"].as_f64().unwrap() > results[1]["score"].as_f64().unwrap());
    assert!(top.get("text").is_none());
    assert_eq!(
        app.search_ids("Saturn in the seventh house").await[..1],
        ["saturn-in-house-7"]
    );
    assert_eq!(
        app.search_ids("Chandra in 4th bhava").await[0],
        "moon-in-house-4"
    );
    assert_eq!(
        app.search_ids("Rohini natchathiram").await[0],
        "nakshatra-rohini"
    );
    assert!(app
        .search_ids("Should I wear a blue sapphire for Saturn?")
        .await[..3]
        .contains(&"remedy-gemstone-caution".to_owned()));
    // Domain filter.
    let r = app
        .get(&format!("{SEARCH}?q=saturn&domain=graha&k=5"), Some(&user))
        .await;
    let body: Value = r.json().await.unwrap();
    let domains: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["graha"]);
}

#[tokio::test]
async fn search_needs_a_user_and_valid_parameters() {
    let app = spawn_app().await;
    let user = app.user();
    let (status, _) = error(app.get(&format!("{SEARCH}?q=saturn"), None).await).await;
    assert_eq!(status, 401);
    for (query, field) in [
        ("q=sat%00urn", "q"),
        ("q=sat%0Aurn", "q"),
        ("q=sat%1Burn", "q"),
        ("", "q"),
        ("q=%20%20", "q"),
        ("q=saturn&k=0", "k"),
        ("q=saturn&k=21", "k"),
        ("q=saturn&k=-1", "k"),
        ("q=saturn&k=abc", "k"),
        ("q=saturn&k=99999999999999999999", "k"),
        ("q=saturn&domain=astronomy", "domain"),
        ("q=saturn&domain=gr%00aha", "domain"),
    ] {
        let (status, e) = error(app.get(&format!("{SEARCH}?{query}"), Some(&user)).await).await;
        assert_eq!(
            (status, e["code"].as_str(), e["field"].as_str()),
            (422, Some("validation_failed"), Some(field)),
            "{query}"
        );
    }
    let long = "a".repeat(501);
    let (status, e) = error(app.get(&format!("{SEARCH}?q={long}"), Some(&user)).await).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("q")));
    // k up to retrieval.max_k.
    let r = app
        .get(&format!("{SEARCH}?q=saturn&k=20"), Some(&user))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        crate::helpers::SMALL.len()
    );
}

#[tokio::test]
async fn other_services_search_over_nats() {
    let app = spawn_app().await;
    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let as_service = |name: &str| {
        Bus::new(
            client.clone(),
            platform::auth::InternalAuth::development(name).unwrap(),
            "",
            Duration::from_secs(10),
        )
    };
    let social = as_service("social");
    let reply: Value = social
        .request(
            guidance::knowledge::SEARCH_SUBJECT,
            None,
            &CallContext::default(),
            &json!({"q": "Shani in 7th bhava affects marriage", "k": 3}),
        )
        .await
        .unwrap();
    let http: Value = app
        .http
        .get(app.url(&format!(
            "{SEARCH}?q={}&k=3",
            enc("Shani in 7th bhava affects marriage")
        )))
        .header("X-Internal-Token", app.user().token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply, http);
    // Media may too; charts may not.
    let media = as_service("media");
    let r: Result<Value, _> = media
        .request(
            guidance::knowledge::SEARCH_SUBJECT,
            None,
            &CallContext::default(),
            &json!({"q": "ekadashi", "domain": "observance"}),
        )
        .await;
    assert_eq!(r.unwrap()["results"][0]["id"], "observance-ekadashi");
    let charts = as_service("charts");
    let e = charts
        .request::<_, Value>(
            guidance::knowledge::SEARCH_SUBJECT,
            None,
            &CallContext::default(),
            &json!({"q": "saturn"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code.http_status(), 403);
    for (body, field) in [
        (json!({"q": "sat\u{0000}urn"}), "q"),
        (json!({"q": "saturn", "k": 0}), "k"),
        (json!({"q": "saturn", "k": 21}), "k"),
        (json!({"q": "saturn", "domain": "astronomy"}), "domain"),
    ] {
        let e = social
            .request::<_, Value>(
                guidance::knowledge::SEARCH_SUBJECT,
                None,
                &CallContext::default(),
                &body,
            )
            .await
            .unwrap_err();
        assert_eq!(
            (e.code.http_status(), e.field.as_deref()),
            (422, Some(field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn every_replica_sees_an_admin_edit() {
    let a = spawn_app().await;
    let b = spawn_with(Options {
        database_url: Some(a.database_url.clone()),
        nats_url: Some(a.nats_url.clone()),
        seed: false,
        ..Default::default()
    })
    .await;
    assert_eq!(
        b.state.retriever.stats().entries,
        crate::helpers::SMALL.len()
    );
    let r = a
        .send_json(
            Method::POST,
            "/api/v1/admin/guidance/knowledge",
            Some(&a.admin()),
            &json!({
                "id": "observance-kolam",
                "domain": "observance",
                "title": "Drawing the kolam at the threshold",
                "tags": ["kolam", "rangoli", "threshold", "morning"],
                "body": "A kolam of rice flour drawn at the threshold each morning welcomes the day and feeds small creatures."
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let state = b.state.clone();
    assert!(
        testkit::wait_until(Duration::from_secs(10), || {
            let s = state.clone();
            async move { s.retriever.stats().entries == crate::helpers::SMALL.len() + 1 }
        })
        .await,
        "replica b did not reload"
    );
    assert_eq!(
        b.search_ids("rice flour kolam at the door").await[0],
        "observance-kolam"
    );
}

#[tokio::test]
async fn a_charts_own_placements() {
    let app = spawn_app().await;
    let p = |graha: &str, house: Option<u8>, sign: Option<&str>, nak: Option<&str>| Placement {
        graha: graha.into(),
        house,
        sign: sign.map(Into::into),
        nakshatra: nak.map(Into::into),
    };
    let hits = app
        .state
        .retriever
        .placements(&[
            p("Saturn", Some(7), Some("Tula"), None),
            p("moon", Some(4), Some("vrishabha"), Some("rohini")),
            p("sun", Some(10), Some("Aries"), Some("ashwini")),
            p("jupiter", Some(2), Some("karka"), None),
        ])
        .await
        .unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "saturn-in-house-7",
            "moon-in-house-4",
            "nakshatra-rohini",
            "sun-in-aries",
            "jupiter-in-cancer"
        ]
    );
    assert!(hits.iter().all(|h| !h.text.is_empty()));
    assert!(app
        .state
        .retriever
        .placements(&[])
        .await
        .unwrap()
        .is_empty());
}
