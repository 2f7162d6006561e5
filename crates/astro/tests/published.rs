//! Checks against published values (Meeus, *Astronomical Algorithms*, 2nd
//! ed.; USNO/IMCCE equinox, solstice and lunar phase instants; the Indian
//! Calendar Reform Committee's ayanamsa).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

use astro::ayanamsa::{mean_ayanamsa, Ayanamsa};
use astro::ephem::{Body, Epoch};
use astro::math::{diff180, ARCSEC, DEG};
use astro::time::julian_day;

/// Apparent tropical longitude (true equinox), degrees.
fn app_lon(ep: &Epoch, b: Body) -> f64 {
    (ep.apparent(b).lon + ep.nut.dpsi) / DEG
}

#[test]
fn meeus_sun_1992_oct_13() {
    // Example 25.b (full VSOP87): apparent lambda = 199°54'21.818", beta = +0.72"
    let ep = Epoch::with_delta_t(2_448_908.5, 0.0);
    let l = app_lon(&ep, Body::Sun);
    let want = 199.0 + 54.0 / 60.0 + 21.818 / 3600.0;
    assert!(
        diff180(l, want).abs() * 3600.0 < 1.0,
        "{}",
        diff180(l, want) * 3600.0
    );
    assert!((ep.apparent(Body::Sun).lat / ARCSEC - 0.72).abs() < 0.3);
}

#[test]
fn meeus_moon_1992_apr_12() {
    // Example 47.a: apparent lambda 133.162655°, beta -3.229126°, distance 368409.7 km
    // (Meeus' abridged ELP: accurate to ~10" in longitude, 4" in latitude).
    let ep = Epoch::with_delta_t(2_448_724.5, 0.0);
    let m = ep.apparent(Body::Moon);
    let l = app_lon(&ep, Body::Moon);
    assert!(
        diff180(l, 133.162_655).abs() * 3600.0 < 15.0,
        "{}",
        diff180(l, 133.162_655) * 3600.0
    );
    assert!((m.lat / DEG + 3.229_126).abs() * 3600.0 < 6.0);
    assert!(
        (m.dist * astro::ephem::AU_KM - 368_409.7).abs() < 30.0,
        "{}",
        m.dist * astro::ephem::AU_KM
    );
}

#[test]
fn meeus_venus_1992_dec_20() {
    // Example 33.a: apparent lambda 313.08102°, beta -2.08474°
    let ep = Epoch::with_delta_t(2_448_976.5, 0.0);
    let v = ep.apparent(Body::Venus);
    let l = app_lon(&ep, Body::Venus);
    assert!(
        diff180(l, 313.081_02).abs() * 3600.0 < 2.0,
        "{}",
        diff180(l, 313.081_02) * 3600.0
    );
    assert!(
        (v.lat / DEG + 2.084_74).abs() * 3600.0 < 2.0,
        "{}",
        (v.lat / DEG + 2.084_74) * 3600.0
    );
}

/// Solve `f(jd) = 0` near `jd0` by the secant method (f in degrees, wrapped).
fn solve(mut jd: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut x0 = jd - 0.5;
    let mut f0 = f(x0);
    for _ in 0..50 {
        let f1 = f(jd);
        if f1.abs() < 1e-9 || f1 == f0 {
            break;
        }
        let next = jd - f1 * (jd - x0) / (f1 - f0);
        x0 = jd;
        f0 = f1;
        jd = next;
    }
    jd
}

fn minutes(a: f64, b: f64) -> f64 {
    (a - b).abs() * 1440.0
}

