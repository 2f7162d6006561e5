//! Geocentric apparent positions of the Sun, Moon and planets.
//!
//! * Planets and the Earth: VSOP87A (Bretagnon & Francou 1988, A&A 202, 309),
//!   heliocentric rectangular coordinates on the J2000 ecliptic, truncated
//!   (see `gen/gen_tables.py`), velocities by analytic differentiation.
//! * Moon: ELP/MPP02 (Chapront & Francou 2003, A&A 404, 735), constants fitted
//!   to DE405, truncated; Laskar's P/Q rotation to the J2000 ecliptic.
//! * Pluto: Meeus, *Astronomical Algorithms* (2nd ed.), ch. 37: 43 periodic
//!   terms in J, S, P giving heliocentric l, b, R on the J2000.0 ecliptic,
//!   valid 1885-2099 only ([`PLUTO_JD_TT_RANGE`]); velocities by analytic
//!   differentiation of the series.
//! * Apparent place (Explanatory Supplement to the Astronomical Almanac, 1992,
//!   ch. 3): light-time (planet states extrapolated back along their orbit),
//!   gravitational deflection by the Sun, relativistic annual aberration with
//!   the Earth's heliocentric velocity, precession to the mean ecliptic and
//!   equinox of date (IAU 2006) and nutation in longitude (IAU 2000B).
//! * Speeds: derivative of the apparent longitude/latitude, by a central
//!   difference (±0.01 d) of the apparent direction along the analytic
//!   velocities.

use crate::frames::{
    ecliptic_precession, general_precession, general_precession_rate, mean_obliquity, nutation,
    Nutation,
};
use crate::math::{
    add, cross, dot, lon_lat, mul_mv, norm, scale, sin_cos, sub, ARCSEC, DEG, M3, V3,
};
use crate::tables::elpmpp02 as elp;
use crate::tables::pluto::PLUTO_TERMS;
use crate::tables::vsop87a as vsop;
use crate::time::{delta_t_seconds, J2000};
use std::f64::consts::{PI, TAU};

/// Speed of light, AU per day.
pub const C_AU_DAY: f64 = 173.144_632_684_669_3;
/// Kilometres per AU (IAU 2012).
pub const AU_KM: f64 = 149_597_870.7;
/// Heliocentric gravitational constant, AU^3/day^2 (Gauss constant squared).
const GM_SUN: f64 = 2.959_122_082_855_911e-4;
/// 2 GM_sun / c^2 in AU.
const G1: f64 = 1.974_125_743_36e-8;
/// Half-width of the central difference used for speeds, days.
const SPEED_STEP: f64 = 0.01;

/// A body with an ephemeris.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// The Sun.
    Sun,
    /// The Moon.
    Moon,
    /// Mercury.
    Mercury,
    /// Venus.
    Venus,
    /// Mars.
    Mars,
    /// Jupiter.
    Jupiter,
    /// Saturn.
    Saturn,
    /// Uranus.
    Uranus,
    /// Neptune.
    Neptune,
    /// Pluto (Meeus ch. 37; meaningful only within [`PLUTO_JD_TT_RANGE`]).
    Pluto,
}

