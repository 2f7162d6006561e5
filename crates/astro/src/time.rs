//! Time scales: civil time with an IANA zone to UTC, Julian days, Delta-T and
//! sidereal time.
//!
//! * UTC is used as UT1 (no leap-second table, no DUT1; |UT1-UTC| < 0.9 s), as
//!   astrology software and `swe_julday` do.
//! * Delta-T (TT - UT1), [`delta_t_seconds`]:
//!   - before 2005: the polynomials of Espenak & Meeus (2006, "Five Millennium
//!     Canon of Solar Eclipses", NASA/TP-2006-214141), which follow the
//!     Morrison & Stephenson / IERS observed values to about 1 s;
//!   - 2005.0 to 2028.0: yearly values (1 January) of the IERS/USNO observed
//!     Delta-T up to 2023 and, for 2024-2028, the predictions tabulated by the
//!     Swiss Ephemeris 2.10 (to keep UT-based charts identical), linearly
//!     interpolated;
//!   - after 2028: `68.8 + 0.2355 B + 0.00122 B^2` s with `B = year - 2028`, a
//!     smooth extrapolation that reproduces the Swiss Ephemeris 2.10 forecast
//!     (74.6 s in 2050) to about 0.05 s. Any forecast beyond the last
//!     observation is uncertain by seconds per decade.
//! * Sidereal time: IAU 2006 GMST from the Earth rotation angle (Capitaine et
//!   al. 2003), apparent sidereal time with the IAU 2000B equation of the
//!   equinoxes.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

use crate::math::ARCSEC;

/// Julian day of the Unix epoch.
pub const JD_UNIX_EPOCH: f64 = 2_440_587.5;
/// Julian day of J2000.0 (2000-01-01 12:00 TT).
pub const J2000: f64 = 2_451_545.0;

/// Julian day (UT) of a UTC instant, counting UTC as UT1.
pub fn jd_from_utc(t: &DateTime<Utc>) -> f64 {
    let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9;
    JD_UNIX_EPOCH + secs / 86_400.0
}

/// UTC instant of a Julian day (UT), rounded to the millisecond.
pub fn utc_from_jd(jd: f64) -> Option<DateTime<Utc>> {
    let ms = ((jd - JD_UNIX_EPOCH) * 86_400_000.0).round();
    if !ms.is_finite() || ms.abs() > 1.0e17 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
}

/// Julian day of a proleptic Gregorian calendar date and a fractional hour.
pub fn julian_day(year: i32, month: u32, day: u32, hour: f64) -> f64 {
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 12)
    } else {
        (i64::from(year), i64::from(month))
    };
    let a = y.div_euclid(100);
    let b = 2 - a + a.div_euclid(4);
    (365.25 * (y + 4716) as f64).floor()
        + (30.6001 * (m + 1) as f64).floor()
        + f64::from(day)
        + b as f64
        - 1524.5
        + hour / 24.0
}

/// Decimal year of a Julian day (Julian years from J2000, good to ~1 day).
fn decimal_year(jd: f64) -> f64 {
    2000.0 + (jd - 2_451_544.5) / 365.2425
}

/// IERS/USNO observed Delta-T on 1 January 2005..2023, then the Swiss
/// Ephemeris 2.10 predictions for 2024..2028 (seconds).
const DT_TABLE_START: i32 = 2005;
const DT_TABLE: [f64; 24] = [
    64.69, 64.85, 65.15, 65.46, 65.78, 66.07, 66.32, 66.60, 66.91, 67.28, 67.64, 68.10, 68.59,
    68.97, 69.22, 69.36, 69.36, 69.29, 69.20, 69.10, 69.00, 68.90, 68.80, 68.80,
];

