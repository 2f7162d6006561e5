use crate::helpers::*;
use serde_json::{json, Value};

async fn rejects(app: &TestApp, who: &Caller, body: Value, field: &str) -> String {
    let r = app.post("/api/v1/charts", Some(who), &body).await;
    let (status, e) = error(r).await;
    assert_eq!(status, 422, "{body} -> {e}");
    assert_eq!(e["code"], "validation_failed", "{body} -> {e}");
    assert_eq!(e["field"], field, "{body} -> {e}");
    e["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_invalid_birth_is_a_clear_422_and_nothing_is_cached() {
    let app = spawn_app().await;
    let u = app.user();
    let b = |v: Value| json!({ "birth": v });

    // Dates outside the proven range, and malformed dates.
    let m = rejects(
        &app,
        &u,
        b(json!({"date": "1899-12-31", "time": "12:00", "place_id": CHENNAI})),
        "birth.date",
    )
    .await;
    assert!(m.contains("1900-01-01") && m.contains("2050-12-31"), "{m}");
    rejects(
        &app,
        &u,
        b(json!({"date": "2051-01-01", "time": "12:00", "place_id": CHENNAI})),
        "birth.date",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-02-30", "time": "12:00", "place_id": CHENNAI})),
        "birth.date",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "01/05/1990", "time": "12:00", "place_id": CHENNAI})),
        "birth.date",
    )
    .await;
    // Times.
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "24:00", "place_id": CHENNAI})),
        "birth.time",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "6.30pm", "place_id": CHENNAI})),
        "birth.time",
    )
    .await;
    // Coordinates out of range.
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00", "lat": 90.5, "lon": 10.0, "tz": "UTC"})),
        "birth.lat",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00", "lat": 10.0, "lon": -180.01, "tz": "UTC"})),
        "birth.lon",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00", "lat": 10.0})),
        "birth.lon",
    )
    .await;
    // Places.
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00", "place_id": 1})),
        "birth.place_id",
    )
    .await;
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00"})),
        "birth.place_id",
    )
    .await;
    rejects(&app, &u, b(json!({"date": "1990-05-01", "time": "12:00", "place_id": CHENNAI, "lat": 1.0, "lon": 2.0})), "birth.place_id").await;
    // Mid-Pacific, no zone given and no place near.
    rejects(
        &app,
        &u,
        b(json!({"date": "1990-05-01", "time": "12:00", "lat": -40.0, "lon": -130.0})),
        "birth.tz",
    )
    .await;
    // Unknown zones.
    let m = rejects(&app, &u, b(json!({"date": "1990-05-01", "time": "12:00", "place_id": CHENNAI, "tz": "Asia/Madras City"})), "birth.tz").await;
    assert!(m.contains("Asia/Madras City"), "{m}");
    // Ambiguous local time (clocks set back in New York, 2021-11-07 02:00 EDT -> 01:00 EST).
    let m = rejects(&app, &u, b(json!({"date": "2021-11-07", "time": "01:30", "lat": 40.7128, "lon": -74.006, "tz": "America/New_York"})), "birth.time").await;
    assert!(
        m.contains("-04:00") && m.contains("-05:00") && m.contains("ambiguous"),
        "{m}"
    );
    // Nonexistent local time (clocks set forward, 2021-03-14 02:00 EST -> 03:00 EDT).
    let m = rejects(&app, &u, b(json!({"date": "2021-03-14", "time": "02:30", "lat": 40.7128, "lon": -74.006, "tz": "America/New_York"})), "birth.time").await;
    assert!(
        m.contains("does not exist") && m.contains("-05:00") && m.contains("-04:00"),
        "{m}"
    );
    // Options.
    let opts = |o: Value| json!({"birth": {"date": "1990-05-01", "time": "12:00", "place_id": CHENNAI}, "options": o});
    rejects(
        &app,
        &u,
        opts(json!({"ayanamsa": "fagan"})),
        "options.ayanamsa",
    )
    .await;
    rejects(
        &app,
        &u,
        opts(json!({"house_system": "koch"})),
        "options.house_system",
    )
    .await;
    rejects(
        &app,
        &u,
        opts(json!({"node": "osculating"})),
        "options.node",
    )
    .await;
    rejects(
        &app,
        &u,
        opts(json!({"zodiac": "draconic"})),
        "options.zodiac",
    )
    .await;
    rejects(
        &app,
        &u,
        opts(json!({"divisional": ["D5"]})),
        "options.divisional",
    )
    .await;
    // Placidus is undefined near the poles: the engine's error, as a 422 on the option.
    let m = rejects(&app, &u, json!({"birth": {"date": "1990-05-01", "time": "12:00", "lat": 78.2232, "lon": 15.6267, "tz": "Arctic/Longyearbyen"}, "options": {"house_system": "placidus"}}), "options.house_system").await;
    assert!(m.contains("Placidus"), "{m}");

    // Malformed bodies: 400 naming the field.
    let r = app
        .post(
            "/api/v1/charts",
            Some(&u),
            &json!({"birth": {"date": "1990-05-01", "time": "12:00", "place_id": "chennai"}}),
        )
        .await;
    let (s, e) = error(r).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("malformed_json")));
    let r = app.post("/api/v1/charts", Some(&u), &json!({"birth": {"date": "1990-05-01", "time": "12:00", "place_id": CHENNAI, "color": "red"}})).await;
    assert_eq!(r.status(), 400);

    // Nothing was computed or cached.
    let s = app.stats().await;
    assert!(
        s["computations"].as_u64().unwrap() <= 1,
        "only the Placidus case reaches the engine: {s}"
    );
    assert_eq!(s["lru_size"], 0);
    assert_eq!(app.rows().await, 0);
    // ... except the Placidus case, which reached the engine and failed there: still no row.

    // The ambiguous time resolves when the client chooses.
    let c = app
        .chart(&u, &json!({"birth": {"date": "2021-11-07", "time": "01:30", "lat": 40.7128, "lon": -74.006, "tz": "America/New_York", "disambiguation": "earlier"}}))
        .await;
    assert_eq!(c["input"]["utc"], "2021-11-07T05:30:00Z");
    assert_eq!(c["input"]["utc_offset"], "-04:00");
    let c = app
        .chart(&u, &json!({"birth": {"date": "2021-11-07", "time": "01:30", "lat": 40.7128, "lon": -74.006, "tz": "America/New_York", "disambiguation": "later"}}))
        .await;
    assert_eq!(c["input"]["utc"], "2021-11-07T06:30:00Z");
    assert_eq!(c["input"]["utc_offset"], "-05:00");
}
