//! Property tests: every rule is re-derived here independently of the
//! implementation (different formulation where possible) and checked on
//! arbitrary inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use astro_vedic::dasha::{vimshottari_position, VIMSHOTTARI_TOTAL_YEARS};
use astro_vedic::matching::{ashtakoota, KootaKind};
use astro_vedic::panchang::{karana_of_number, KaranaName};
use astro_vedic::*;
use proptest::prelude::*;

const LORDS: [&str; 9] = [
    "ketu", "venus", "sun", "moon", "mars", "rahu", "jupiter", "saturn", "mercury",
];
const YEARS: [f64; 9] = [7.0, 20.0, 6.0, 10.0, 7.0, 18.0, 16.0, 19.0, 17.0];

fn year_length() -> impl Strategy<Value = YearLength> {
    prop_oneof![
        Just(YearLength::Julian),
        Just(YearLength::Gregorian),
        Just(YearLength::Sidereal),
        Just(YearLength::Savana),
    ]
}

/// Distance of `x` to the nearest integer.
fn frac_dist(x: f64) -> f64 {
    (x - x.round()).abs()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nakshatra_pada_sign_agree_with_longitude(lon in 0.0f64..360.0) {
        let np = NakshatraPada::from_longitude(lon);
        let span = 40.0 / 3.0; // 13°20'
        let start = f64::from(np.index) * span;
        prop_assert_eq!(np.index as usize, np.nakshatra.index());
        prop_assert!(np.index < 27 && (1..=4).contains(&np.pada));
        // Containment, with a tolerance for rounding at the boundaries.
        prop_assert!(lon >= start - 1e-9 && lon < start + span + 1e-9, "{lon} {start}");
        let pstart = start + f64::from(np.pada - 1) * (span / 4.0);
        prop_assert!(lon >= pstart - 1e-9 && lon < pstart + span / 4.0 + 1e-9);
        // Lord is the Vimshottari lord by index mod 9.
        prop_assert_eq!(np.lord.name(), LORDS[np.index as usize % 9]);
        let sp = SignPosition::from_longitude(lon);
        prop_assert!(f64::from(sp.sign_index) * 30.0 <= lon + 1e-9);
        prop_assert!(lon < f64::from(sp.sign_index) * 30.0 + 30.0 + 1e-9);
        prop_assert!((0.0..30.0).contains(&sp.degree));
        prop_assert!((f64::from(sp.sign_index) * 30.0 + sp.degree - lon).abs() < 1e-9);
    }

    #[test]
    fn arbitrary_input_is_normalised(lon in -1.0e6f64..1.0e6) {
        let n = norm_deg(lon);
        prop_assert!((0.0..360.0).contains(&n));
        prop_assert_eq!(NakshatraPada::from_longitude(lon), NakshatraPada::from_longitude(n));
        prop_assert_eq!(Rashi::from_longitude(lon), Rashi::from_longitude(n));
    }

    #[test]
    fn dasha_balance_follows_reference_formula(moon in 0.0f64..360.0) {
        let b = dasha_balance(moon);
        let x = moon * 27.0 / 360.0;
        let nak = x.floor();
        let i = nak as usize % 9;
        prop_assert_eq!(b.lord.name(), LORDS[i]);
        prop_assert_eq!(b.years, YEARS[i]);
        prop_assert!((b.fraction_elapsed - (x - nak)).abs() < 1e-12);
        prop_assert!((b.balance_years - (1.0 - (x - nak)) * YEARS[i]).abs() < 1e-9);
        prop_assert!(b.balance_years > 0.0 && b.balance_years <= YEARS[i]);
    }

    #[test]
    fn dasha_periods_tile_without_gaps(
        moon in 0.0f64..360.0,
        birth in 2_415_020.0f64..2_470_000.0,
        yl in year_length(),
    ) {
        let v = Vimshottari::new(moon, birth, yl);
        let d = yl.days();
        prop_assert_eq!(v.mahadashas.len(), 9);
        prop_assert_eq!(v.mahadashas[0].lord, v.balance.lord);
        prop_assert_eq!(v.mahadashas[0].start_jd_ut, v.cycle_start_jd_ut);
        prop_assert_eq!(v.mahadashas[8].end_jd_ut, v.cycle_end_jd_ut);
        prop_assert!((v.cycle_end_jd_ut - v.cycle_start_jd_ut - 120.0 * d).abs() < 1e-5);
        prop_assert!(v.cycle_start_jd_ut <= birth && birth < v.mahadashas[0].end_jd_ut);
        prop_assert!((v.mahadashas[0].end_jd_ut - (birth + v.balance.balance_years * d)).abs() < 1e-9);
        let maha_years: f64 = v.mahadashas.iter().map(|m| m.years).sum();
        prop_assert!((maha_years - VIMSHOTTARI_TOTAL_YEARS).abs() < 1e-9);
        check_level(&v.mahadashas, v.cycle_start_jd_ut, v.cycle_end_jd_ut, d, 120.0)?;
        for m in &v.mahadashas {
            prop_assert_eq!(m.level, DashaLevel::Mahadasha);
            prop_assert_eq!(m.sub_periods.len(), 9);
            prop_assert_eq!(m.sub_periods[0].lord, m.lord);
            check_level(&m.sub_periods, m.start_jd_ut, m.end_jd_ut, d, m.years)?;
            for a in &m.sub_periods {
                prop_assert_eq!(a.level, DashaLevel::Antardasha);
                prop_assert!((a.years - m.years * vimshottari_years(a.lord) / 120.0).abs() < 1e-12);
                prop_assert_eq!(a.sub_periods[0].lord, a.lord);
                check_level(&a.sub_periods, a.start_jd_ut, a.end_jd_ut, d, a.years)?;
                for p in &a.sub_periods {
                    prop_assert_eq!(p.level, DashaLevel::Pratyantardasha);
                    prop_assert!(p.sub_periods.is_empty());
                    prop_assert!((p.years - a.years * vimshottari_years(p.lord) / 120.0).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn running_period_contains_instant(
        moon in 0.0f64..360.0,
        birth in 2_415_020.0f64..2_470_000.0,
        offset_years in -150.0f64..400.0,
        yl in year_length(),
    ) {
        let v = Vimshottari::new(moon, birth, yl);
        let jd = birth + offset_years * yl.days();
        let r = v.running_at(jd).expect("some period runs at every finite instant");
        prop_assert!(r.mahadasha.contains(jd));
        prop_assert!(r.antardasha.contains(jd));
        prop_assert!(r.pratyantardasha.contains(jd));
        prop_assert!(r.mahadasha.start_jd_ut <= r.antardasha.start_jd_ut);
        prop_assert!(r.antardasha.end_jd_ut <= r.mahadasha.end_jd_ut);
        prop_assert!(r.antardasha.start_jd_ut <= r.pratyantardasha.start_jd_ut);
        prop_assert!(r.pratyantardasha.end_jd_ut <= r.antardasha.end_jd_ut);
        if (0.0..VIMSHOTTARI_TOTAL_YEARS).contains(&offset_years)
            && jd < v.cycle_end_jd_ut {
            // Inside the birth cycle it is one of the listed periods.
            let m = v.mahadashas.iter().find(|m| m.contains(jd)).unwrap();
            prop_assert_eq!(m.lord, r.mahadasha.lord);
        }
        // Birth instant runs the balance lord.
        let rb = v.running_at(birth).unwrap();
        prop_assert_eq!(rb.mahadasha.lord, v.balance.lord);
    }

    #[test]
    fn mahadashas_from_birth_cover_the_span(
        moon in 0.0f64..360.0,
        birth in 2_415_020.0f64..2_470_000.0,
        years in 1.0f64..200.0,
    ) {
        let v = Vimshottari::new(moon, birth, YearLength::Julian);
        let list = v.mahadashas_from_birth(years);
        prop_assert!(!list.is_empty());
        prop_assert!(list[0].start_jd_ut <= birth && birth < list[0].end_jd_ut);
        for w in list.windows(2) {
            prop_assert_eq!(w[0].end_jd_ut, w[1].start_jd_ut);
            prop_assert_eq!(
                (vimshottari_position(w[0].lord) + 1) % 9,
                vimshottari_position(w[1].lord)
            );
        }
        let until = birth + years * 365.25;
        let last = list.last().unwrap();
        prop_assert!(last.end_jd_ut >= until - 1e-6);
        prop_assert!(last.start_jd_ut < until);
    }

    #[test]
    fn vargas_follow_their_rules(lon in 0.0f64..360.0) {
        let s = (lon / 30.0).floor() as usize % 12;
        let deg = lon - s as f64 * 30.0;
        for v in Varga::ALL {
            let n = v.divisions() as f64;
            // Skip inputs within rounding distance of a part boundary.
            if frac_dist(deg * n / 30.0) < 1e-9 || frac_dist(lon / 30.0) < 1e-9 {
                continue;
            }
            let got = varga_sign(lon, v).index();
            let want = expected_varga(s, deg, v);
            prop_assert_eq!(got, want, "{:?} lon {}", v, lon);
        }
        // Continuous-formula identities (an independent formulation).
        if frac_dist(lon * 3.0 / 10.0) > 1e-9 {
            prop_assert_eq!(varga_sign(lon, Varga::D9).index(), (lon * 0.3).floor() as usize % 12);
        }
        if frac_dist(lon * 27.0 / 30.0) > 1e-9 {
            prop_assert_eq!(varga_sign(lon, Varga::D27).index(), (lon * 0.9).floor() as usize % 12);
        }
    }

    #[test]
    fn panchang_ranges(sun in 0.0f64..360.0, moon in 0.0f64..360.0) {
        let t = tithi(sun, moon);
        let k = karana(sun, moon);
        let y = nitya_yoga(sun, moon);
        prop_assert!((1..=30).contains(&t.index));
        prop_assert_eq!(t.paksha == Paksha::Shukla, t.index <= 15);
        prop_assert!((0.0..360.0).contains(&t.elongation));
        prop_assert!((0.0..=1.0).contains(&t.fraction_elapsed));
        prop_assert!((1..=60).contains(&k.number));
        // Each tithi holds karanas 2t-1 and 2t.
        prop_assert!(k.number == 2 * t.index - 1 || k.number == 2 * t.index);
        prop_assert!((1..=27).contains(&y.index));
        // Independent yoga formula: 800' per yoga.
        let sum_arcmin = (sun + moon).rem_euclid(360.0) * 60.0;
        if frac_dist(sum_arcmin / 800.0) > 1e-9 {
            prop_assert_eq!(u32::from(y.index), (sum_arcmin / 800.0).floor() as u32 + 1);
        }
        // Fixed karanas only at the ends of the lunar month.
        let fixed = !k.karana.is_movable();
        prop_assert_eq!(fixed, k.number == 1 || k.number >= 58);
        if k.number == 1 {
            prop_assert_eq!(k.karana, KaranaName::Kimstughna);
        }
        let limbs = panchang_limbs(sun, moon);
        prop_assert_eq!(limbs.nakshatra, NakshatraPada::from_longitude(moon));
    }

    #[test]
    fn limb_indices_agree_with_limbs(sun in prop::num::f64::ANY, moon in prop::num::f64::ANY) {
        // The non-allocating indices are the limbs' own numbers for any f64
        // (NaN and infinities included), and stay in range.
        let (ti, yi, ki) = (tithi_index(sun, moon), yoga_index(sun, moon), karana_index(sun, moon));
        prop_assert_eq!(ti, tithi(sun, moon).index);
        prop_assert_eq!(yi, nitya_yoga(sun, moon).index);
        prop_assert_eq!(ki, karana(sun, moon).number);
        prop_assert!((1..=30).contains(&ti));
        prop_assert!((1..=27).contains(&yi));
        prop_assert!((1..=60).contains(&ki));
        prop_assert_eq!(ki.div_ceil(2), ti);
    }

    #[test]
    fn limb_indices_match_formulas(sun in -1e4f64..1e4, moon in -1e4f64..1e4) {
        // Independent statement of each rule, away from the boundaries.
        let e = (moon - sun).rem_euclid(360.0);
        if frac_dist(e / 6.0) > 1e-9 {
            prop_assert_eq!(u32::from(tithi_index(sun, moon)), (e / 12.0).floor() as u32 + 1);
            prop_assert_eq!(u32::from(karana_index(sun, moon)), (e / 6.0).floor() as u32 + 1);
        }
        let sum_arcmin = (sun + moon).rem_euclid(360.0) * 60.0;
        if frac_dist(sum_arcmin / 800.0) > 1e-9 {
            prop_assert_eq!(u32::from(yoga_index(sun, moon)), (sum_arcmin / 800.0).floor() as u32 + 1);
        }
        // Invariant under whole turns of either longitude (up to rounding at the edges).
        if frac_dist(e / 6.0) > 1e-6 {
            prop_assert_eq!(tithi_index(sun + 360.0, moon - 720.0), tithi_index(sun, moon));
            prop_assert_eq!(karana_index(sun - 360.0, moon + 360.0), karana_index(sun, moon));
        }
    }

    #[test]
    fn kalams_are_eighths_of_daytime(
        rise in 2_450_000.0f64..2_460_000.0,
        len in 0.3f64..0.7,
        wd in 0usize..7,
    ) {
        let set = rise + len;
        let vara = Vara::from_index(wd);
        for (span, seg) in [
            (rahu_kalam(vara, rise, set), vara.rahu_kalam_segment()),
            (yamaganda(vara, rise, set), vara.yamaganda_segment()),
            (gulika_kalam(vara, rise, set), vara.gulika_kalam_segment()),
        ] {
            prop_assert!(span.start_jd_ut >= rise && span.end_jd_ut <= set);
            prop_assert!((span.end_jd_ut - span.start_jd_ut - len / 8.0).abs() < 1e-9);
            let start_expected = rise + f64::from(seg - 1) * len / 8.0;
            prop_assert!((span.start_jd_ut - start_expected).abs() < 1e-9);
        }
    }

    #[test]
    fn ashtakoota_scores_are_bounded_and_consistent(b in 0.0f64..360.0, g in 0.0f64..360.0) {
        let r = ashtakoota(b, g);
        let s = ashtakoota(g, b);
        prop_assert_eq!(r.kootas.len(), 8);
        let maxes: Vec<f64> = r.kootas.iter().map(|k| k.max).collect();
        prop_assert_eq!(maxes, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let sum: f64 = r.kootas.iter().map(|k| k.score).sum();
        prop_assert!((sum - r.total).abs() < 1e-12);
        prop_assert!((0.0..=36.0).contains(&r.total));
        for k in &r.kootas {
            prop_assert!(k.score >= 0.0 && k.score <= k.max);
            prop_assert!(!k.explanation.is_empty());
        }
        // Symmetric kootas do not depend on who is the boy.
        for kind in [KootaKind::Tara, KootaKind::Yoni, KootaKind::GrahaMaitri, KootaKind::Bhakoot, KootaKind::Nadi] {
            let a = r.kootas.iter().find(|k| k.koota == kind).unwrap().score;
            let c = s.kootas.iter().find(|k| k.koota == kind).unwrap().score;
            prop_assert_eq!(a, c, "{:?}", kind);
        }
        prop_assert_eq!(r.nadi_dosha, r.kootas[7].score == 0.0);
        prop_assert_eq!(r.bhakoot_dosha, r.kootas[6].score == 0.0);
        // Nadi dosha iff the nakshatra indices are congruent under the zig-zag.
        let nadi = |n: usize| [0, 1, 2, 2, 1, 0][n % 6];
        prop_assert_eq!(
            r.nadi_dosha,
            nadi(r.boy.nakshatra.index()) == nadi(r.girl.nakshatra.index())
        );
    }

    #[test]
    fn dignity_is_consistent(lon in 0.0f64..360.0, disp in 0.0f64..360.0, gi in 0usize..9) {
        let g = Graha::ALL[gi];
        let d = dignity(g, lon, Some(disp));
        let natural_only = dignity(g, lon, None);
        let sign = Rashi::from_longitude(lon);
        let exalt_sign = astro_vedic::dignity::exaltation(g).0;
        if sign == exalt_sign.nth(7) {
            prop_assert_eq!(d, Dignity::Debilitated);
        }
        if d == Dignity::Exalted {
            prop_assert_eq!(sign, exalt_sign);
        }
        prop_assert!(!matches!(natural_only, Dignity::GreatFriend | Dignity::GreatEnemy));
        // Special dignities do not depend on the dispositor.
        if matches!(d, Dignity::Exalted | Dignity::Debilitated | Dignity::Moolatrikona | Dignity::OwnSign) {
            prop_assert_eq!(d, natural_only);
        }
    }

    #[test]
    fn combustion_orbs(sun in 0.0f64..360.0, delta in -30.0f64..30.0, retro in any::<bool>()) {
        let lon = sun + delta;
        let orb_table = [(Graha::Moon, 12.0, 12.0), (Graha::Mars, 17.0, 17.0), (Graha::Mercury, 14.0, 12.0),
            (Graha::Jupiter, 11.0, 11.0), (Graha::Venus, 10.0, 8.0), (Graha::Saturn, 15.0, 15.0)];
        for (g, direct, r) in orb_table {
            let orb = if retro { r } else { direct };
            if (delta.abs() - orb).abs() > 1e-9 {
                prop_assert_eq!(is_combust(g, lon, sun, retro), delta.abs() <= orb, "{:?}", g);
            }
        }
        prop_assert!(!is_combust(Graha::Rahu, lon, sun, retro));
    }
}

fn check_level(
    periods: &[DashaPeriod],
    start: f64,
    end: f64,
    days: f64,
    parent_years: f64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(periods.len(), 9);
    prop_assert_eq!(periods[0].start_jd_ut, start);
    prop_assert_eq!(periods[8].end_jd_ut, end);
    for w in periods.windows(2) {
        prop_assert_eq!(w[0].end_jd_ut, w[1].start_jd_ut);
        prop_assert_eq!(
            (vimshottari_position(w[0].lord) + 1) % 9,
            vimshottari_position(w[1].lord)
        );
    }
    let sum: f64 = periods.iter().map(|p| p.years).sum();
    // Sub-period years sum to the parent's years (the first mahadasha list
    // is the full 120-year cycle).
    prop_assert!(
        (sum - parent_years).abs() < 1e-9,
        "{} vs {}",
        sum,
        parent_years
    );
    for p in periods {
        prop_assert!(p.end_jd_ut > p.start_jd_ut || p.years == 0.0);
        // Length in days matches years * days/year (boundaries are shared,
        // so only rounding of the offsets enters).
        prop_assert!(((p.end_jd_ut - p.start_jd_ut) - p.years * days).abs() < 1e-5);
    }
    Ok(())
}

/// Independent statement of the BPHS varga rules (see the crate README).
fn expected_varga(s: usize, deg: f64, v: Varga) -> usize {
    let odd = s % 2 == 0; // Aries is the 1st (odd) sign
    let movable = s % 3 == 0;
    let fixed = s % 3 == 1;
    let fire = [0, 4, 8].contains(&s);
    let earth = [1, 5, 9].contains(&s);
    let air = [2, 6, 10].contains(&s);
    const ARIES: usize = 0;
    const TAURUS: usize = 1;
    const GEMINI: usize = 2;
    const CANCER: usize = 3;
    const LEO: usize = 4;
    const VIRGO: usize = 5;
    const LIBRA: usize = 6;
    const SCORPIO: usize = 7;
    const SAGITTARIUS: usize = 8;
    const CAPRICORN: usize = 9;
    const AQUARIUS: usize = 10;
    const PISCES: usize = 11;
    let part = |w: f64| (deg / w).floor() as usize;
    let r = match v {
        Varga::D1 => s,
        Varga::D2 => match (odd, deg < 15.0) {
            (true, true) | (false, false) => LEO,
            _ => CANCER,
        },
        Varga::D3 => [s, s + 4, s + 8][part(10.0)],
        Varga::D4 => [s, s + 3, s + 6, s + 9][part(7.5)],
        Varga::D7 => (if odd { s } else { s + 6 }) + part(30.0 / 7.0),
        Varga::D9 => {
            let from = if fire {
                ARIES
            } else if earth {
                CAPRICORN
            } else if air {
                LIBRA
            } else {
                CANCER
            };
            from + part(10.0 / 3.0)
        }
        Varga::D10 => (if odd { s } else { s + 8 }) + part(3.0),
        Varga::D12 => s + part(2.5),
        Varga::D16 => {
            (if movable {
                ARIES
            } else if fixed {
                LEO
            } else {
                SAGITTARIUS
            }) + part(30.0 / 16.0)
        }
        Varga::D20 => {
            (if movable {
                ARIES
            } else if fixed {
                SAGITTARIUS
            } else {
                LEO
            }) + part(1.5)
        }
        Varga::D24 => (if odd { LEO } else { CANCER }) + part(1.25),
        Varga::D27 => {
            (if fire {
                ARIES
            } else if earth {
                CANCER
            } else if air {
                LIBRA
            } else {
                CAPRICORN
            }) + part(30.0 / 27.0)
        }
        Varga::D30 => {
            if odd {
                match deg {
                    d if d < 5.0 => ARIES,
                    d if d < 10.0 => AQUARIUS,
                    d if d < 18.0 => SAGITTARIUS,
                    d if d < 25.0 => GEMINI,
                    _ => LIBRA,
                }
            } else {
                match deg {
                    d if d < 5.0 => TAURUS,
                    d if d < 12.0 => VIRGO,
                    d if d < 20.0 => PISCES,
                    d if d < 25.0 => CAPRICORN,
                    _ => SCORPIO,
                }
            }
        }
        Varga::D40 => (if odd { ARIES } else { LIBRA }) + part(0.75),
        Varga::D45 => {
            (if movable {
                ARIES
            } else if fixed {
                LEO
            } else {
                SAGITTARIUS
            }) + part(2.0 / 3.0)
        }
        Varga::D60 => s + part(0.5),
    };
    r % 12
}

#[test]
fn karana_cycle_is_complete() {
    // 60 half-tithis: Kimstughna, 8 × (Bava..Vishti), Shakuni, Chatushpada, Naga.
    let seq: Vec<KaranaName> = (1..=60).map(karana_of_number).collect();
    assert_eq!(seq.iter().filter(|k| **k == KaranaName::Vishti).count(), 8);
    assert_eq!(seq.iter().filter(|k| k.is_movable()).count(), 56);
    assert_eq!(seq[0], KaranaName::Kimstughna);
    assert_eq!(
        &seq[57..],
        &[
            KaranaName::Shakuni,
            KaranaName::Chatushpada,
            KaranaName::Naga
        ]
    );
}

#[test]
fn json_shapes_are_snake_case() {
    let v = Vimshottari::new(110.0, 2_451_545.0, YearLength::Sidereal);
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["balance"]["lord"], "mercury");
    assert_eq!(j["year_length"], "sidereal");
    assert_eq!(j["mahadashas"][0]["level"], "mahadasha");
    assert!(j["mahadashas"][0]["sub_periods"][0]["start_jd_ut"].is_number());
    let back: Vimshottari = serde_json::from_value(j).unwrap();
    assert_eq!(back, v);

    let a = ashtakoota(45.0, 121.0);
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(j["kootas"][4]["koota"], "graha_maitri");
    assert!(j["nadi_dosha"].is_boolean());

    let chart = ChartInput::from_longitudes(
        [10.0, 33.0, 200.0, 5.0, 95.0, 357.0, 20.0, 100.0, 280.0],
        292.0,
    );
    let j = serde_json::to_value(analyze_chart(&chart)).unwrap();
    assert_eq!(j["grahas"][0]["graha"], "sun");
    assert_eq!(j["grahas"][0]["dignity"], "exalted");
    assert_eq!(j["ascendant"]["sign"], "makara");
    let t = serde_json::to_value(tithi(0.0, 297.03)).unwrap();
    assert_eq!(t["paksha"], "krishna");
    assert_eq!(t["index"], 25);
}