/// Delta-T = TT - UT1 in seconds for a Julian day (UT). See the module docs.
pub fn delta_t_seconds(jd_ut: f64) -> f64 {
    let y = decimal_year(jd_ut);
    if y < 1800.0 {
        let u = (y - 1820.0) / 100.0;
        return -20.0 + 32.0 * u * u;
    }
    if y < 1860.0 {
        let t = y - 1800.0;
        return 13.72 - 0.332_447 * t + 0.006_861_2 * t.powi(2) + 0.004_111_6 * t.powi(3)
            - 0.000_374_36 * t.powi(4)
            + 0.000_012_127_2 * t.powi(5)
            - 0.000_000_169_9 * t.powi(6)
            + 0.000_000_000_875 * t.powi(7);
    }
    if y < 1900.0 {
        let t = y - 1860.0;
        return 7.62 + 0.573_7 * t - 0.251_754 * t.powi(2) + 0.016_806_68 * t.powi(3)
            - 0.000_447_362_4 * t.powi(4)
            + t.powi(5) / 233_174.0;
    }
    if y < 1920.0 {
        let t = y - 1900.0;
        return -2.79 + 1.494_119 * t - 0.059_893_9 * t.powi(2) + 0.006_196_6 * t.powi(3)
            - 0.000_197 * t.powi(4);
    }
    if y < 1941.0 {
        let t = y - 1920.0;
        return 21.20 + 0.844_93 * t - 0.076_100 * t.powi(2) + 0.002_093_6 * t.powi(3);
    }
    if y < 1961.0 {
        let t = y - 1950.0;
        return 29.07 + 0.407 * t - t.powi(2) / 233.0 + t.powi(3) / 2547.0;
    }
    if y < 1986.0 {
        let t = y - 1975.0;
        return 45.45 + 1.067 * t - t.powi(2) / 260.0 - t.powi(3) / 718.0;
    }
    if y < f64::from(DT_TABLE_START) {
        let t = y - 2000.0;
        return 63.86 + 0.334_5 * t - 0.060_374 * t.powi(2)
            + 0.001_727_5 * t.powi(3)
            + 0.000_651_814 * t.powi(4)
            + 0.000_023_735_99 * t.powi(5);
    }
    let last = DT_TABLE.len() - 1;
    let x = y - f64::from(DT_TABLE_START);
    if x < last as f64 {
        let i = x.floor() as usize;
        let f = x - i as f64;
        return DT_TABLE[i] + f * (DT_TABLE[i + 1] - DT_TABLE[i]);
    }
    let b = x - last as f64;
    DT_TABLE[last] + 0.2355 * b + 0.00122 * b * b
}

/// Julian day (TT) of a Julian day (UT).
pub fn jd_tt(jd_ut: f64) -> f64 {
    jd_ut + delta_t_seconds(jd_ut) / 86_400.0
}

/// Earth rotation angle (radians, `[0, 2pi)`), IAU 2000.
pub fn earth_rotation_angle(jd_ut: f64) -> f64 {
    let du = jd_ut - J2000;
    let f = du.rem_euclid(1.0) + 0.779_057_273_264_0 + 0.002_737_811_911_354_48 * du;
    (TAU * f).rem_euclid(TAU)
}

/// Greenwich mean sidereal time (radians), IAU 2006: ERA plus the polynomial
/// in TT centuries `t_tt`.
pub fn gmst(jd_ut: f64, t_tt: f64) -> f64 {
    let t = t_tt;
    let poly = 0.014_506
        + t * (4_612.156_534
            + t * (1.391_581_7
                + t * (-0.000_000_44 + t * (-0.000_029_956 + t * -0.000_000_036_8))));
    (earth_rotation_angle(jd_ut) + poly * ARCSEC).rem_euclid(TAU)
}

/// Ambiguity policy for a civil time that falls into a DST fold or gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disambiguation {
    /// Take the earlier of the two UTC instants.
    Earlier,
    /// Take the later of the two UTC instants.
    Later,
    /// Return an error naming both candidates (default).
    #[default]
    Reject,
}

/// Errors of civil-time conversion.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeError {
    /// The zone name is not an IANA zone.
    #[error("unknown time zone {0:?} (expected an IANA name such as \"Asia/Kolkata\")")]
    UnknownZone(String),
    /// The local time occurs twice (DST fold).
    #[error("{local} is ambiguous in {zone} (clocks were set back): it is either {earlier} or {later}; choose Earlier or Later")]
    Ambiguous {
        /// The local time asked for.
        local: NaiveDateTime,
        /// The zone.
        zone: String,
        /// First occurrence, UTC.
        earlier: DateTime<Utc>,
        /// Second occurrence, UTC.
        later: DateTime<Utc>,
    },
    /// The local time does not exist (DST gap).
    #[error("{local} does not exist in {zone} (clocks were set forward): read with the offset before the change it is {before_offset}, with the offset after it {after_offset}; choose Earlier or Later")]
    Nonexistent {
        /// The local time asked for.
        local: NaiveDateTime,
        /// The zone.
        zone: String,
        /// The instant obtained with the UTC offset in force before the gap.
        before_offset: DateTime<Utc>,
        /// The instant obtained with the UTC offset in force after the gap.
        after_offset: DateTime<Utc>,
    },
    /// The date cannot be represented.
    #[error("date/time out of range")]
    OutOfRange,
}