type VsopSeries = [[&'static [[f64; 3]]; 6]; 3];

fn series(b: Body) -> Option<&'static VsopSeries> {
    Some(match b {
        Body::Mercury => &vsop::MERCURY,
        Body::Venus => &vsop::VENUS,
        Body::Mars => &vsop::MARS,
        Body::Jupiter => &vsop::JUPITER,
        Body::Saturn => &vsop::SATURN,
        Body::Uranus => &vsop::URANUS,
        Body::Neptune => &vsop::NEPTUNE,
        Body::Sun | Body::Moon | Body::Pluto => return None,
    })
}

/// Julian days (TT) within which Meeus' Pluto series is valid: 1885-01-01
/// 0h to 2100-01-01 0h (the years 1885-2099). Outside it the series is an
/// extrapolation of a fit and its errors grow without bound.
pub const PLUTO_JD_TT_RANGE: (f64, f64) = (2_409_542.5, 2_488_069.5);

/// Whether a TT Julian day lies in [`PLUTO_JD_TT_RANGE`].
pub fn pluto_valid(jd_tt: f64) -> bool {
    jd_tt >= PLUTO_JD_TT_RANGE.0 && jd_tt < PLUTO_JD_TT_RANGE.1
}

/// Pluto's heliocentric ecliptic longitude, latitude (radians) and radius
/// (AU), J2000.0 ecliptic and equinox, with their rates (per day), from
/// Meeus ch. 37 (`t` in Julian centuries TT from J2000). Valid 1885-2099
/// ([`PLUTO_JD_TT_RANGE`]); accuracy about 0.1"-0.5" there (Meeus).
pub fn pluto_heliocentric(t: f64) -> ([f64; 3], [f64; 3]) {
    // mean longitudes of Jupiter, Saturn, Pluto (degrees) and rates (deg/century)
    const J: (f64, f64) = (34.35, 3_034.905_7);
    const S: (f64, f64) = (50.08, 1_222.113_8);
    const P: (f64, f64) = (238.96, 144.96);
    let (j, s, p) = (J.0 + J.1 * t, S.0 + S.1 * t, P.0 + P.1 * t);
    let (mut l, mut b, mut r) = (0.0, 0.0, 0.0);
    let (mut dl, mut db, mut dr) = (0.0, 0.0, 0.0);
    for row in PLUTO_TERMS.iter() {
        let &[i, jj, k, la, lb, ba, bb, ra, rb] = row;
        let (sn, cs) = sin_cos((i * j + jj * s + k * p) * DEG);
        let rate = (i * J.1 + jj * S.1 + k * P.1) * DEG; // rad/century
        l += la * sn + lb * cs;
        b += ba * sn + bb * cs;
        r += ra * sn + rb * cs;
        dl += (la * cs - lb * sn) * rate;
        db += (ba * cs - bb * sn) * rate;
        dr += (ra * cs - rb * sn) * rate;
    }
    let cy = 36_525.0;
    (
        [
            (238.958_116 + 144.96 * t + l * 1e-6) * DEG,
            (-3.908_239 + b * 1e-6) * DEG,
            40.724_134_6 + r * 1e-7,
        ],
        [
            (144.96 + dl * 1e-6) * DEG / cy,
            db * 1e-6 * DEG / cy,
            dr * 1e-7 / cy,
        ],
    )
}

/// Pluto's heliocentric position (AU) and velocity (AU/day), rectangular,
/// J2000 ecliptic (see [`pluto_heliocentric`]).
pub fn pluto_state(t: f64) -> (V3, V3) {
    let ([l, b, r], [dl, db, dr]) = pluto_heliocentric(t);
    let (sl, cl) = sin_cos(l);
    let (sb, cb) = sin_cos(b);
    let pos = [r * cb * cl, r * cb * sl, r * sb];
    let vel = [
        dr * cb * cl - r * sb * cl * db - r * cb * sl * dl,
        dr * cb * sl - r * sb * sl * db + r * cb * cl * dl,
        dr * sb + r * cb * db,
    ];
    (pos, vel)
}

/// Heliocentric state (AU, AU/day; J2000 ecliptic) of a planet, `t` in
/// Julian centuries TT from J2000; `None` for the Sun and the Moon.
pub fn heliocentric_state(body: Body, t: f64) -> Option<(V3, V3)> {
    match body {
        Body::Pluto => Some(pluto_state(t)),
        _ => series(body).map(|s| vsop_state(s, t / 10.0)),
    }
}

/// Heliocentric position (AU) and velocity (AU/day) from a VSOP87A series,
/// `tm` in Julian millennia TDB from J2000.
pub fn vsop_state(s: &VsopSeries, tm: f64) -> (V3, V3) {
    let mut pos = [0.0; 3];
    let mut vel = [0.0; 3];
    for (k, coord) in s.iter().enumerate() {
        let mut val = 0.0;
        let mut der = 0.0;
        let mut tp = 1.0; // tm^alpha
        let mut tpm = 0.0; // alpha * tm^(alpha-1)
        for (alpha, terms) in coord.iter().enumerate() {
            if terms.is_empty() {
                continue;
            }
            let mut sv = 0.0;
            let mut sd = 0.0;
            for &[a, b, c] in terms.iter() {
                let (sn, cs) = sin_cos(b + c * tm);
                sv += a * cs;
                sd -= a * c * sn;
            }
            if alpha > 0 {
                tp = tm.powi(alpha as i32);
                tpm = alpha as f64 * tm.powi(alpha as i32 - 1);
            }
            val += tp * sv;
            der += tpm * sv + tp * sd;
        }
        pos[k] = val;
        vel[k] = der / 365_250.0;
    }
    (pos, vel)
}

/// Geocentric Moon from ELP/MPP02 in the J2000 ecliptic frame: position (km),
/// velocity (km/day), and the unit direction with its first and second time
/// derivatives (per day), used for the osculating node.
#[derive(Debug, Clone, Copy)]
pub struct MoonState {
    /// Position, km.
    pub pos: V3,
    /// Velocity, km/day.
    pub vel: V3,
    /// Unit direction.
    pub e: V3,
    /// d e / dt, per day.
    pub e1: V3,
    /// d2 e / dt2, per day^2.
    pub e2: V3,
}

fn poly_d(c: &[f64], t: f64) -> (f64, f64, f64) {
    // value, first and second derivative of sum c[i] t^i
    let mut v = 0.0;
    let mut d1 = 0.0;
    let mut d2 = 0.0;
    for (i, &ci) in c.iter().enumerate().rev() {
        v = v * t + ci;
        if i >= 1 {
            d1 = d1 * t + ci * i as f64;
        }
        if i >= 2 {
            d2 = d2 * t + ci * (i * (i - 1)) as f64;
        }
    }
    (v, d1, d2)
}

/// ELP/MPP02 geocentric Moon at `t` Julian centuries TDB from J2000.
pub fn moon_state(t: f64) -> MoonState {
    const SEC: f64 = ARCSEC;
    // corr = 1 (DE405) constants, Chapront & Francou 2003
    let w1c = [
        (-142.0 + 18.0 / 60.0) * 3600.0 + 59.955_71 - 0.070_08,
        1_732_559_343.736_04 - 0.351_06,
        -6.808_4 - 0.037_43,
        0.006_604 - 0.000_188_65,
        -3.169e-5 - 0.000_010_24,
    ];
    let (w1, w1d, w1dd) = poly_d(&w1c, t);
    let w1 = w1 * SEC;
    let w1d = w1d * SEC;
    let w1dd = w1dd * SEC;
    let w2 = ((83.0 + 21.0 / 60.0) * 3600.0
        + 11.674_75
        + 0.207_94
        + (14_643_420.317_1 + 0.080_17 + CW2_1) * t
        + (-38.263_1 + 0.004_706_02) * t * t
        + (-0.045_047 - 0.000_252_13) * t * t * t
        + 0.000_213_01 * t * t * t * t)
        * SEC;
    let w3 = ((125.0 + 2.0 / 60.0) * 3600.0 + 40.398_16 - 0.072_15
        + (-6_967_919.538_3 - 0.043_17 + CW3_1) * t
        + (6.359 - 0.002_610_70) * t * t
        + (0.007_625 - 0.000_107_12) * t * t * t
        - 3.586e-5 * t * t * t * t)
        * SEC;
    let ea = ((100.0 + 27.0 / 60.0) * 3600.0 + 59.138_85 - 0.000_33
        + (129_597_742.293 + 0.007_32) * t
        - 0.020_2 * t * t
        + 9e-6 * t * t * t
        + 1.5e-7 * t * t * t * t)
        * SEC;
    let pomp = ((102.0 + 56.0 / 60.0) * 3600.0 + 14.457_66 - 0.007_49
        + 1_161.243_42 * t
        + 0.529_265 * t * t
        - 1.181_4e-4 * t * t * t
        + 1.137_9e-5 * t * t * t * t)
        * SEC;
    let red = |x: f64| x.rem_euclid(TAU);
    let d = red(w1 - ea + PI);
    let f = red(w1 - w3);
    let l = red(w1 - w2);
    let lp = red(ea - pomp);
    // planetary mean longitudes: (deg + min/60 + sec/3600) as in the reference code
    let pl = |deg: f64, min: f64, s: f64, rate: f64| {
        red((deg + min / 60.0 + s / 3600.0) * DEG + rate * t * SEC)
    };
    let args: [f64; 13] = [
        d,
        f,
        l,
        lp,
        pl(-108.0, 15.0, 3.216_919, 538_101_628.668_88),
        pl(-179.0, 58.0, 44.758_419, 210_664_136.457_77),
        pl(100.0, 27.0, 59.138_85, 129_597_742.293),
        pl(-5.0, 26.0, 3.642_778, 68_905_077.659_36),
        pl(34.0, 21.0, 5.379_392, 10_925_660.573_35),
        pl(50.0, 4.0, 38.902_495, 4_399_609.336_32),
        pl(-46.0, 3.0, 4.354_234, 1_542_482.578_45),
        pl(-56.0, 20.0, 56.808_371, 786_547.897),
        red(w1 + 0.024_380_295_608_819_07 * t),
    ];

    // longitude and latitude: value, d/dt, d2/dt2 (per century)
    let main_sin = |rows: &[elp::MainRow]| {
        let (mut v, mut v1, mut v2) = (0.0, 0.0, 0.0);
        for r in rows {
            let ph = r[0] * d + r[1] * f + r[2] * l + r[3] * lp;
            let (s, c) = sin_cos(ph);
            v += r[4] * s;
            v1 += r[4] * c * r[5];
            v2 -= r[4] * s * r[5] * r[5];
        }
        (v, v1, v2)
    };
    let pert = |rows: &[elp::PertRow]| {
        let (mut v, mut v1, mut v2) = (0.0, 0.0, 0.0);
        for r in rows {
            let mut ph = r[14];
            for k in 0..13 {
                ph += r[k] * args[k];
            }
            let (s, c) = sin_cos(ph);
            v += r[13] * s;
            v1 += r[13] * c * r[15];
            v2 -= r[13] * s * r[15] * r[15];
        }
        (v, v1, v2)
    };
    // combine sum_k t^k S_k with derivatives
    let poisson = |parts: &[(f64, f64, f64)]| {
        let (mut v, mut v1, mut v2) = (0.0, 0.0, 0.0);
        for (k, &(s, s1, s2)) in parts.iter().enumerate() {
            let k = k as i32;
            let tk = t.powi(k);
            let tk1 = if k >= 1 {
                f64::from(k) * t.powi(k - 1)
            } else {
                0.0
            };
            let tk2 = if k >= 2 {
                f64::from(k * (k - 1)) * t.powi(k - 2)
            } else {
                0.0
            };
            v += tk * s;
            v1 += tk1 * s + tk * s1;
            v2 += tk2 * s + 2.0 * tk1 * s1 + tk * s2;
        }
        (v, v1, v2)
    };
    let ml = main_sin(elp::MAIN_LONG);
    let lon_p = poisson(&[
        pert(elp::PERT_LONG_T0),
        pert(elp::PERT_LONG_T1),
        pert(elp::PERT_LONG_T2),
        pert(elp::PERT_LONG_T3),
    ]);
    let mb = main_sin(elp::MAIN_LAT);
    let lat_p = poisson(&[
        pert(elp::PERT_LAT_T0),
        pert(elp::PERT_LAT_T1),
        pert(elp::PERT_LAT_T2),
    ]);
    let (mut rr, mut rr1) = (0.0, 0.0);
    for r in elp::MAIN_DIST {
        let ph = r[0] * d + r[1] * f + r[2] * l + r[3] * lp;
        let (s, c) = sin_cos(ph);
        rr += r[4] * c;
        rr1 -= r[4] * s * r[5];
    }
    let dist_p = poisson(&[
        pert(elp::PERT_DIST_T0),
        pert(elp::PERT_DIST_T1),
        pert(elp::PERT_DIST_T2),
        pert(elp::PERT_DIST_T3),
    ]);
    const RA0: f64 = 384_747.961_370_173 / 384_747.980_674_318;
    let cy = 36_525.0;
    let lam = w1 + ml.0 + lon_p.0;
    let lam1 = (w1d + ml.1 + lon_p.1) / cy;
    let lam2 = (w1dd + ml.2 + lon_p.2) / (cy * cy);
    let bet = mb.0 + lat_p.0;
    let bet1 = (mb.1 + lat_p.1) / cy;
    let bet2 = (mb.2 + lat_p.2) / (cy * cy);
    let r = RA0 * (rr + dist_p.0);
    let r1 = RA0 * (rr1 + dist_p.1) / cy;

    let (sl, cl) = sin_cos(lam);
    let (sb, cb) = sin_cos(bet);
    let e = [cb * cl, cb * sl, sb];
    let dl = [-cb * sl, cb * cl, 0.0]; // de/dlambda
    let db = [-sb * cl, -sb * sl, cb]; // de/dbeta
    let e1 = add(scale(dl, lam1), scale(db, bet1));
    let dll = [-cb * cl, -cb * sl, 0.0];
    let dlb = [sb * sl, -sb * cl, 0.0];
    let dbb = [-cb * cl, -cb * sl, -sb];
    let e2 = add(
        add(scale(dl, lam2), scale(db, bet2)),
        add(
            add(scale(dll, lam1 * lam1), scale(dlb, 2.0 * lam1 * bet1)),
            scale(dbb, bet1 * bet1),
        ),
    );

    // Laskar's P, Q: ELP frame -> J2000 mean ecliptic (Chapront & Francou)
    let t2 = t * t;
    let t3 = t2 * t;
    let t4 = t3 * t;
    let t5 = t4 * t;
    let p = 0.101_803_91e-4 * t + 0.470_204_39e-6 * t2 - 0.541_736_7e-9 * t3 - 0.250_794_8e-11 * t4
        + 0.463_486e-14 * t5;
    let q = -0.113_469_002e-3 * t + 0.123_726_74e-6 * t2 + 0.126_541_70e-8 * t3
        - 0.137_180_8e-11 * t4
        - 0.320_334e-14 * t5;
    let sq = (1.0 - p * p - q * q).sqrt();
    let m: M3 = [
        [1.0 - 2.0 * p * p, 2.0 * p * q, 2.0 * p * sq],
        [2.0 * p * q, 1.0 - 2.0 * q * q, -2.0 * q * sq],
        [-2.0 * p * sq, 2.0 * q * sq, 1.0 - 2.0 * p * p - 2.0 * q * q],
    ];
    let e = mul_mv(&m, e);
    let e1 = mul_mv(&m, e1);
    let e2 = mul_mv(&m, e2);
    MoonState {
        pos: scale(e, r),
        vel: add(scale(e, r1), scale(e1, r)),
        e,
        e1,
        e2,
    }
}

// Corrections of the w2, w3 rates for corr=1 (derived constants of ELP/MPP02).
const CW2_1: f64 = {
    let am = 0.074_801_329;
    let alpha = 0.002_571_881;
    let xa = 2.0 * alpha / 3.0;
    let sec = PI / 648_000.0;
    let w11 = 1_732_559_343.736_04 * sec;
    let w21 = (14_643_420.317_1 + 0.080_17) * sec;
    let x2 = w21 / w11;
    let y2 = am * 0.311_079_095 + xa * 0.000_050_928;
    let d21 = x2 - y2;
    let d22 = w11 * -0.004_482_398;
    let d23 = w11 * -0.001_102_485;
    let d24 = w11 * 0.001_056_062;
    let d25 = y2 / am;
    d21 * -0.351_06 + d25 * 0.007_32 + d22 * 0.000_85 + d23 * -0.000_06 + d24 * 0.002_24
};
const CW3_1: f64 = {
    let am = 0.074_801_329;
    let alpha = 0.002_571_881;
    let xa = 2.0 * alpha / 3.0;
    let sec = PI / 648_000.0;
    let w11 = 1_732_559_343.736_04 * sec;
    let w31 = (-6_967_919.538_3 - 0.043_17) * sec;
    let x3 = w31 / w11;
    let y3 = am * -0.103_837_907 + xa * -0.000_037_342;
    let d31 = x3 - y3;
    let d32 = w11 * 0.000_668_287;
    let d33 = w11 * -0.001_298_072;
    let d34 = w11 * -0.000_178_028;
    let d35 = y3 / am;
    d31 * -0.351_06 + d35 * 0.007_32 + d32 * 0.000_85 + d33 * -0.000_06 + d34 * 0.002_24
};

/// Per-instant quantities shared by every body.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    /// Julian day, UT (= UTC).
    pub jd_ut: f64,
    /// Julian day, TT.
    pub jd_tt: f64,
    /// Delta-T, seconds.
    pub delta_t: f64,
    /// Julian centuries TT from J2000.
    pub t: f64,
    /// Nutation.
    pub nut: Nutation,
    /// Mean obliquity, radians.
    pub eps_mean: f64,
    /// True obliquity, radians.
    pub eps_true: f64,
    /// J2000 ecliptic -> mean ecliptic and equinox of date.
    pub prec: M3,
    /// General precession in longitude, radians.
    pub p_a: f64,
    /// Its rate, radians/day.
    pub p_rate: f64,
    earth: V3,
    earth_vel: V3,
    earth_acc: V3,
    moon: MoonState,
}

