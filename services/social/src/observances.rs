//! Hindu observances from the tithi, for a place and a range of civil dates,
//! and the day-before announcements the content calendar posts.
//!
//! Everything astronomical is the project's engine: tithi boundaries are
//! [`astro::limb_end`] (Newton on the Moon-Sun elongation), sunrise and
//! sunset [`astro::sunrise_sunset`] (upper limb, 34' refraction), the Sun's
//! sidereal sign [`astro::compute_chart`] (Lahiri). Moonrise is not in the
//! engine's API, so [`moonrise_near`] computes it here from the engine's
//! apparent Moon ([`astro::ephem::Epoch`]) and sidereal time; it belongs in
//! `astro::panchang` and should move there.
//!
//! # Method
//!
//! The tithi boundaries covering the range (plus a few days) are found once
//! each, by chaining `limb_end` from one boundary to the next (about 30
//! root-finds per lunar month, never a per-minute scan). Each civil date of
//! the place's zone gets its sunrise, sunset and next sunrise. Then every
//! occurrence of an observance's tithi is given to exactly one civil date by
//! the rule of its kind, evaluated at that kind's *deciding time*:
//!
//! | kind | tithi | deciding time of civil date D |
//! | --- | --- | --- |
//! | Ekadashi | 11 (shukla), 26 (krishna) | sunrise of D |
//! | Purnima | 15 | sunrise of D |
//! | Amavasya | 30 | sunrise of D |
//! | Pradosham | 13, 28 (trayodashi) | pradosha kala: sunset of D ± 1 h 30 min |
//! | Sankashti Chaturthi | 19 (krishna chaturthi) | the first moonrise after sunset of D, before the next sunrise |
//! | Masik / Maha Shivaratri | 29 (krishna chaturdashi) | nishita kala: the 8th of the 15 muhurtas of the night after D's sunset |
//!
//! * **Prevailing**: the tithi covers the deciding time of exactly one date.
//! * **Vriddhi** (it covers the deciding time of two consecutive dates):
//!   for the sunrise and moonrise kinds the *first* date (the smarta
//!   choice); for the window kinds (pradosha, nishita) the date whose window
//!   it covers longer, the first on a tie.
//! * **Kshaya** (it covers no deciding time): for the sunrise kinds the
//!   date on which it begins (the sunrise-to-sunrise day containing its
//!   start); for the others the date whose deciding time is nearest to it.
//!
//! # Rules and sources
//!
//! * *Udaya tithi*: the tithi current at sunrise is the tithi of the civil
//!   day; this is the ordinary panchang convention (e.g. Dharmasindhu,
//!   Nirnayasindhu's tithi-nirnaya; the same convention is the `tithi` of the
//!   charts service's `/panchang`, taken at sunrise).
//! * *Ekadashi*: the smarta rule as usually summarised from Dharmasindhu:
//!   the Ekadashi current at sunrise; when it is current at two sunrises
//!   (vriddhi) grihasthas fast on the first; a kshaya Ekadashi (current at
//!   no sunrise) is kept on the day it begins, as the brief for this module
//!   asks. **Not** implemented: the Vaishnava rule (Hari Bhakti Vilasa:
//!   an Ekadashi touched by Dashami at arunodaya, 96 minutes before sunrise,
//!   is rejected and the fast moves to the next day), Mahadvadashis, or the
//!   Parana (fast-breaking) window. Vaishnava calendars (ISKCON) will differ
//!   on some dates.
//! * *Purnima / Amavasya*: the same sunrise rule (with the same vriddhi and
//!   kshaya handling). Calendars that list the Purnima *vrata* by moonrise
//!   or the Amavasya for shraddha by aparahna can differ by a day.
//! * *Pradosham*: trayodashi at pradosha kala (Skanda Purana's Pradosha
//!   vrata, as summarised in Nirnayasindhu). The window is the common South
//!   Indian reading "1½ hours before to 1½ hours after sunset"
//!   ([`PRADOSHA_HALF_WIDTH_H`]); some panchangs count pradosha only after
//!   sunset, which can move a Pradosham by a day.
//! * *Sankashti Chaturthi*: krishna chaturthi at moonrise (chandrodaya
//!   vyapini): the fast is broken on sighting the Moon.
//! * *Masik Shivaratri*: krishna chaturdashi at nishita kala (nishitha
//!   vyapini chaturdashi, Dharmasindhu); nishita is the 8th muhurta of the
//!   night divided into 15. **Maha Shivaratri** is the one of the *amanta*
//!   month Magha (the same day is called Phalguna krishna chaturdashi in the
//!   *purnimanta* reckoning of North India); it is reported with kind
//!   [`ObservanceKind::MahaShivaratri`] instead of `MasikShivaratri`.
//! * *Lunar month* (amanta, new moon to new moon): named by the Sun's
//!   sidereal (Lahiri) sign at the new moon that begins it (Sun in Meena ->
//!   Chaitra, ..., Makara -> Magha, Kumbha -> Phalguna); *adhika* when the Sun
//!   is still in the same sign at the new moon that ends it (no sankranti in
//!   the month). This is the rule of the Indian Calendar Reform Committee
//!   (1955) and of Reingold & Dershowitz, *Calendrical Calculations*, ch.
//!   "Modern Hindu Calendars" (with the engine's true positions instead of
//!   the Surya Siddhanta's). Kshaya months (two sankrantis; next in 2124)
//!   are not treated specially.
//!
//! All instants are UTC; dates are civil dates in the place's zone.

