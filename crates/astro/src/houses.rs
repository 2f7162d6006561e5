//! Ascendant, MC and house cusps.
//!
//! Angles from the apparent sidereal time and the true obliquity (standard
//! spherical astronomy, e.g. Meeus, *Astronomical Algorithms*, ch. 13-14).
//! House systems: whole sign (default for Vedic charts), equal (from the
//! ascendant), Placidus (time division of the semi-arcs, solved by fixed-point
//! iteration; undefined where ecliptic points become circumpolar, roughly
//! |latitude| > 90° - obliquity), Porphyry (quadrants trisected in longitude)
//! and Sripati (the Porphyry cusps' midpoints, bhava madhya to sandhi).

use serde::{Deserialize, Serialize};

use crate::math::{norm360, DEG};

/// A house system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseSystem {
    /// Whole-sign houses: house 1 is the ascendant's sign.
    #[default]
    WholeSign,
    /// Equal houses of 30° from the ascendant.
    Equal,
    /// Placidus.
    Placidus,
    /// Porphyry.
    Porphyry,
    /// Sripati.
    Sripati,
}

impl HouseSystem {
    /// Parse a name.
    pub fn from_name(s: &str) -> Option<HouseSystem> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "whole_sign" | "wholesign" | "w" => Some(HouseSystem::WholeSign),
            "equal" | "e" => Some(HouseSystem::Equal),
            "placidus" | "p" => Some(HouseSystem::Placidus),
            "porphyry" | "o" => Some(HouseSystem::Porphyry),
            "sripati" | "s" => Some(HouseSystem::Sripati),
            _ => None,
        }
    }
}

/// Errors of house computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HouseError {
    /// Placidus cusps do not exist at this latitude and time.
    #[error("Placidus houses are undefined at latitude {lat:.4}°: ecliptic points are circumpolar beyond about {limit:.2}° (90° - obliquity); use whole-sign, equal or Porphyry houses")]
    PlacidusUndefined {
        /// Geographic latitude, degrees.
        lat: f64,
        /// The limit, degrees.
        limit: f64,
    },
    /// The latitude is outside [-90, 90] or not finite.
    #[error("invalid latitude {0}")]
    BadLatitude(f64),
}

/// Tropical ascendant and MC (degrees) from the local apparent sidereal time
/// `armc` (radians), the true obliquity `eps` and the latitude `lat` (radians).
pub fn angles(armc: f64, eps: f64, lat: f64) -> (f64, f64) {
    let (sa, ca) = armc.sin_cos();
    let (se, ce) = eps.sin_cos();
    let asc = ca.atan2(-(sa * ce + lat.tan() * se));
    let mc = sa.atan2(ca * ce);
    (norm360(asc / DEG), norm360(mc / DEG))
}

/// Ecliptic longitude (rad) of the point of the ecliptic with right ascension `ra`.
#[inline]
fn lon_of_ra(ra: f64, ce: f64) -> f64 {
    let (s, c) = ra.sin_cos();
    s.atan2(c * ce)
}

/// Tropical Placidus cusps (degrees), houses 1..12.
pub fn placidus(armc: f64, eps: f64, lat: f64, asc: f64, mc: f64) -> Result<[f64; 12], HouseError> {
    let limit = 90.0 - eps / DEG;
    if lat.abs() / DEG >= limit {
        return Err(HouseError::PlacidusUndefined {
            lat: lat / DEG,
            limit,
        });
    }
    let (se, ce) = eps.sin_cos();
    let tphi = lat.tan();
    // cusp: ra = armc + base + k * AD(ra)
    let solve = |base: f64, k: f64| -> Result<f64, HouseError> {
        let mut ra = armc + base;
        for _ in 0..100 {
            let lon = lon_of_ra(ra, ce);
            let dec = (se * lon.sin()).asin();
            let x = tphi * dec.tan();
            if x.abs() >= 1.0 {
                return Err(HouseError::PlacidusUndefined {
                    lat: lat / DEG,
                    limit,
                });
            }
            let new = armc + base + k * x.asin();
            let d = new - ra;
            ra = new;
            if d.abs() < 1e-12 {
                break;
            }
        }
        Ok(norm360(lon_of_ra(ra, ce) / DEG))
    };
    let c11 = solve(30.0 * DEG, 1.0 / 3.0)?;
    let c12 = solve(60.0 * DEG, 2.0 / 3.0)?;
    let c2 = solve(120.0 * DEG, 2.0 / 3.0)?;
    let c3 = solve(150.0 * DEG, 1.0 / 3.0)?;
    let mut c = [0.0; 12];
    c[0] = asc;
    c[1] = c2;
    c[2] = c3;
    c[3] = norm360(mc + 180.0);
    c[4] = norm360(c11 + 180.0);
    c[5] = norm360(c12 + 180.0);
    c[6] = norm360(asc + 180.0);
    c[7] = norm360(c2 + 180.0);
    c[8] = norm360(c3 + 180.0);
    c[9] = mc;
    c[10] = c11;
    c[11] = c12;
    Ok(c)
}

/// Porphyry cusps (degrees) from the ascendant and MC.
pub fn porphyry(asc: f64, mc: f64) -> [f64; 12] {
    let ic = norm360(mc + 180.0);
    let q1 = norm360(ic - asc) / 3.0; // houses 1-3
    let q2 = norm360(asc - mc) / 3.0; // houses 10-12
    let mut c = [0.0; 12];
    c[0] = asc;
    c[1] = norm360(asc + q1);
    c[2] = norm360(asc + 2.0 * q1);
    c[3] = ic;
    c[9] = mc;
    c[10] = norm360(mc + q2);
    c[11] = norm360(mc + 2.0 * q2);
    for i in 4..9 {
        c[i] = norm360(c[(i + 6) % 12] + 180.0);
    }
    c
}

/// Sripati cusps: midpoints of consecutive Porphyry cusps.
pub fn sripati(asc: f64, mc: f64) -> [f64; 12] {
    let p = porphyry(asc, mc);
    let mut c = [0.0; 12];
    for i in 0..12 {
        let prev = p[(i + 11) % 12];
        c[i] = norm360(prev + norm360(p[i] - prev) / 2.0);
    }
    c
}

/// Equal houses from the ascendant.
pub fn equal(asc: f64) -> [f64; 12] {
    let mut c = [0.0; 12];
    for (i, x) in c.iter_mut().enumerate() {
        *x = norm360(asc + 30.0 * i as f64);
    }
    c
}

/// Whole-sign cusps from a (sidereal) ascendant.
pub fn whole_sign(asc: f64) -> [f64; 12] {
    let first = (norm360(asc) / 30.0).floor();
    let mut c = [0.0; 12];
    for (i, x) in c.iter_mut().enumerate() {
        *x = ((first + i as f64) % 12.0) * 30.0;
    }
    c
}
