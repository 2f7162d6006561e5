//! Panchang astronomy: sunrise and sunset, the Vedic day (vara), Rahu kalam
//! and the end times of tithi, nakshatra, yoga and karana.
//!
//! * Sunrise/sunset: the instant the Sun's *upper limb* touches the
//!   sea-level horizon with standard refraction (34'), i.e. the centre's
//!   true altitude is `-(34' + semidiameter)`; the semidiameter is
//!   959.63"/distance(AU). Same convention as `swe.rise_trans(...,
//!   CALC_RISE, ...)` with 1013.25 hPa and 15 °C.
//! * Vara: weekday of the local-mean-time date of the last sunrise at or
//!   before the instant (astro-vedic's `vara_from_sunrise`).
//! * End times: the next instant at which the sidereal elongation
//!   (tithi: 12° steps, karana: 6°), the Moon's longitude (nakshatra:
//!   13°20') or the sum of both longitudes (yoga: 13°20') reaches the next
//!   multiple of its span; solved by secant/Newton iteration on the
//!   positions (to ~1 s).

use astro_vedic::{rahu_kalam, vara_from_sunrise, TimeSpan, Vara};
use serde::{Deserialize, Serialize};

use crate::ayanamsa::{mean_ayanamsa, Ayanamsa};
use crate::ephem::{Body, Epoch};
use crate::math::{norm360, DEG};
use crate::time::gmst;

/// Errors of the panchang computations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PanchangError {
    /// The Sun does not rise or set on that day at that latitude.
    #[error("the Sun does not {event} near JD {jd:.3} at latitude {lat:.3}° (polar day or night)")]
    NoEvent {
        /// "rise" or "set".
        event: &'static str,
        /// Julian day searched.
        jd: f64,
        /// Latitude.
        lat: f64,
    },
    /// Bad input.
    #[error("invalid input: {0}")]
    Input(&'static str),
}

/// Sun's apparent right ascension, declination (radians) and distance (AU).
fn sun_equatorial(jd_ut: f64) -> (f64, f64, f64, Epoch) {
    let ep = Epoch::new(jd_ut);
    let a = ep.apparent(Body::Sun);
    let lon = a.lon + ep.nut.dpsi;
    let (se, ce) = ep.eps_true.sin_cos();
    let (sl, cl) = lon.sin_cos();
    let (sb, cb) = a.lat.sin_cos();
    let ra = (sl * cb * ce - sb * se).atan2(cl * cb);
    let dec = (sb * ce + cb * se * sl).asin();
    (ra, dec, a.dist, ep)
}

/// Rise (`rising = true`) or set of the Sun's upper limb nearest to `jd_guess` (UT).
pub fn sun_rise_set(jd_guess: f64, lat: f64, lon: f64, rising: bool) -> Result<f64, PanchangError> {
    if !(-90.0..=90.0).contains(&lat) || !lon.is_finite() || !jd_guess.is_finite() {
        return Err(PanchangError::Input("latitude/longitude/instant"));
    }
    let phi = lat * DEG;
    let mut jd = jd_guess;
    for _ in 0..8 {
        let (ra, dec, dist, ep) = sun_equatorial(jd);
        let h0 = -(34.0 / 60.0 + 959.63 / 3600.0 / dist) * DEG;
        let cos_h = (h0.sin() - phi.sin() * dec.sin()) / (phi.cos() * dec.cos());
        if !(-1.0..=1.0).contains(&cos_h) {
            return Err(PanchangError::NoEvent {
                event: if rising { "rise" } else { "set" },
                jd: jd_guess,
                lat,
            });
        }
        let target = if rising { -cos_h.acos() } else { cos_h.acos() };
        let gast = gmst(jd, ep.t) + ep.nut.dpsi * ep.eps_mean.cos();
        let ha = gast + lon * DEG - ra;
        let mut d = target - ha;
        d = (d + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        let step = d / std::f64::consts::TAU / 1.002_737_909_35;
        jd += step;
        if step.abs() < 1e-7 {
            break;
        }
    }
    Ok(jd)
}

fn lmt_midnight_ut(jd_ut: f64, lon: f64) -> f64 {
    (jd_ut + lon / 360.0 + 0.5).floor() - 0.5 - lon / 360.0
}

/// Sunrise and sunset of the civil (local mean time) day containing `jd_ut`.
pub fn sunrise_sunset(jd_ut: f64, lat: f64, lon: f64) -> Result<(f64, f64), PanchangError> {
    let mid = lmt_midnight_ut(jd_ut, lon);
    Ok((
        sun_rise_set(mid + 0.25, lat, lon, true)?,
        sun_rise_set(mid + 0.75, lat, lon, false)?,
    ))
}

/// The Vedic day containing an instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VedicDay {
    /// Vara (weekday of the sunrise's local-mean-time date).
    pub vara: Vara,
    /// 0 = Ravivara .. 6 = Shanivara.
    pub index: u8,
    /// Last sunrise at or before the instant, JD UT.
    pub sunrise_jd_ut: f64,
    /// Sunset following that sunrise, JD UT.
    pub sunset_jd_ut: f64,
    /// Next sunrise, JD UT.
    pub next_sunrise_jd_ut: f64,
    /// Rahu kalam of that day (an eighth of the daytime, by vara).
    pub rahu_kalam: TimeSpan,
}