/// Apparent geocentric position referred to the mean ecliptic and equinox of
/// date (add nutation in longitude for the true equinox).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Apparent {
    /// Longitude, radians `[0, 2pi)` (mean equinox of date).
    pub lon: f64,
    /// Latitude, radians.
    pub lat: f64,
    /// Distance, AU.
    pub dist: f64,
    /// Longitude rate, radians/day (mean equinox of date, nutation excluded).
    pub lon_rate: f64,
    /// Latitude rate, radians/day.
    pub lat_rate: f64,
}

impl Epoch {
    /// Prepare an instant given in UT.
    pub fn new(jd_ut: f64) -> Epoch {
        let delta_t = delta_t_seconds(jd_ut);
        Epoch::with_delta_t(jd_ut, delta_t)
    }

    /// Prepare an instant with an explicit Delta-T (seconds).
    pub fn with_delta_t(jd_ut: f64, delta_t: f64) -> Epoch {
        let jd_tt = jd_ut + delta_t / 86_400.0;
        let t = (jd_tt - J2000) / 36_525.0;
        let nut = nutation(t);
        let eps_mean = mean_obliquity(t);
        let (earth, earth_vel) = vsop_state(&vsop::EARTH, t / 10.0);
        let r = norm(earth);
        let earth_acc = scale(earth, -GM_SUN / (r * r * r));
        Epoch {
            jd_ut,
            jd_tt,
            delta_t,
            t,
            nut,
            eps_mean,
            eps_true: eps_mean + nut.deps,
            prec: ecliptic_precession(t),
            p_a: general_precession(t),
            p_rate: general_precession_rate(t),
            earth,
            earth_vel,
            earth_acc,
            moon: moon_state(t),
        }
    }

