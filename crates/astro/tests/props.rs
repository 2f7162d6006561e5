//! Property tests: node symmetry, nakshatra/pada consistency, time-zone round trips.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

use astro::vedic::NakshatraPada;
use astro::{
    civil_to_utc, compute_chart, parse_zone, ChartOptions, Disambiguation, GrahaPosition, NodeKind,
    TimeError,
};
use chrono::{DateTime, Duration, LocalResult, TimeZone, Utc};
use proptest::prelude::*;

fn opposite_ok(r: &GrahaPosition, k: &GrahaPosition) {
    let d = (k.lon - r.lon).rem_euclid(360.0);
    assert!((d - 180.0).abs() < 1e-9, "ketu - rahu = {d}");
    assert_eq!(k.lat, -r.lat);
    assert_eq!(k.speed, r.speed);
}

fn consistent(p: &GrahaPosition) {
    let g = (p.lon * 108.0 / 360.0).floor() as u8;
    assert_eq!(p.sign, (p.lon / 30.0).floor() as u8);
    assert_eq!(p.nakshatra, g / 4);
    assert_eq!(p.pada, g % 4 + 1);
    assert_eq!(p.retrograde, p.speed < 0.0);
    let np = NakshatraPada::from_longitude(p.lon);
    assert_eq!((np.index, np.pada), (p.nakshatra, p.pada));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ketu_opposite_rahu_and_nakshatras_agree(jd in 2_415_020.5f64..2_469_807.5, lat in -60.0f64..60.0, lon in -180.0f64..180.0, true_node in any::<bool>()) {
        let opts = ChartOptions { node: if true_node { NodeKind::True } else { NodeKind::Mean }, ..ChartOptions::default() };
        let c = compute_chart(jd, lat, lon, &opts).expect("chart");
        let g = &c.grahas;
        opposite_ok(&g.rahu, &g.ketu);
        opposite_ok(&g.mean_rahu, &g.mean_ketu);
        opposite_ok(&g.true_rahu, &g.true_ketu);
        for p in [g.sun, g.moon, g.mercury, g.venus, g.mars, g.jupiter, g.saturn, g.rahu, g.ketu, g.true_rahu, g.true_ketu] {
            consistent(&p);
        }
        let a = c.ascendant;
        let ga = (a.lon * 108.0 / 360.0).floor() as u8;
        prop_assert_eq!((a.nakshatra, a.pada, a.sign), (ga / 4, ga % 4 + 1, (a.lon / 30.0).floor() as u8));
        prop_assert_eq!(c.nakshatra.index, g.moon.nakshatra);
        prop_assert_eq!(c.nakshatra.pada, g.moon.pada);
        prop_assert_eq!(c.dasha.lord, c.nakshatra.lord);
        prop_assert_eq!(c.houses.whole_sign[0], (a.lon / 30.0).floor() * 30.0);
        prop_assert_eq!(c.tithi.index, ((g.moon.lon - g.sun.lon).rem_euclid(360.0) / 12.0).floor() as u8 + 1);
    }

    #[test]
    fn civil_time_round_trips(secs in -2_208_988_800i64..2_524_608_000, zi in 0usize..6) {
        let zones = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "America/Santiago", "Europe/Berlin"];
        let tz = parse_zone(zones[zi]).expect("zone");
        let utc = DateTime::<Utc>::from_timestamp(secs, 0).expect("instant");
        let local = utc.with_timezone(&tz).naive_local();
        let (d, t) = (local.date(), local.time());
        match tz.from_local_datetime(&local) {
            LocalResult::Single(_) => {
                prop_assert_eq!(civil_to_utc(d, t, tz, Disambiguation::Reject).expect("single"), utc);
            }
            LocalResult::Ambiguous(_, _) => {
                // DST fold: Reject names both candidates, one is the original instant
                match civil_to_utc(d, t, tz, Disambiguation::Reject) {
                    Err(TimeError::Ambiguous { earlier, later, .. }) => {
                        prop_assert!(earlier < later);
                        prop_assert!(earlier == utc || later == utc);
                        prop_assert_eq!(civil_to_utc(d, t, tz, Disambiguation::Earlier).expect("earlier"), earlier);
                        prop_assert_eq!(civil_to_utc(d, t, tz, Disambiguation::Later).expect("later"), later);
                    }
                    other => prop_assert!(false, "expected Ambiguous, got {:?}", other),
                }
            }
            LocalResult::None => prop_assert!(false, "a local time read from an instant must exist"),
        }
    }

    #[test]
    fn dst_gaps_are_rejected_with_candidates(day in 0i64..60, minute in 0i64..60) {
        // New York springs forward at 02:00 on the second Sunday of March (since 2007): 02:00-02:59 does not exist.
        let tz = parse_zone("America/New_York").expect("zone");
        let year = 2007 + day % 30;
        let mut d = chrono::NaiveDate::from_ymd_opt(year as i32, 3, 8).expect("date");
        while chrono::Datelike::weekday(&d) != chrono::Weekday::Sun { d = d.succ_opt().expect("next day"); }
        let t = chrono::NaiveTime::from_hms_opt(2, minute as u32, 0).expect("time");
        match civil_to_utc(d, t, tz, Disambiguation::Reject) {
            Err(TimeError::Nonexistent { before_offset, after_offset, .. }) => {
                // EST (-5 h) reading is one hour after the EDT (-4 h) reading
                prop_assert_eq!(before_offset - after_offset, Duration::hours(1));
                let e = civil_to_utc(d, t, tz, Disambiguation::Earlier).expect("earlier");
                let l = civil_to_utc(d, t, tz, Disambiguation::Later).expect("later");
                prop_assert_eq!(e, after_offset);
                prop_assert_eq!(l, before_offset);
                // both candidates map back to real local times 1 h apart around the gap
                let le = e.with_timezone(&tz).naive_local();
                let ll = l.with_timezone(&tz).naive_local();
                prop_assert_eq!(ll - le, Duration::hours(2));
            }
            other => prop_assert!(false, "expected Nonexistent, got {:?}", other),
        }
    }
}