use std::cell::RefCell;
use std::collections::BTreeMap;

use astro::ephem::{Body, Epoch, AU_KM};
use astro::vedic::Paksha;
use astro::{Ayanamsa, ChartOptions, Limb};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Half width of pradosha kala around sunset, hours.
pub const PRADOSHA_HALF_WIDTH_H: f64 = 1.5;

/// Longest range [`observances`] accepts, days.
pub const MAX_RANGE_DAYS: u64 = 3_700;

/// Mean daily motion of the Moon away from the Sun, degrees/day.
const MEAN_ELONGATION_RATE: f64 = 360.0 / 29.530_589;

/// A place: latitude (north positive), longitude (east positive), IANA zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    lat: f64,
    lon: f64,
    tz: Tz,
}

impl Place {
    /// Validate a place: `lat` in [-66, 66] (the Sun rises and sets every
    /// day), `lon` in [-180, 180], `tz` an IANA zone name.
    pub fn new(lat: f64, lon: f64, tz: &str) -> Result<Place, ObservanceError> {
        if !(lat.is_finite() && (-66.0..=66.0).contains(&lat)) {
            return Err(ObservanceError::Latitude(lat));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(ObservanceError::Longitude(lon));
        }
        let tz = tz
            .parse::<Tz>()
            .map_err(|_| ObservanceError::UnknownZone(tz.to_owned()))?;
        Ok(Place { lat, lon, tz })
    }

    /// Latitude, degrees north.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude, degrees east.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// Zone of the civil dates.
    pub fn tz(&self) -> Tz {
        self.tz
    }
}

/// Errors of [`observances`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObservanceError {
    /// Latitude outside [-66, 66] (or not finite).
    #[error("latitude {0} is outside [-66, 66] (sunrise must exist every day)")]
    Latitude(f64),
    /// Longitude outside [-180, 180] (or not finite).
    #[error("longitude {0} is outside [-180, 180]")]
    Longitude(f64),
    /// Not an IANA zone.
    #[error("unknown time zone {0:?}; expected an IANA name such as \"Asia/Kolkata\"")]
    UnknownZone(String),
    /// `from` after `to`, or the range too long.
    #[error("date range {from}..={to} is invalid: {reason}")]
    Range {
        /// First date.
        from: NaiveDate,
        /// Last date.
        to: NaiveDate,
        /// What is wrong.
        reason: &'static str,
    },
    /// The engine failed (dates outside its range, no sunrise, ...).
    #[error("astro engine: {0}")]
    Engine(String),
}

/// What is observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservanceKind {
    /// Tithi 11 or 26 at sunrise.
    Ekadashi,
    /// Trayodashi (13 or 28) at pradosha kala.
    Pradosham,
    /// Tithi 15 at sunrise.
    Purnima,
    /// Tithi 30 at sunrise.
    Amavasya,
    /// Krishna chaturthi (19) at moonrise.
    SankashtiChaturthi,
    /// Krishna chaturdashi (29) at nishita kala.
    MasikShivaratri,
    /// The masik Shivaratri of the amanta month Magha.
    MahaShivaratri,
}

