//! Precession, nutation and obliquity.
//!
//! * Precession: IAU 2006 (Capitaine, Wallace & Chapront 2003, "P03"),
//!   ecliptic angles `p_A`, `pi_A`, `Pi_A`; the J2000 ecliptic is carried to
//!   the mean ecliptic and equinox of date by `R3(-(Pi_A+p_A)) R1(pi_A) R3(Pi_A)`.
//! * Mean obliquity: IAU 2006.
//! * Nutation: IAU 2000B (McCarthy & Luzum 2003), 77 luni-solar terms plus
//!   the fixed planetary offsets.

use crate::math::{mul_mm, rot_x, rot_z, sin_cos, ARCSEC, M3};
use crate::tables::nutation::NUTATION_2000B;

/// Nutation in longitude and obliquity (radians) and the rate of the
/// nutation in longitude (radians per day).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nutation {
    /// Nutation in longitude, radians.
    pub dpsi: f64,
    /// Nutation in obliquity, radians.
    pub deps: f64,
    /// d(dpsi)/dt, radians per day.
    pub dpsi_rate: f64,
}

/// IAU 2000B nutation at `t` Julian centuries TT from J2000.
pub fn nutation(t: f64) -> Nutation {
    // Fundamental arguments (Simon et al. 1994, linear part as in 2000B), arcsec.
    const RATES: [f64; 5] = [
        1_717_915_923.217_8,
        129_596_581.048_1,
        1_739_527_262.847_8,
        1_602_961_601.209_0,
        -6_962_890.543_1,
    ];
    let args = [
        ((485_868.249_036 + RATES[0] * t) % 1_296_000.0) * ARCSEC,
        ((1_287_104.793_05 + RATES[1] * t) % 1_296_000.0) * ARCSEC,
        ((335_779.526_232 + RATES[2] * t) % 1_296_000.0) * ARCSEC,
        ((1_072_260.703_69 + RATES[3] * t) % 1_296_000.0) * ARCSEC,
        ((450_160.398_036 + RATES[4] * t) % 1_296_000.0) * ARCSEC,
    ];
    let mut dpsi = 0.0;
    let mut deps = 0.0;
    let mut rate = 0.0;
    for r in NUTATION_2000B.iter() {
        let a = r[0] * args[0] + r[1] * args[1] + r[2] * args[2] + r[3] * args[3] + r[4] * args[4];
        let w =
            r[0] * RATES[0] + r[1] * RATES[1] + r[2] * RATES[2] + r[3] * RATES[3] + r[4] * RATES[4];
        let (s, c) = sin_cos(a);
        let amp = r[5] + r[6] * t;
        dpsi += amp * s;
        rate += amp * c * w;
        deps += (r[7] + r[8] * t) * c;
    }
    // 0.1 microarcsec -> arcsec; planetary offsets of 2000B.
    let dpsi = dpsi * 1e-7 - 0.000_135;
    let deps = deps * 1e-7 + 0.000_388;
    Nutation {
        dpsi: dpsi * ARCSEC,
        deps: deps * ARCSEC,
        // rate: 1e-7 arcsec * (arcsec/century in rad) -> rad/century -> rad/day
        dpsi_rate: rate * 1e-7 * ARCSEC * ARCSEC / 36_525.0,
    }
}

/// Mean obliquity of the ecliptic, IAU 2006, radians.
pub fn mean_obliquity(t: f64) -> f64 {
    (84_381.406
        + t * (-46.836_769
            + t * (-0.000_183_1
                + t * (0.002_003_40 + t * (-0.000_000_576 + t * -0.000_000_043_4)))))
        * ARCSEC
}

/// General precession in longitude `p_A` (radians), IAU 2006.
pub fn general_precession(t: f64) -> f64 {
    t * (5_028.796_195
        + t * (1.105_434_8 + t * (0.000_079_64 + t * (-0.000_023_857 + t * -0.000_000_038_3))))
        * ARCSEC
}

/// Rate of `p_A`, radians per day.
pub fn general_precession_rate(t: f64) -> f64 {
    (5_028.796_195
        + t * (2.0 * 1.105_434_8 + t * (3.0 * 0.000_079_64 + t * (4.0 * -0.000_023_857))))
        * ARCSEC
        / 36_525.0
}

/// Rotation from the J2000 ecliptic and equinox to the mean ecliptic and
/// equinox of date (`t` Julian centuries TT).
pub fn ecliptic_precession(t: f64) -> M3 {
    let pi_a = t
        * (46.998_973
            + t * (-0.033_492_6
                + t * (-0.000_125_59 + t * (0.000_000_113 + t * -0.000_000_002_2))))
        * ARCSEC;
    let big_pi = (629_546.793_6
        + t * (-867.957_58
            + t * (0.157_992 + t * (-0.000_537_1 + t * (-0.000_047_97 + t * 0.000_000_072)))))
        * ARCSEC;
    let p_a = general_precession(t);
    mul_mm(
        &rot_z(-(big_pi + p_a)),
        &mul_mm(&rot_x(pi_a), &rot_z(big_pi)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{lon_lat, mul_mv};

    #[test]
    fn nutation_meeus_example() {
        // Meeus, Astronomical Algorithms, ex. 22.a: 1987-04-10 0h TD,
        // dpsi = -3.788", deps = +9.443".
        let t = (2_446_895.5 - 2_451_545.0) / 36_525.0;
        let n = nutation(t);
        assert!(
            (n.dpsi / ARCSEC + 3.788).abs() < 0.01,
            "{}",
            n.dpsi / ARCSEC
        );
        assert!(
            (n.deps / ARCSEC - 9.443).abs() < 0.01,
            "{}",
            n.deps / ARCSEC
        );
        let eps = mean_obliquity(t) / ARCSEC;
        // Meeus: eps0 = 23 26' 27.407" (IAU 1980); IAU 2006 differs by ~0.04"
        assert!(
            (eps - (23.0 * 3600.0 + 26.0 * 60.0 + 27.407)).abs() < 0.1,
            "{eps}"
        );
    }

    #[test]
    fn precession_moves_equinox_by_p_a() {
        let t = 1.0;
        let m = ecliptic_precession(t);
        // a point on the J2000 ecliptic far from the node keeps latitude ~0 and gains p_A
        let (l, b) = lon_lat(mul_mv(&m, [1.0, 0.0, 0.0]));
        assert!((l / ARCSEC - 5_029.9).abs() < 10.0, "{}", l / ARCSEC);
        assert!(b.abs() / ARCSEC < 50.0);
    }
}