/// Parse an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, TimeError> {
    name.parse::<Tz>()
        .map_err(|_| TimeError::UnknownZone(name.to_string()))
}

/// Civil date and time in a zone to UTC, using the zone's history.
pub fn civil_to_utc(
    date: NaiveDate,
    time: NaiveTime,
    zone: Tz,
    policy: Disambiguation,
) -> Result<DateTime<Utc>, TimeError> {
    let local = NaiveDateTime::new(date, time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            let (earlier, later) = if a <= b { (a, b) } else { (b, a) };
            match policy {
                Disambiguation::Earlier => Ok(earlier),
                Disambiguation::Later => Ok(later),
                Disambiguation::Reject => Err(TimeError::Ambiguous {
                    local,
                    zone: zone.name().to_string(),
                    earlier,
                    later,
                }),
            }
        }
        LocalResult::None => {
            // Offsets in force just before and just after the gap.
            let mut before = None;
            let mut after = None;
            for h in 1..=48 {
                let d = Duration::hours(h);
                if before.is_none() {
                    if let Some(lb) = local.checked_sub_signed(d) {
                        if let LocalResult::Single(t) = zone.from_local_datetime(&lb) {
                            before = Some(t.offset().fix().local_minus_utc());
                        }
                    }
                }
                if after.is_none() {
                    if let Some(la) = local.checked_add_signed(d) {
                        if let LocalResult::Single(t) = zone.from_local_datetime(&la) {
                            after = Some(t.offset().fix().local_minus_utc());
                        }
                    }
                }
                if before.is_some() && after.is_some() {
                    break;
                }
            }
            let (Some(ob), Some(oa)) = (before, after) else {
                return Err(TimeError::OutOfRange);
            };
            let to_utc = |off: i32| {
                local
                    .checked_sub_signed(Duration::seconds(i64::from(off)))
                    .map(|n| n.and_utc())
                    .ok_or(TimeError::OutOfRange)
            };
            let before_offset = to_utc(ob)?;
            let after_offset = to_utc(oa)?;
            let (earlier, later) = if before_offset <= after_offset {
                (before_offset, after_offset)
            } else {
                (after_offset, before_offset)
            };
            match policy {
                Disambiguation::Earlier => Ok(earlier),
                Disambiguation::Later => Ok(later),
                Disambiguation::Reject => Err(TimeError::Nonexistent {
                    local,
                    zone: zone.name().to_string(),
                    before_offset,
                    after_offset,
                }),
            }
        }
    }
}

use chrono::Offset;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn julian_day_known_values() {
        assert_eq!(julian_day(2000, 1, 1, 12.0), 2_451_545.0);
        assert_eq!(
            julian_day(1957, 10, 4, 19.0 + 26.0 / 60.0 + 24.0 / 3600.0),
            2_436_116.31
        );
        assert_eq!(julian_day(1987, 1, 27, 0.0), 2_446_822.5);
        let t = DateTime::<Utc>::from_timestamp(0, 0).expect("epoch");
        assert_eq!(jd_from_utc(&t), 2_440_587.5);
    }

    #[test]
    fn delta_t_is_continuous_and_plausible() {
        let mut prev = delta_t_seconds(julian_day(1800, 1, 1, 0.0));
        let mut jd = julian_day(1800, 1, 1, 0.0);
        while jd < julian_day(2100, 1, 1, 0.0) {
            jd += 5.0;
            let d = delta_t_seconds(jd);
            // the Espenak-Meeus segments join to within ~0.06 s
            assert!((d - prev).abs() < 0.1, "jump at {jd}: {prev} -> {d}");
            prev = d;
        }
        // published anchors (IERS): 1950.0 29.07 s, 2000.0 63.83 s, 2020.0 69.36 s
        assert!((delta_t_seconds(julian_day(1950, 1, 1, 0.0)) - 29.07).abs() < 0.3);
        assert!((delta_t_seconds(julian_day(2000, 1, 1, 0.0)) - 63.83).abs() < 0.3);
        assert!((delta_t_seconds(julian_day(2020, 1, 1, 0.0)) - 69.36).abs() < 0.05);
    }
}
