//! Vedic (jyotish) layer of the JyotiFlow astro engine.
//!
//! Pure computation on plain inputs: sidereal longitudes in degrees
//! (`[0, 360)`, other values are normalised), speeds in degrees/day and
//! instants as Julian days (UT). No ephemeris, no I/O. The `astro` crate
//! computes positions, houses and sunrises and re-exports this crate as
//! `astro::vedic`.
//!
//! Modules:
//! * [`types`]: [`Graha`], [`Rashi`], [`Nakshatra`], pada, sign position.
//! * [`dasha`]: Vimshottari balance and periods (three levels).
//! * [`panchang`]: tithi, nitya yoga, karana, vara, Rahu kalam.
//!
//! Every convention and its source is documented on the module that uses
//! it and summarised in the crate's `README.md`.

pub mod dasha;
pub mod panchang;
pub mod types;

pub use dasha::{
    dasha_balance, running_dasha, vimshottari_years, DashaBalance, DashaLevel, DashaPeriod,
    RunningDasha, Vimshottari, YearLength, VIMSHOTTARI_YEARS,
};
pub use panchang::{
    karana, nitya_yoga, panchang_limbs, rahu_kalam, tithi, vara_from_sunrise, weekday_of_jd,
    Karana, KaranaName, NityaYoga, Paksha, PanchangLimbs, TimeSpan, Tithi, Vara,
};
pub use types::{
    norm_deg, pada_index, Element, Graha, Modality, Nakshatra, NakshatraPada, Rashi, SignPosition,
    VIMSHOTTARI_LORDS,
};