impl ObservanceKind {
    /// Every kind, in the order observances of one date are listed.
    pub const ALL: [ObservanceKind; 7] = [
        ObservanceKind::Ekadashi,
        ObservanceKind::Pradosham,
        ObservanceKind::Purnima,
        ObservanceKind::Amavasya,
        ObservanceKind::SankashtiChaturthi,
        ObservanceKind::MasikShivaratri,
        ObservanceKind::MahaShivaratri,
    ];

    /// The tithi numbers (1..=30) of this kind.
    pub fn tithis(self) -> &'static [u8] {
        match self {
            ObservanceKind::Ekadashi => &[11, 26],
            ObservanceKind::Pradosham => &[13, 28],
            ObservanceKind::Purnima => &[15],
            ObservanceKind::Amavasya => &[30],
            ObservanceKind::SankashtiChaturthi => &[19],
            ObservanceKind::MasikShivaratri | ObservanceKind::MahaShivaratri => &[29],
        }
    }

    /// When the tithi is looked at.
    pub fn deciding_time(self) -> DecidingTime {
        match self {
            ObservanceKind::Ekadashi | ObservanceKind::Purnima | ObservanceKind::Amavasya => {
                DecidingTime::Sunrise
            }
            ObservanceKind::Pradosham => DecidingTime::PradoshaKala,
            ObservanceKind::SankashtiChaturthi => DecidingTime::Moonrise,
            ObservanceKind::MasikShivaratri | ObservanceKind::MahaShivaratri => {
                DecidingTime::NishitaKala
            }
        }
    }
}

/// The moment or window of a civil date at which the tithi decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidingTime {
    /// Sunrise of the date.
    Sunrise,
    /// Sunset ± [`PRADOSHA_HALF_WIDTH_H`].
    PradoshaKala,
    /// The first moonrise after the date's sunset, before the next sunrise.
    Moonrise,
    /// The 8th of 15 equal parts of the night after the date's sunset.
    NishitaKala,
}

/// How the date was chosen (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The tithi covers the deciding time of this date only.
    Prevailing,
    /// It covers the deciding time of two dates; this one was chosen.
    Vriddhi,
    /// It covers no deciding time; the date it begins on (sunrise kinds) or
    /// the nearest one (the others).
    Kshaya,
}

/// Amanta lunar months (new moon to new moon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Masa {
    Chaitra,
    Vaishakha,
    Jyeshtha,
    Ashadha,
    Shravana,
    Bhadrapada,
    Ashvina,
    Kartika,
    Margashirsha,
    Pausha,
    Magha,
    Phalguna,
}

impl Masa {
    const ALL: [Masa; 12] = [
        Masa::Chaitra,
        Masa::Vaishakha,
        Masa::Jyeshtha,
        Masa::Ashadha,
        Masa::Shravana,
        Masa::Bhadrapada,
        Masa::Ashvina,
        Masa::Kartika,
        Masa::Margashirsha,
        Masa::Pausha,
        Masa::Magha,
        Masa::Phalguna,
    ];

    /// The month that begins with the Sun in sidereal sign `rashi`
    /// (0 = Mesha .. 11 = Meena): Meena -> Chaitra, Mesha -> Vaishakha, ...
    pub fn from_sun_sign_at_start(rashi: u8) -> Masa {
        Masa::ALL[(usize::from(rashi) + 1) % 12]
    }
}

/// An amanta lunar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LunarMonth {
    /// Its name.
    pub masa: Masa,
    /// No sankranti between its new moons.
    pub adhika: bool,
    /// The new moon that begins it.
    pub start: DateTime<Utc>,
    /// The new moon that ends it.
    pub end: DateTime<Utc>,
}

