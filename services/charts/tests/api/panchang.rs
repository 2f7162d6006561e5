use crate::helpers::*;

#[tokio::test]
async fn panchang_for_a_place_and_date() {
    let app = spawn_app().await;
    let r = app
        .get(
            &format!("/api/v1/panchang?date=2024-01-15&place_id={CHENNAI}"),
            None,
        )
        .await;
    let status = r.status();
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["tz"], "Asia/Kolkata");
    assert_eq!(p["date"], "2024-01-15");
    // 2024-01-15 was a Monday.
    assert_eq!(p["vara"]["index"], 1);
    let sunrise = p["sunrise"].as_str().unwrap();
    let sunset = p["sunset"].as_str().unwrap();
    assert!(sunrise.starts_with("2024-01-15T06:"), "{sunrise}");
    assert!(sunrise.ends_with("+05:30"));
    assert!(sunset.starts_with("2024-01-15T18:"), "{sunset}");
    let rk = &p["rahu_kalam"];
    assert!(rk["start"].as_str().unwrap() > sunrise && rk["end"].as_str().unwrap() < sunset);
    for limb in ["tithi", "nakshatra", "yoga", "karana"] {
        let ends = p[limb]["ends_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{limb}: {p}"));
        assert!(ends > sunrise, "{limb} ends after sunrise");
        assert!(
            p[limb]["name"].is_string() || p[limb]["nakshatra"].is_string(),
            "{limb}: {p}"
        );
    }
    // Cross-check the tithi with the engine directly at the reported sunrise.
    let sunrise_utc = chrono::DateTime::parse_from_rfc3339(sunrise)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let c = astro::compute_chart(
        astro::jd_from_utc(&sunrise_utc),
        13.0878,
        80.2785,
        &astro::ChartOptions::default(),
    )
    .unwrap();
    let t = astro::vedic::tithi(c.grahas.sun.lon, c.grahas.moon.lon);
    assert_eq!(p["tithi"]["index"], t.index);

    // Coordinates with an explicit zone work too.
    let r = app
        .get(
            "/api/v1/panchang?date=2024-06-21&lat=51.5074&lon=-0.1278&tz=Europe/London",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: serde_json::Value = r.json().await.unwrap();
    assert!(
        p["sunrise"]
            .as_str()
            .unwrap()
            .starts_with("2024-06-21T04:4"),
        "{p}"
    );

    // Validation names the parameter.
    for (q, field) in [
        ("date=2024-01-15", "place_id"),
        (&format!("place_id={CHENNAI}")[..], "date"),
        (&format!("date=2024-13-01&place_id={CHENNAI}")[..], "date"),
        (&format!("date=1850-01-01&place_id={CHENNAI}")[..], "date"),
        ("date=2024-01-15&place_id=1", "place_id"),
        ("date=2024-01-15&lat=95&lon=0", "lat"),
        ("date=2024-01-15&lat=10&lon=0&tz=Mars/Base", "tz"),
    ] {
        let (s, e) = error(app.get(&format!("/api/v1/panchang?{q}"), None).await).await;
        assert_eq!((s, e["field"].as_str()), (422, Some(field)), "{q}: {e}");
    }
}