/// The Vedic day (sunrise to sunrise) containing `jd_ut` at a place.
pub fn vedic_day(jd_ut: f64, lat: f64, lon: f64) -> Result<VedicDay, PanchangError> {
    let mid = lmt_midnight_ut(jd_ut, lon);
    let mut rise = sun_rise_set(mid + 0.25, lat, lon, true)?;
    let next;
    if rise > jd_ut {
        next = rise;
        rise = sun_rise_set(mid - 0.75, lat, lon, true)?;
    } else {
        next = sun_rise_set(mid + 1.25, lat, lon, true)?;
    }
    let set = sun_rise_set(rise + 0.5, lat, lon, false)?;
    let vara = vara_from_sunrise(rise, lon);
    Ok(VedicDay {
        vara,
        index: vara.index() as u8,
        sunrise_jd_ut: rise,
        sunset_jd_ut: set,
        next_sunrise_jd_ut: next,
        rahu_kalam: rahu_kalam(vara, rise, set),
    })
}

/// A panchang limb whose end time can be searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limb {
    /// Tithi: elongation in 12° steps.
    Tithi,
    /// Karana: elongation in 6° steps.
    Karana,
    /// Nakshatra of the Moon: 13°20' steps of the sidereal longitude.
    Nakshatra,
    /// Nitya yoga: 13°20' steps of sun + moon sidereal longitudes.
    Yoga,
}

impl Limb {
    fn span(self) -> f64 {
        match self {
            Limb::Tithi => 12.0,
            Limb::Karana => 6.0,
            Limb::Nakshatra | Limb::Yoga => 360.0 / 27.0,
        }
    }
}

/// The angle a limb is counted on (degrees) and its rate (degrees/day).
fn limb_angle(limb: Limb, jd_ut: f64, ayanamsa: Ayanamsa) -> (f64, f64) {
    let ep = Epoch::new(jd_ut);
    let ay = mean_ayanamsa(ayanamsa, ep.t);
    let m = ep.apparent(Body::Moon);
    match limb {
        Limb::Nakshatra => (norm360(m.lon / DEG - ay), m.lon_rate / DEG),
        _ => {
            let s = ep.apparent(Body::Sun);
            match limb {
                Limb::Yoga => (
                    norm360(m.lon / DEG + s.lon / DEG - 2.0 * ay),
                    (m.lon_rate + s.lon_rate) / DEG,
                ),
                _ => (
                    norm360(m.lon / DEG - s.lon / DEG),
                    (m.lon_rate - s.lon_rate) / DEG,
                ),
            }
        }
    }
}

/// End of the current tithi/karana/nakshatra/yoga after `jd_ut` (JD UT),
/// and the index (0-based, in units of the limb's span) that ends.
pub fn limb_end(limb: Limb, jd_ut: f64, ayanamsa: Ayanamsa) -> Result<(u32, f64), PanchangError> {
    let span = limb.span();
    let (a0, _) = limb_angle(limb, jd_ut, ayanamsa);
    let idx = (a0 / span).floor();
    let target = (idx + 1.0) * span;
    let mut jd = jd_ut;
    for _ in 0..30 {
        let (a, rate) = limb_angle(limb, jd, ayanamsa);
        // distance still to go, unwrapped around the target
        let mut togo = target - a;
        if togo > 180.0 {
            togo -= 360.0;
        } else if togo < -180.0 {
            togo += 360.0;
        }
        if rate <= 0.0 {
            return Err(PanchangError::Input("non-positive rate"));
        }
        let step = togo / rate;
        jd += step;
        if step.abs() < 1e-6 {
            break;
        }
    }
    Ok(((idx as u32) % ((360.0 / span).round() as u32), jd))
}