/// One observance at a place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observance {
    /// What.
    pub kind: ObservanceKind,
    /// Civil date in the place's zone.
    pub date: NaiveDate,
    /// 1..=30.
    pub tithi_number: u8,
    /// When the tithi begins.
    pub tithi_start: DateTime<Utc>,
    /// When it ends.
    pub tithi_end: DateTime<Utc>,
    /// Shukla (1..=15) or krishna (16..=30).
    pub paksha: Paksha,
    /// The deciding instant of `date`: sunrise, sunset (the centre of
    /// pradosha kala), moonrise or the middle of nishita kala. `None` only
    /// for a Sankashti night without moonrise.
    pub decided_at: Option<DateTime<Utc>>,
    /// How `date` was chosen.
    pub decision: Decision,
    /// The amanta month the tithi belongs to.
    pub month: LunarMonth,
}

/// Observances on every civil date `from..=to` at `place`, ordered by date
/// and then by [`ObservanceKind`].
pub fn observances(
    place: &Place,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Observance>, ObservanceError> {
    if from > to {
        return Err(ObservanceError::Range {
            from,
            to,
            reason: "the first date is after the last",
        });
    }
    if (to - from).num_days() as u64 > MAX_RANGE_DAYS {
        return Err(ObservanceError::Range {
            from,
            to,
            reason: "longer than MAX_RANGE_DAYS",
        });
    }
    let first = sub_days(from, 3)?;
    let last = add_days(to, 3)?;
    let days = civil_days(place, first, last)?;
    let (Some(d0), Some(dn)) = (days.first(), days.last()) else {
        return Err(ObservanceError::Engine("no days".into()));
    };
    let table = tithi_table(d0.sunrise, dn.next_sunrise)?;
    // A tithi is decided here only when every date it could fall on is in
    // `days` (it could touch the deciding times of the dates around it).
    let (lo, hi) = (d0.sunrise + 1.0, dn.next_sunrise - 1.0);
    let months = MonthCache::new(place);
    let mut out = Vec::new();
    for t in table.iter().filter(|t| t.start >= lo && t.end <= hi) {
        for kind in ObservanceKind::ALL {
            if kind == ObservanceKind::MahaShivaratri || !kind.tithis().contains(&t.number) {
                continue;
            }
            let Some((i, decision)) = choose_day(place, kind.deciding_time(), t, &days) else {
                continue;
            };
            let day = &days[i];
            if day.date < from || day.date > to {
                continue;
            }
            let month = months.month_of(t)?;
            let kind = if kind == ObservanceKind::MasikShivaratri
                && month.masa == Masa::Magha
                && !month.adhika
            {
                ObservanceKind::MahaShivaratri
            } else {
                kind
            };
            let decided_at = match deciding(place, kind.deciding_time(), day) {
                Some(m) => Some(utc(m.centre())?),
                None => None,
            };
            out.push(Observance {
                kind,
                date: day.date,
                tithi_number: t.number,
                tithi_start: utc(t.start)?,
                tithi_end: utc(t.end)?,
                paksha: if t.number <= 15 {
                    Paksha::Shukla
                } else {
                    Paksha::Krishna
                },
                decided_at,
                decision,
                month,
            });
        }
    }
    out.sort_by_key(|o| (o.date, o.kind));
    Ok(out)
}

/// What to announce on `date`: the observances of the next day.
pub fn announcements_for(
    place: &Place,
    date: NaiveDate,
) -> Result<Vec<Observance>, ObservanceError> {
    let next = add_days(date, 1)?;
    observances(place, next, next)
}

// ---------------------------------------------------------------------------
// days, tithis and deciding times

/// A civil date with its sunrise, sunset and the next date's sunrise (JD UT).
#[derive(Debug, Clone, Copy)]
struct Day {
    date: NaiveDate,
    sunrise: f64,
    sunset: f64,
    next_sunrise: f64,
}

/// A tithi: number 1..=30 and its span `[start, end)` (JD UT).
#[derive(Debug, Clone, Copy)]
struct TithiSpan {
    number: u8,
    start: f64,
    end: f64,
}

fn engine<E: std::fmt::Display>(e: E) -> ObservanceError {
    ObservanceError::Engine(e.to_string())
}

fn add_days(d: NaiveDate, n: u64) -> Result<NaiveDate, ObservanceError> {
    d.checked_add_days(Days::new(n))
        .ok_or_else(|| ObservanceError::Engine(format!("date {d} + {n} days out of range")))
}

fn sub_days(d: NaiveDate, n: u64) -> Result<NaiveDate, ObservanceError> {
    d.checked_sub_days(Days::new(n))
        .ok_or_else(|| ObservanceError::Engine(format!("date {d} - {n} days out of range")))
}

fn utc(jd: f64) -> Result<DateTime<Utc>, ObservanceError> {
    astro::utc_from_jd(jd).ok_or_else(|| ObservanceError::Engine(format!("JD {jd} out of range")))
}

/// JD UT of local noon of a civil date (noon exists in every zone).
fn local_noon(tz: Tz, d: NaiveDate) -> Result<f64, ObservanceError> {
    let noon = d.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN));
    let t = tz
        .from_local_datetime(&noon)
        .earliest()
        .ok_or_else(|| ObservanceError::Engine(format!("{d} 12:00 does not exist in {tz}")))?;
    Ok(astro::jd_from_utc(&t.with_timezone(&Utc)))
}

