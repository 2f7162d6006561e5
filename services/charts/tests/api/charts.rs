use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_known_birth_matches_the_engine_and_is_then_served_from_the_cache() {
    let app = spawn_app().await;
    let alice = app.user();
    let body = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": CHENNAI, "tz": "Asia/Kolkata"},
                      "options": {"divisional": ["D9", "d10"]}});
    let first = app.chart(&alice, &body).await;
    assert_eq!(first["cached"], false);
    let input = &first["input"];
    assert_eq!(input["tz"], "Asia/Kolkata");
    assert_eq!(input["utc"], "1990-05-01T01:00:00Z");
    assert_eq!(input["utc_offset"], "+05:30");
    assert_eq!(input["time"], "06:30:00");
    assert_eq!(input["lat"], 13.0878);
    assert_eq!(input["lon"], 80.2785);
    assert_eq!(input["place"]["name"], "Chennai");
    assert_eq!(input["options"]["divisional"], json!(["d9", "d10"]));

    // The engine's own result for the same civil time, zone and (rounded) place.
    let direct = astro::compute_chart_civil(
        chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap(),
        "Asia/Kolkata",
        astro::Disambiguation::Reject,
        13.0878,
        80.2785,
        &astro::ChartOptions::default(),
    )
    .unwrap();
    let direct = serde_json::to_value(direct).unwrap();
    let chart = &first["chart"];
    for (k, v) in direct.as_object().unwrap() {
        assert_eq!(&chart[k], v, "chart.{k} differs from the engine");
    }
    assert!(chart["analysis"]["grahas"].as_array().unwrap().len() == 9);
    assert!(chart["vargas"]["d9"]["grahas"].is_array());
    assert!(chart["vargas"]["d10"]["grahas"].is_array());
    assert_eq!(
        chart["vimshottari"]["mahadashas"].as_array().unwrap().len(),
        9
    );
    assert!(chart["engine_version"].is_string());

    // Identical request: cached, same row, same chart.
    let second = app.chart(&alice, &body).await;
    assert_eq!(second["cached"], true);
    assert_eq!(second["chart_id"], first["chart_id"]);
    assert_eq!(second["chart"], first["chart"]);
    // The same instant and place given with coordinates and a numeric-looking
    // option order hits the same key.
    let by_coords = json!({"birth": {"date": "1990-05-01", "time": "06:30:00", "lat": 13.08784, "lon": 80.27847, "tz": "Asia/Kolkata"},
                           "options": {"divisional": ["D10", 9, "D9"]}});
    let third = app.chart(&alice, &by_coords).await;
    assert_eq!(third["cached"], true);
    assert_eq!(third["chart_id"], first["chart_id"]);
    assert_eq!(app.rows().await, 1);
    let stats = app.stats().await;
    assert_eq!(stats["computations"], 1);
    assert_eq!(stats["hits_memory"], 2);

    // The row holds the chart as JSONB; hit counts reach it.
    let db = app.db().await;
    let chart_id: uuid::Uuid = first["chart_id"].as_str().unwrap().parse().unwrap();
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(5), || async {
            let r = db
                .query_one(
                    "SELECT hits, chart->'grahas'->'moon'->>'lon' FROM charts.chart_cache WHERE id = $1",
                    &[&chart_id],
                )
                .await
                .unwrap();
            r.get::<_, i64>(0) == 2
        })
        .await,
        "hit count not flushed"
    );

    // GET by id returns the same chart to its owner; 404 to anyone else.
    let id = first["chart_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/charts/{id}"), Some(&alice)).await;
    assert_eq!(r.status(), 200);
    let got: serde_json::Value = r.json().await.unwrap();
    assert_eq!(got["chart"], first["chart"]);
    let bob = app.user();
    let (status, e) = error(app.get(&format!("/api/v1/charts/{id}"), Some(&bob)).await).await;
    assert_eq!((status, e["code"].as_str().unwrap()), (404, "not_found"));
    let (status, _) = error(
        app.get(&format!("/api/v1/charts/{id}/dashas"), Some(&bob))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    // ... until Bob computes the same chart himself.
    let bobs = app.chart(&bob, &body).await;
    assert_eq!(bobs["cached"], true);
    assert_eq!(bobs["chart_id"], first["chart_id"]);
    assert_eq!(
        app.get(&format!("/api/v1/charts/{id}"), Some(&bob))
            .await
            .status(),
        200
    );
    // Without identity: 401.
    let (status, _) = error(app.get(&format!("/api/v1/charts/{id}"), None).await).await;
    assert_eq!(status, 401);
    let (status, _) = error(app.post("/api/v1/charts", None, &body).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn dashas_name_the_running_periods() {
    let app = spawn_app().await;
    let alice = app.user();
    let c = app
        .chart(&alice, &chennai_birth("1985-11-20", "21:15"))
        .await;
    let id = c["chart_id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/v1/charts/{id}/dashas?at=2024-06-01T00:00:00Z"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status(), 200);
    let d: serde_json::Value = r.json().await.unwrap();
    let running = &d["running"];
    for level in ["mahadasha", "antardasha", "pratyantardasha"] {
        let p = &running[level];
        assert!(p["lord"].is_string(), "{level}: {d}");
        assert!(p["start"].as_str().unwrap() <= "2024-06-01T00:00:00Z");
        assert!(p["end"].as_str().unwrap() > "2024-06-01T00:00:00Z");
    }
    assert_eq!(d["balance"]["lord"], c["chart"]["dasha"]["lord"]);
    let mahas = d["mahadashas"].as_array().unwrap();
    assert!(mahas.len() >= 9);
    assert_eq!(mahas[0]["antardashas"].as_array().unwrap().len(), 9);
    // A date works too; a bad instant is a 422 naming `at`.
    let r = app
        .get(
            &format!("/api/v1/charts/{id}/dashas?at=2030-01-01"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (status, e) = error(
        app.get(
            &format!("/api/v1/charts/{id}/dashas?at=someday"),
            Some(&alice),
        )
        .await,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("at")));
    // Unknown or malformed ids: 404.
    let r = app
        .get(
            &format!("/api/v1/charts/{}/dashas", uuid::Uuid::now_v7()),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.get("/api/v1/charts/not-a-uuid", Some(&alice))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn compatibility_scores_two_charts_or_profiles() {
    let app = spawn_app().await;
    let alice = app.user();
    let boy = app
        .chart(&alice, &chennai_birth("1988-03-14", "10:20"))
        .await;
    let girl = app
        .chart(&alice, &chennai_birth("1991-07-02", "23:05"))
        .await;
    let r = app
        .post(
            "/api/v1/charts/compatibility",
            Some(&alice),
            &json!({"boy": {"chart_id": boy["chart_id"]}, "girl": {"chart_id": girl["chart_id"]}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let m: serde_json::Value = r.json().await.unwrap();
    let expected = astro::vedic::ashtakoota(
        boy["chart"]["grahas"]["moon"]["lon"].as_f64().unwrap(),
        girl["chart"]["grahas"]["moon"]["lon"].as_f64().unwrap(),
    );
    assert_eq!(m["ashtakoota"], serde_json::to_value(&expected).unwrap());
    assert_eq!(m["ashtakoota"]["kootas"].as_array().unwrap().len(), 8);
    let total = m["ashtakoota"]["total"].as_f64().unwrap();
    assert!((0.0..=36.0).contains(&total));
    assert!(m["boy"]["kuja_dosha"]["present"].is_boolean());

    // A profile and inline birth details work as sides too.
    let r = app
        .post(
            "/api/v1/profiles",
            Some(&alice),
            &json!({"name": "Partner", "relation": "partner", "birth": {"date": "1991-07-02", "time": "23:05", "place_id": CHENNAI}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let prof: serde_json::Value = r.json().await.unwrap();
    let r = app
        .post(
            "/api/v1/charts/compatibility",
            Some(&alice),
            &json!({"groom": {"birth": {"date": "1988-03-14", "time": "10:20", "place_id": CHENNAI}},
                    "bride": {"profile_id": prof["id"]}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let m2: serde_json::Value = r.json().await.unwrap();
    assert_eq!(m2["ashtakoota"], m["ashtakoota"]);

    // Someone else's chart or profile: 404. Ambiguous sides: 422.
    let bob = app.user();
    let r = app
        .post(
            "/api/v1/charts/compatibility",
            Some(&bob),
            &json!({"boy": {"chart_id": boy["chart_id"]}, "girl": {"chart_id": girl["chart_id"]}}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .post(
            "/api/v1/charts/compatibility",
            Some(&bob),
            &json!({"boy": {"profile_id": prof["id"]}, "girl": {"chart_id": girl["chart_id"]}}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let (status, e) = error(
        app.post(
            "/api/v1/charts/compatibility",
            Some(&alice),
            &json!({"boy": {"chart_id": boy["chart_id"], "profile_id": prof["id"]}, "girl": {"chart_id": girl["chart_id"]}}),
        )
        .await,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("boy")));
}