    /// Heliocentric Earth position (AU) and velocity (AU/day), J2000 ecliptic.
    pub fn earth(&self) -> (V3, V3) {
        (self.earth, self.earth_vel)
    }

    fn project(&self, geo: V3, vrel: V3, helio: Option<(V3, V3)>) -> Apparent {
        let dir = |s: f64| {
            let g = add(geo, scale(vrel, s));
            let e = add(self.earth, scale(self.earth_vel, s));
            let ve = add(self.earth_vel, scale(self.earth_acc, s));
            let h = helio.map(|(p, v)| add(p, scale(v, s)));
            mul_mv(&self.prec, apparent_direction(g, e, ve, h))
        };
        let u0 = dir(0.0);
        let up = dir(SPEED_STEP);
        let um = dir(-SPEED_STEP);
        let (l0, b0) = lon_lat(u0);
        let (lp, bp) = lon_lat(up);
        let (lm, bm) = lon_lat(um);
        let mut dl = lp - lm;
        if dl > PI {
            dl -= TAU;
        } else if dl < -PI {
            dl += TAU;
        }
        Apparent {
            lon: l0,
            lat: b0,
            dist: norm(geo),
            lon_rate: dl / (2.0 * SPEED_STEP) + self.p_rate,
            lat_rate: (bp - bm) / (2.0 * SPEED_STEP),
        }
    }