/// Sunrise, sunset and next sunrise of every civil date `first..=last`.
fn civil_days(
    place: &Place,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<Day>, ObservanceError> {
    let mut rs = Vec::new();
    let mut d = first;
    loop {
        let noon = local_noon(place.tz, d)?;
        let (rise, set) = astro::sunrise_sunset(noon, place.lat, place.lon).map_err(engine)?;
        rs.push((d, rise, set));
        if d > last {
            break;
        }
        d = add_days(d, 1)?;
    }
    Ok(rs
        .windows(2)
        .map(|w| Day {
            date: w[0].0,
            sunrise: w[0].1,
            sunset: w[0].2,
            next_sunrise: w[1].1,
        })
        .collect())
}

/// End of the tithi current just after `jd`, and that tithi's number.
fn tithi_end_after(jd: f64) -> Result<(u8, f64), ObservanceError> {
    let (idx, end) = astro::limb_end(Limb::Tithi, jd, Ayanamsa::Lahiri).map_err(engine)?;
    Ok(((idx % 30) as u8 + 1, end))
}

/// Every complete tithi between `from` and `to` (JD UT): one root-find per
/// boundary, each started just past the previous boundary.
fn tithi_table(from: f64, to: f64) -> Result<Vec<TithiSpan>, ObservanceError> {
    // Past a boundary by ~8.6 s: well beyond the solver's tolerance (~0.1 s)
    // and far shorter than any tithi (> 19 h).
    const STEP: f64 = 1.0e-4;
    let (mut number, mut start) = tithi_end_after(from)?;
    let mut out = Vec::new();
    let limit = ((to - from) * 1.2) as usize + 4;
    while start < to {
        let expected = number % 30 + 1;
        let (mut n, mut end) = tithi_end_after(start + STEP)?;
        if n == number {
            // still in the old tithi (the boundary was found slightly early)
            (n, end) = tithi_end_after(end + STEP)?;
        }
        if n != expected || end <= start || out.len() > limit {
            return Err(ObservanceError::Engine(format!(
                "tithi boundaries out of order near JD {start:.5}: expected tithi {expected}, found {n}"
            )));
        }
        out.push(TithiSpan {
            number: n,
            start,
            end,
        });
        number = n;
        start = end;
    }
    Ok(out)
}

/// A deciding instant or window (JD UT).
#[derive(Debug, Clone, Copy)]
enum Moment {
    Instant(f64),
    Window(f64, f64),
}

impl Moment {
    fn centre(self) -> f64 {
        match self {
            Moment::Instant(t) => t,
            Moment::Window(a, b) => 0.5 * (a + b),
        }
    }

    /// How long the tithi covers it (`Some(0.0)` for a covered instant),
    /// `None` if not at all.
    fn overlap(self, t: &TithiSpan) -> Option<f64> {
        match self {
            Moment::Instant(x) => (t.start <= x && x < t.end).then_some(0.0),
            Moment::Window(a, b) => {
                let o = b.min(t.end) - a.max(t.start);
                (o > 0.0).then_some(o)
            }
        }
    }

    /// Time between it and the tithi (0 if they overlap).
    fn distance(self, t: &TithiSpan) -> f64 {
        let (a, b) = match self {
            Moment::Instant(x) => (x, x),
            Moment::Window(a, b) => (a, b),
        };
        (a - t.end).max(t.start - b).max(0.0)
    }
}

/// The deciding time of a civil date.
fn deciding(place: &Place, kind: DecidingTime, day: &Day) -> Option<Moment> {
    match kind {
        DecidingTime::Sunrise => Some(Moment::Instant(day.sunrise)),
        DecidingTime::PradoshaKala => {
            let h = PRADOSHA_HALF_WIDTH_H / 24.0;
            Some(Moment::Window(day.sunset - h, day.sunset + h))
        }
        DecidingTime::Moonrise => moonrise_in_night(place, day).map(Moment::Instant),
        DecidingTime::NishitaKala => {
            let muhurta = (day.next_sunrise - day.sunset) / 15.0;
            Some(Moment::Window(
                day.sunset + 7.0 * muhurta,
                day.sunset + 8.0 * muhurta,
            ))
        }
    }
}

/// The date (index into `days`) a tithi is observed on, and why.
fn choose_day(
    place: &Place,
    kind: DecidingTime,
    t: &TithiSpan,
    days: &[Day],
) -> Option<(usize, Decision)> {
    let near: Vec<(usize, Moment)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.sunrise >= t.start - 2.0 && d.sunrise <= t.end + 1.0)
        .filter_map(|(i, d)| deciding(place, kind, d).map(|m| (i, m)))
        .collect();
    let covered: Vec<(usize, f64)> = near
        .iter()
        .filter_map(|&(i, m)| m.overlap(t).map(|o| (i, o)))
        .collect();
    match covered.as_slice() {
        [] => {
            let i = match kind {
                // the sunrise-to-sunrise day in which it begins
                DecidingTime::Sunrise => days
                    .iter()
                    .position(|d| d.sunrise <= t.start && t.start < d.next_sunrise)?,
                _ => {
                    near.iter()
                        .min_by(|a, b| a.1.distance(t).total_cmp(&b.1.distance(t)))?
                        .0
                }
            };
            Some((i, Decision::Kshaya))
        }
        [(i, _)] => Some((*i, Decision::Prevailing)),
        [(first, _), ..] => {
            let i = match kind {
                DecidingTime::Sunrise | DecidingTime::Moonrise => *first,
                // the longest coverage; `max_by` keeps the last of equals, so
                // compare with the first winning ties
                DecidingTime::PradoshaKala | DecidingTime::NishitaKala => {
                    covered
                        .iter()
                        .fold((*first, f64::MIN), |best, &(i, o)| {
                            if o > best.1 + 1e-9 {
                                (i, o)
                            } else {
                                best
                            }
                        })
                        .0
                }
            };
            Some((i, Decision::Vriddhi))
        }
    }
}

