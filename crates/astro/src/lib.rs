//! JyotiFlow astro engine: the astronomical core.
//!
//! Pure computation (no I/O except the `astro` CLI binary). Given a UTC
//! instant (or a civil time and an IANA zone) and a place, it computes
//! geocentric apparent positions, the ascendant and houses, and, through the
//! Vedic layer [`vedic`] (the `astro-vedic` crate, re-exported), signs,
//! nakshatras, the Vimshottari dasha and panchang limbs.
//!
//! # Models and sources
//!
//! | quantity | model |
//! | --- | --- |
//! | planets, Earth | VSOP87A (Bretagnon & Francou 1988), truncated by amplitude |
//! | Moon | ELP/MPP02 (Chapront & Francou 2003), DE405 fit, truncated |
//! | Pluto (optional) | Meeus, *Astronomical Algorithms* ch. 37, 43 terms, valid 1885-2099 |
//! | precession | IAU 2006 (Capitaine et al. 2003), ecliptic angles |
//! | nutation | IAU 2000B (McCarthy & Luzum 2003) |
//! | obliquity | IAU 2006 |
//! | apparent place | light-time, solar light deflection, relativistic annual aberration (Explanatory Supplement 1992) |
//! | Delta-T | Espenak & Meeus 2006 before 2005; IERS yearly values 2005-2023; Swiss-Ephemeris-compatible forecast after (see [`time`]) |
//! | sidereal time | IAU 2006 GMST from the Earth rotation angle + equation of the equinoxes |
//! | mean node | Chapront et al. (Meeus 47.7) |
//! | true node | osculating node of the ELP geocentric orbit on the ecliptic of date |
//! | ayanamsa | Lahiri (default, *true* ayanamsa), Raman, Krishnamurti, True Chitra; see [`ayanamsa`] |
//! | houses | whole sign (default), equal, Placidus, Porphyry, Sripati; see [`houses`] |
//! | sunrise | upper limb, 34' refraction; see [`panchang`] |
//!
//! Conventions: UTC is used as UT1; longitudes in degrees `[0, 360)`, east
//! longitude and north latitude positive; speeds in degrees/day; sidereal
//! longitude = apparent tropical longitude - true ayanamsa.
//! Accuracy (1900-2050, against the Swiss Ephemeris' Moshier ephemeris): see
//! the crate README.
//!
//! # Example
//! ```
//! let opts = astro::ChartOptions::default();
//! let chart = astro::compute_chart(2_451_545.0, 28.6, 77.2, &opts).unwrap();
//! assert!(chart.grahas.sun.lon > 250.0 && chart.grahas.sun.lon < 260.0);
//! ```

pub mod ayanamsa;
pub mod chart;
pub mod ephem;
pub mod frames;
pub mod houses;
pub mod math;
pub mod panchang;
pub mod time;

pub(crate) mod tables {
    pub mod elpmpp02;
    pub mod nutation;
    pub mod pluto;
    pub mod vsop87a;
}

/// The Vedic layer (signs, nakshatras, dashas, vargas, panchang limbs).
pub use astro_vedic as vedic;

pub use ayanamsa::Ayanamsa;
pub use chart::{
    compute_chart, Chart, ChartAngle, ChartError, ChartOptions, GrahaPosition, Grahas, Houses,
    NodeKind, TithiAt, Zodiac,
};
pub use houses::{HouseError, HouseSystem};
pub use panchang::{limb_end, sunrise_sunset, vedic_day, Limb, PanchangError, VedicDay};
pub use time::{
    civil_to_utc, delta_t_seconds, jd_from_utc, parse_zone, utc_from_jd, Disambiguation, TimeError,
};

/// Compute a chart from a civil date and time in an IANA zone.
pub fn compute_chart_civil(
    date: chrono::NaiveDate,
    time: chrono::NaiveTime,
    zone: &str,
    policy: Disambiguation,
    lat: f64,
    lon: f64,
    options: &ChartOptions,
) -> Result<Chart, CivilChartError> {
    let tz = parse_zone(zone)?;
    let utc = civil_to_utc(date, time, tz, policy)?;
    Ok(compute_chart(jd_from_utc(&utc), lat, lon, options)?)
}

/// Errors of [`compute_chart_civil`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CivilChartError {
    /// Time conversion.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// Chart computation.
    #[error(transparent)]
    Chart(#[from] ChartError),
}