#[test]
fn equinoxes_and_solstices() {
    // (year, month, day, hour, minute UTC, target longitude)
    let events = [
        (2000, 3, 20, 7, 35, 0.0),
        (2000, 6, 21, 1, 48, 90.0),
        (2000, 9, 22, 17, 28, 180.0),
        (2000, 12, 21, 13, 37, 270.0),
        (2024, 3, 20, 3, 6, 0.0),
        (2024, 6, 20, 20, 51, 90.0),
        (1962, 12, 22, 8, 15, 270.0),
    ];
    for (y, m, d, h, mi, target) in events {
        let want = julian_day(y, m, d, f64::from(h) + f64::from(mi) / 60.0);
        let got = solve(want + 0.3, |jd| {
            diff180(app_lon(&Epoch::new(jd), Body::Sun), target)
        });
        assert!(
            minutes(got, want) < 1.5,
            "{y}-{m}-{d}: off by {:.2} min",
            minutes(got, want)
        );
    }
}

#[test]
fn new_moons_and_a_solar_eclipse() {
    // New moons (UTC, to the minute).
    let events = [
        (2000, 1, 6, 18, 14),
        (2017, 8, 21, 18, 30),
        (2024, 4, 8, 18, 21),
        (1999, 8, 11, 11, 8),
    ];
    for (y, m, d, h, mi) in events {
        let want = julian_day(y, m, d, f64::from(h) + f64::from(mi) / 60.0);
        let got = solve(want + 0.2, |jd| {
            let ep = Epoch::new(jd);
            diff180(
                ep.apparent(Body::Moon).lon / DEG,
                ep.apparent(Body::Sun).lon / DEG,
            )
        });
        assert!(
            minutes(got, want) < 1.5,
            "{y}-{m}-{d}: off by {:.2} min",
            minutes(got, want)
        );
    }
    // Total solar eclipse of 2024-04-08 (greatest eclipse 18:17 UT, gamma 0.343):
    // geocentric Sun-Moon separation at new moon is below the sum of the
    // semidiameters plus the Moon's horizontal parallax.
    let ep = Epoch::new(julian_day(2024, 4, 8, 18.0 + 21.0 / 60.0));
    let m = ep.apparent(Body::Moon);
    assert!(m.lat.abs() / DEG < 0.4, "moon latitude {}", m.lat / DEG);
    // Total lunar eclipse of 2022-11-08 (greatest 10:59 UT): the Moon is within 0.5° of the anti-Sun.
    let ep = Epoch::new(julian_day(2022, 11, 8, 10.0 + 59.0 / 60.0));
    let m = ep.apparent(Body::Moon);
    let s = ep.apparent(Body::Sun);
    let sep = (diff180(m.lon / DEG, s.lon / DEG + 180.0).powi(2)
        + (m.lat / DEG + s.lat / DEG).powi(2))
    .sqrt();
    assert!(sep < 0.5, "separation from the anti-Sun {sep}");
}

#[test]
fn lahiri_ayanamsa_at_its_definition_epoch() {
    // Indian Calendar Reform Committee: 23°15'00.658" on 1956-03-21 0h;
    // the Swiss Ephemeris gives 23°15'00.80" (true ayanamsa).
    let ep = Epoch::with_delta_t(2_435_553.5, 0.0);
    let mean = mean_ayanamsa(Ayanamsa::Lahiri, ep.t);
    let true_ay = mean + ep.nut.dpsi / DEG;
    let want = 23.0 + 15.0 / 60.0 + 0.80 / 3600.0;
    assert!(
        (true_ay - want).abs() * 3600.0 < 0.5,
        "{}",
        (true_ay - want) * 3600.0
    );
    // KP differs from Lahiri by -349" at J2000 and Raman by ~-1.45°.
    let kp = mean_ayanamsa(Ayanamsa::Krishnamurti, 0.0) - mean_ayanamsa(Ayanamsa::Lahiri, 0.0);
    assert!((kp * 3600.0 + 349.0).abs() < 3.0, "kp {}", kp * 3600.0);
    let tc = mean_ayanamsa(Ayanamsa::TrueChitra, 0.0) - mean_ayanamsa(Ayanamsa::Lahiri, 0.0);
    assert!(
        (tc * 3600.0 + 62.0).abs() < 25.0,
        "true chitra {}",
        tc * 3600.0
    );
}