// ---------------------------------------------------------------------------
// moonrise

/// Equatorial radius of the Earth, km (IERS 2010).
const EARTH_RADIUS_KM: f64 = 6_378.137;

/// Moonrise (the upper limb on the sea-level horizon, 34' refraction) nearest
/// to `jd_guess` (JD UT), or `None` where the Moon does not rise that day.
///
/// The altitude of the Moon's centre at rise is `0.7275 π − 34'` with π the
/// horizontal parallax (Meeus, *Astronomical Algorithms*, ch. 15: parallax
/// minus semidiameter, 0.2725 π, minus refraction); geocentric apparent
/// right ascension and declination from the engine's ELP/MPP02 Moon; solved
/// by Newton steps on the hour angle, like the engine's sunrise.
pub fn moonrise_near(jd_guess: f64, lat: f64, lon: f64) -> Option<f64> {
    use std::f64::consts::{PI, TAU};
    if !(jd_guess.is_finite() && lat.is_finite() && lon.is_finite()) {
        return None;
    }
    let phi = lat.to_radians();
    let mut jd = jd_guess;
    for _ in 0..12 {
        let ep = Epoch::new(jd);
        let a = ep.apparent(Body::Moon);
        let lam = a.lon + ep.nut.dpsi;
        let (se, ce) = ep.eps_true.sin_cos();
        let (sl, cl) = lam.sin_cos();
        let (sb, cb) = a.lat.sin_cos();
        let ra = (sl * cb * ce - sb * se).atan2(cl * cb);
        let dec = (sb * ce + cb * se * sl).asin();
        let parallax = (EARTH_RADIUS_KM / (a.dist * AU_KM)).asin();
        let h0 = 0.7275 * parallax - (34.0_f64 / 60.0).to_radians();
        let cos_h = (h0.sin() - phi.sin() * dec.sin()) / (phi.cos() * dec.cos());
        if !(-1.0..=1.0).contains(&cos_h) {
            return None;
        }
        let target = -cos_h.acos();
        let gast = astro::time::gmst(jd, ep.t) + ep.nut.dpsi * ep.eps_mean.cos();
        let ha = gast + lon.to_radians() - ra;
        let d = (target - ha + PI).rem_euclid(TAU) - PI;
        // the hour angle grows by one turn per sidereal day less the Moon's
        // own eastward motion
        let rate = 1.002_737_909_35 - a.lon_rate / TAU;
        let step = d / TAU / rate;
        jd += step;
        if step.abs() < 1e-6 {
            return Some(jd);
        }
    }
    None
}

