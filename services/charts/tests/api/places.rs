use crate::helpers::*;

#[tokio::test]
async fn places_are_found_by_prefix_of_names_and_alternate_names() {
    let app = spawn_app().await;
    // Public: no identity needed.
    let r = app.get("/api/v1/places?q=chen&limit=10", None).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let places = v["places"].as_array().unwrap();
    assert!(!places.is_empty() && places.len() <= 10);
    let pops: Vec<u64> = places
        .iter()
        .map(|p| p["population"].as_u64().unwrap())
        .collect();
    assert!(
        pops.windows(2).all(|w| w[0] >= w[1]),
        "ranked by population"
    );
    let chennai = places
        .iter()
        .find(|p| p["id"] == CHENNAI)
        .expect("Chennai found");
    assert_eq!(chennai["tz"], "Asia/Kolkata");
    assert_eq!(chennai["country"], "IN");

    // An alternate name, in another case.
    let v: serde_json::Value = app
        .get("/api/v1/places?q=MADRAS", None)
        .await
        .json()
        .await
        .unwrap();
    let first = &v["places"][0];
    assert_eq!(first["id"], CHENNAI);
    assert_eq!(first["matched_name"], "Madras");

    // Diacritics are ignored both ways.
    for q in ["sao%20paulo", "s%C3%A3o%20pa", "zuri", "z%C3%BCrich"] {
        let v: serde_json::Value = app
            .get(&format!("/api/v1/places?q={q}&limit=1"), None)
            .await
            .json()
            .await
            .unwrap();
        let name = v["places"][0]["name"].as_str().unwrap_or("").to_owned();
        assert!(name == "São Paulo" || name == "Zürich", "{q} -> {name}");
    }
    // Each place once, however many of its names match.
    let v: serde_json::Value = app
        .get("/api/v1/places?q=m&limit=50", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = v["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let mut dedup = ids.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(ids.len(), 50);
    assert_eq!(dedup.len(), 50);

    // No match is an empty list.
    let v: serde_json::Value = app
        .get("/api/v1/places?q=qqqxxzz", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["places"].as_array().unwrap().len(), 0);

    // By id.
    let r = app.get(&format!("/api/v1/places/{CHENNAI}"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["name"],
        "Chennai"
    );
    assert_eq!(app.get("/api/v1/places/1", None).await.status(), 404);

    // Validation.
    let (s, e) = error(app.get("/api/v1/places?q=", None).await).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("q")));
    let (s, e) = error(app.get("/api/v1/places?q=ab&limit=0", None).await).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("limit")));
    let (s, e) = error(app.get("/api/v1/places?q=ab&limit=1000", None).await).await;
    assert_eq!((s, e["field"].as_str()), (422, Some("limit")));
}

#[tokio::test]
async fn a_search_takes_a_few_milliseconds() {
    let app = spawn_app().await;
    let g = &app.app_state.places;
    let started = std::time::Instant::now();
    let queries = ["a", "ch", "new", "san", "mumb", "los ang", "be", "kol"];
    for q in queries {
        assert!(!g.search(q, 10).is_empty(), "{q}");
    }
    let per_query = started.elapsed() / queries.len() as u32;
    // Generous for debug builds on a shared machine; release is well under 1 ms.
    assert!(
        per_query.as_millis() < 50,
        "search took {per_query:?} per query"
    );
}
