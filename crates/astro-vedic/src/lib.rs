//! Vedic (jyotish) layer of the JyotiFlow astro engine.
//!
//! Pure computation on plain inputs: sidereal longitudes in degrees
//! (`[0, 360)`; other values are normalised), speeds in degrees/day and
//! instants as Julian days (UT). No ephemeris, no I/O, no panics on any
//! input (non-finite values give clamped, meaningless but valid indices).
//! The `astro` crate computes positions, houses and sunrises and
//! re-exports this crate as `astro::vedic`.
//!
//! Modules:
//! * [`types`]: [`Graha`], [`Rashi`], [`Nakshatra`], pada, sign position.
//! * [`dignity`](mod@dignity): exaltation, moolatrikona, friendships, combustion.
//! * [`chart`]: per-graha and ascendant analysis ([`analyze_chart`]).
//! * [`dasha`]: Vimshottari balance and periods (three levels).
//! * [`varga`]: divisional charts D1..D60 (Parashari).
//! * [`panchang`]: tithi, nitya yoga, karana (also as non-allocating
//!   indices: [`tithi_index`], [`yoga_index`], [`karana_index`]), vara, Rahu kalam.
//! * [`yogas`]: Gaja Kesari, Budhaditya, Pancha Mahapurusha, Kemadruma,
//!   Chandra-Mangala, Kuja dosha.
//! * [`matching`]: ashtakoota (guna milan, 36 points).
//!
//! Every convention and its source is documented on the module that uses
//! it and summarised in the crate's `README.md`.

pub mod chart;
pub mod dasha;
pub mod dignity;
pub mod matching;
pub mod panchang;
pub mod types;
pub mod varga;
pub mod yogas;

pub use chart::{
    analyze_chart, analyze_lagna, ChartAnalysis, ChartInput, GrahaPosition, GrahaState,
    LagnaPosition, NodeKind,
};
pub use dasha::{
    dasha_balance, running_dasha, vimshottari_years, DashaBalance, DashaLevel, DashaPeriod,
    RunningDasha, Vimshottari, YearLength, VIMSHOTTARI_YEARS,
};
pub use dignity::{dignity, is_combust, CompoundRelation, Dignity, Relation};
pub use matching::{ashtakoota, ashtakoota_from_nakshatra, Ashtakoota, Koota, KootaKind};
pub use panchang::{
    gulika_kalam, karana, karana_index, nitya_yoga, panchang_limbs, rahu_kalam, tithi, tithi_index,
    vara_from_sunrise, weekday_of_jd, yamaganda, yoga_index, Karana, KaranaName, NityaYoga, Paksha,
    PanchangLimbs, TimeSpan, Tithi, Vara,
};
pub use types::{
    norm_deg, pada_index, Element, Graha, Modality, Nakshatra, NakshatraPada, Rashi, SignPosition,
    NAKSHATRA_SPAN, PADA_SPAN, VIMSHOTTARI_LORDS,
};
pub use varga::{
    varga_chart, varga_position, varga_sign, GrahaVarga, Varga, VargaChart, VargaPosition,
};
pub use yogas::{detect_yogas, kuja_dosha, KujaDosha, YogaKind, YogaResult};