/// The first moonrise after the date's sunset and before the next sunrise.
fn moonrise_in_night(place: &Place, day: &Day) -> Option<f64> {
    // Rises are ~24.8 h apart and nights here shorter than 17 h, so a rise in
    // the night is the one nearest to six hours after sunset.
    let mut r = moonrise_near(day.sunset + 0.25, place.lat, place.lon)?;
    if r < day.sunset {
        r = moonrise_near(r + 1.035, place.lat, place.lon)?;
    }
    (r >= day.sunset && r < day.next_sunrise).then_some(r)
}

// ---------------------------------------------------------------------------
// lunar months

/// New moons and the Sun's sign at each, found on demand and kept.
struct MonthCache<'a> {
    place: &'a Place,
    /// New moon (JD UT, as `to_bits` for ordering) -> the Sun's sidereal sign.
    signs: RefCell<BTreeMap<u64, u8>>,
}

impl<'a> MonthCache<'a> {
    fn new(place: &'a Place) -> Self {
        MonthCache {
            place,
            signs: RefCell::new(BTreeMap::new()),
        }
    }

    fn sun_sign(&self, jd: f64) -> Result<u8, ObservanceError> {
        if let Some(s) = self.signs.borrow().get(&jd.to_bits()) {
            return Ok(*s);
        }
        let chart =
            astro::compute_chart(jd, self.place.lat, self.place.lon, &ChartOptions::default())
                .map_err(engine)?;
        let sign = ((chart.grahas.sun.lon / 30.0).floor() as i64).rem_euclid(12) as u8;
        self.signs.borrow_mut().insert(jd.to_bits(), sign);
        Ok(sign)
    }

    /// The amanta month of a tithi.
    fn month_of(&self, t: &TithiSpan) -> Result<LunarMonth, ObservanceError> {
        // elongation at the tithi's start is (number - 1) * 12 degrees
        let done = f64::from(t.number - 1) * 12.0;
        let start = new_moon_near(t.start - done / MEAN_ELONGATION_RATE, t.start)?;
        let end = new_moon_near(
            t.start + (360.0 - done) / MEAN_ELONGATION_RATE,
            f64::INFINITY,
        )?;
        if !(start <= t.start + 1e-3 && end > t.start) {
            return Err(ObservanceError::Engine(format!(
                "new moons around JD {:.4} not bracketing it",
                t.start
            )));
        }
        let (s0, s1) = (self.sun_sign(start)?, self.sun_sign(end)?);
        Ok(LunarMonth {
            masa: Masa::from_sun_sign_at_start(s0),
            adhika: s0 == s1,
            start: utc(start)?,
            end: utc(end)?,
        })
    }
}

/// The new moon (end of tithi 30) nearest to an estimate that is good to a
/// day or so, not after `not_after` (+1.5 min of tolerance).
fn new_moon_near(estimate: f64, not_after: f64) -> Result<f64, ObservanceError> {
    // start 2.5 days early, inside tithi 27..30, and walk to the end of 30
    let mut jd = estimate - 2.5;
    for _ in 0..8 {
        let (n, end) = tithi_end_after(jd)?;
        if n == 30 {
            if end <= not_after + 1e-3 {
                return Ok(end);
            }
            break;
        }
        jd = end + 1.0e-4;
    }
    Err(ObservanceError::Engine(format!(
        "no new moon found near JD {estimate:.3}"
    )))
}
