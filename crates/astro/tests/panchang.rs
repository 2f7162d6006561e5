//! Sunrise/sunset against the reference data and panchang end-time searches.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

use astro::ephem::{Body, Epoch};
use astro::math::{diff180, DEG};
use astro::{limb_end, vedic_day, Ayanamsa, Limb};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/astro/sample.jsonl"
);

#[test]
fn sunrises_match_the_reference_within_a_minute() {
    let text = std::fs::read_to_string(SAMPLE).expect("reference sample");
    let mut worst: f64 = 0.0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: serde_json::Value = serde_json::from_str(line).expect("json");
        let jd = r["jd_ut"].as_f64().expect("jd");
        let lat = r["lat"].as_f64().expect("lat");
        let lon = r["lon"].as_f64().expect("lon");
        let d = vedic_day(jd, lat, lon).expect("vedic day");
        let rise = r["vara"]["sunrise_jd_ut"].as_f64().expect("sunrise");
        let next = r["vara"]["next_sunrise_jd_ut"]
            .as_f64()
            .expect("next sunrise");
        worst = worst.max((d.sunrise_jd_ut - rise).abs() * 86_400.0);
        worst = worst.max((d.next_sunrise_jd_ut - next).abs() * 86_400.0);
        assert_eq!(
            i64::from(d.index),
            r["vara"]["index"].as_i64().expect("vara")
        );
        assert!(d.sunrise_jd_ut <= jd && jd < d.next_sunrise_jd_ut);
        assert!(d.sunrise_jd_ut < d.sunset_jd_ut && d.sunset_jd_ut < d.next_sunrise_jd_ut);
        let rk = d.rahu_kalam;
        assert!(rk.start_jd_ut >= d.sunrise_jd_ut && rk.end_jd_ut <= d.sunset_jd_ut + 1e-9);
        assert!(
            ((rk.end_jd_ut - rk.start_jd_ut) - (d.sunset_jd_ut - d.sunrise_jd_ut) / 8.0).abs()
                < 1e-9
        );
    }
    assert!(worst < 60.0, "worst sunrise difference {worst} s");
}

fn angle(limb: Limb, jd: f64) -> f64 {
    let ep = Epoch::new(jd);
    let ay = astro::ayanamsa::mean_ayanamsa(Ayanamsa::Lahiri, ep.t);
    let m = ep.apparent(Body::Moon).lon / DEG - ay;
    let s = ep.apparent(Body::Sun).lon / DEG - ay;
    match limb {
        Limb::Nakshatra => m,
        Limb::Yoga => m + s,
        Limb::Tithi | Limb::Karana => m - s,
    }
}

#[test]
fn limb_end_times_land_on_boundaries() {
    for (i, jd0) in [2_451_545.0, 2_440_000.3, 2_460_400.7, 2_420_123.9]
        .iter()
        .enumerate()
    {
        for (limb, span, max_days) in [
            (Limb::Tithi, 12.0, 1.2),
            (Limb::Karana, 6.0, 0.7),
            (Limb::Nakshatra, 360.0 / 27.0, 1.3),
            (Limb::Yoga, 360.0 / 27.0, 1.2),
        ] {
            let (idx, end) = limb_end(limb, *jd0, Ayanamsa::Lahiri).expect("end");
            assert!(
                end > *jd0 && end - jd0 < max_days,
                "case {i} {limb:?}: {}",
                end - jd0
            );
            let a = angle(limb, end);
            let to_boundary = diff180(a, (a / span).round() * span);
            assert!(
                to_boundary.abs() < 1e-5,
                "{limb:?} ends {to_boundary}° off a boundary"
            );
            // just before the end we are still in index `idx`
            let before = angle(limb, end - 1e-3).rem_euclid(360.0);
            assert_eq!((before / span).floor() as u32, idx, "{limb:?}");
        }
    }
}