    fn project_geometric(&self, geo: V3, vel: V3) -> Apparent {
        let (l0, b0) = lon_lat(mul_mv(&self.prec, geo));
        let (dl, db) = crate::math::lon_lat_rates(mul_mv(&self.prec, geo), mul_mv(&self.prec, vel));
        Apparent {
            lon: l0,
            lat: b0,
            dist: norm(geo),
            lon_rate: dl + self.p_rate,
            lat_rate: db,
        }
    }

    /// Apparent place of a body. For Pluto the result is meaningful only
    /// within [`PLUTO_JD_TT_RANGE`] (check [`pluto_valid`] with `jd_tt`).
    pub fn apparent(&self, body: Body) -> Apparent {
        match body {
            Body::Sun => self.project(scale(self.earth, -1.0), scale(self.earth_vel, -1.0), None),
            Body::Moon => {
                let m = self.moon;
                let pos = scale(m.pos, 1.0 / AU_KM);
                let vel = scale(m.vel, 1.0 / AU_KM);
                // Light-time with the geocentric velocity only: in barycentric
                // terms the Earth's own motion during the light-time cancels
                // the annual aberration, so none is applied to the Moon.
                let tau = norm(pos) / C_AU_DAY;
                let geo = sub(pos, scale(vel, tau));
                self.project_geometric(geo, vel)
            }
            _ => {
                let Some((p, v)) = heliocentric_state(body, self.t) else {
                    return self.apparent(Body::Sun);
                };
                let r = norm(p);
                let acc = scale(p, -GM_SUN / (r * r * r));
                let mut tau = norm(sub(p, self.earth)) / C_AU_DAY;
                let mut pr = p;
                for _ in 0..2 {
                    pr = add(sub(p, scale(v, tau)), scale(acc, 0.5 * tau * tau));
                    tau = norm(sub(pr, self.earth)) / C_AU_DAY;
                }
                let vr = sub(v, scale(acc, tau));
                let geo = sub(pr, self.earth);
                self.project(geo, sub(vr, self.earth_vel), Some((pr, vr)))
            }
        }
    }

