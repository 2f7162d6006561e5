//! Ayanamsas.
//!
//! The mean ayanamsa at an instant is computed the way the Swiss Ephemeris
//! defines its sidereal modes (so the values agree with it): the mean
//! equinox of date is carried to the ecliptic of the mode's reference epoch
//! `t0` (IAU 2006 precession) and its longitude there is subtracted from the
//! ayanamsa at `t0`. The *true* ayanamsa adds the nutation in longitude; it
//! is subtracted from apparent (true-equinox) longitudes, equivalently the
//! mean ayanamsa from mean-equinox longitudes.
//!
//! * Lahiri (Indian Calendar Reform Committee 1955): 23°15'00.658" true on
//!   1956-03-21 0h TT, i.e. mean 23.245524743° (Swiss Ephemeris SIDM_LAHIRI).
//! * Raman (B. V. Raman): 21.01444° at J1900 (= 360° - 338.98556°).
//! * Krishnamurti (KP): 22.363889° at J1900 (= 360° - 337.636111°).
//! * True Chitra: the ayanamsa that keeps Spica (alpha Virginis, Hipparcos
//!   position and proper motion) at exactly 180° sidereal longitude.

use serde::{Deserialize, Serialize};

use crate::frames::ecliptic_precession;
use crate::math::{lon_lat, mul_mtv, mul_mv, sin_cos, ARCSEC, DEG};
use crate::time::J2000;

/// A sidereal zodiac definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ayanamsa {
    /// Lahiri / Chitrapaksha (default), the Indian government's standard.
    #[default]
    Lahiri,
    /// B. V. Raman.
    Raman,
    /// Krishnamurti Paddhati.
    Krishnamurti,
    /// Spica fixed at 180°.
    TrueChitra,
}

impl Ayanamsa {
    /// All supported ayanamsas.
    pub const ALL: [Ayanamsa; 4] = [
        Ayanamsa::Lahiri,
        Ayanamsa::Raman,
        Ayanamsa::Krishnamurti,
        Ayanamsa::TrueChitra,
    ];

    /// Parse a name (`lahiri`, `raman`, `krishnamurti`/`kp`, `true_chitra`).
    pub fn from_name(s: &str) -> Option<Ayanamsa> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "lahiri" | "chitrapaksha" => Some(Ayanamsa::Lahiri),
            "raman" => Some(Ayanamsa::Raman),
            "krishnamurti" | "kp" => Some(Ayanamsa::Krishnamurti),
            "true_chitra" | "true_citra" | "truechitra" => Some(Ayanamsa::TrueChitra),
            _ => None,
        }
    }

    fn epoch(self) -> Option<(f64, f64)> {
        match self {
            Ayanamsa::Lahiri => Some((2_435_553.5, 23.250_182_778 - 0.004_658_035)),
            Ayanamsa::Raman => Some((2_415_020.0, 360.0 - 338.985_56)),
            Ayanamsa::Krishnamurti => Some((2_415_020.0, 360.0 - 337.636_111)),
            Ayanamsa::TrueChitra => None,
        }
    }
}

/// Spica (HIP 65474), ICRS J2000 position and proper motion (Hipparcos, ESA 1997).
const SPICA_RA_DEG: f64 = 201.298_247_35;
const SPICA_DEC_DEG: f64 = -11.161_319_49;
const SPICA_PM_RA_MAS: f64 = -42.50; // mu_alpha * cos(delta)
const SPICA_PM_DEC_MAS: f64 = -31.73;
/// J2000 obliquity (IAU 2006).
const EPS_J2000: f64 = 84_381.406 * ARCSEC;

/// Mean ayanamsa in degrees at `t` Julian centuries TT from J2000.
pub fn mean_ayanamsa(kind: Ayanamsa, t: f64) -> f64 {
    match kind.epoch() {
        Some((t0_jd, ayan_t0)) => {
            let p_t = ecliptic_precession(t);
            let p_t0 = ecliptic_precession((t0_jd - J2000) / 36_525.0);
            // mean equinox of date in J2000 ecliptic coordinates, then on the t0 ecliptic
            let x = mul_mv(&p_t0, mul_mtv(&p_t, [1.0, 0.0, 0.0]));
            let (lon, _) = lon_lat(x);
            let mut l = lon / DEG;
            if l > 180.0 {
                l -= 360.0;
            }
            ayan_t0 - l
        }
        None => {
            // Spica at epoch: proper motion (linear), J2000 equatorial -> ecliptic -> date.
            let years = t * 100.0;
            let dec = SPICA_DEC_DEG * DEG + SPICA_PM_DEC_MAS * 1e-3 * ARCSEC * years;
            let ra = SPICA_RA_DEG * DEG + SPICA_PM_RA_MAS * 1e-3 * ARCSEC * years / dec.cos();
            let (sr, cr) = sin_cos(ra);
            let (sd, cd) = sin_cos(dec);
            let eq = [cd * cr, cd * sr, sd];
            let (se, ce) = sin_cos(EPS_J2000);
            let ecl = [eq[0], ce * eq[1] + se * eq[2], -se * eq[1] + ce * eq[2]];
            let (lon, _) = lon_lat(mul_mv(&ecliptic_precession(t), ecl));
            (lon / DEG - 180.0).rem_euclid(360.0)
        }
    }
}

/// Rate of the mean ayanamsa, degrees per day.
pub fn mean_ayanamsa_rate(kind: Ayanamsa, t: f64) -> f64 {
    let h = 10.0 / 36_525.0;
    (mean_ayanamsa(kind, t + h) - mean_ayanamsa(kind, t - h)) / 20.0
}