    /// Osculating ascending node of the Moon's geocentric orbit on the mean
    /// ecliptic of date: (longitude rad, rate rad/day), mean equinox of date.
    pub fn true_node(&self) -> (f64, f64) {
        let m = self.moon;
        let e = mul_mv(&self.prec, m.e);
        let e1 = mul_mv(&self.prec, m.e1);
        let e2 = mul_mv(&self.prec, m.e2);
        let n = cross(e, e1);
        let n1 = cross(e, e2);
        let lon = n[0].atan2(-n[1]).rem_euclid(TAU);
        let rate = (n[0] * n1[1] - n[1] * n1[0]) / (n[0] * n[0] + n[1] * n[1]);
        (lon, rate + self.p_rate)
    }

    /// Mean ascending node of the Moon (longitude rad, rate rad/day), mean
    /// equinox of date (ELP/Meeus: Chapront et al. 1998 mean elements).
    pub fn mean_node(&self) -> (f64, f64) {
        let t = self.t;
        let c = [
            125.044_547_9,
            -1_934.136_289_1,
            0.002_075_4,
            1.0 / 467_441.0,
            -1.0 / 60_616_000.0,
        ];
        let (v, d1, _) = poly_d(&c, t);
        ((v * DEG).rem_euclid(TAU), d1 * DEG / 36_525.0)
    }
}

/// Apparent (deflected, aberrated) unit direction of a geocentric vector.
fn apparent_direction(geo: V3, earth: V3, earth_vel: V3, helio: Option<V3>) -> V3 {
    let d = norm(geo);
    let mut u = scale(geo, 1.0 / d);
    if let Some(p) = helio {
        let er = norm(earth);
        let e = scale(earth, 1.0 / er);
        let q = scale(p, 1.0 / norm(p));
        let qe = dot(q, e);
        let k = G1 / er / (1.0 + qe);
        let uq = dot(u, q);
        let eu = dot(e, u);
        u = add(u, scale(sub(scale(e, uq), scale(q, eu)), k));
        u = scale(u, 1.0 / norm(u));
    }
    let v = scale(earth_vel, 1.0 / C_AU_DAY);
    let pv = dot(u, v);
    let binv = (1.0 - dot(v, v)).sqrt();
    let f1 = 1.0 + pv / (1.0 + binv);
    let w = add(scale(u, binv), scale(v, f1));
    scale(w, 1.0 / (1.0 + pv) / norm(scale(w, 1.0 / (1.0 + pv))))
}
