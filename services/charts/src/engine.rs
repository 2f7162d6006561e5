//! Birth input as clients send it, its normalization (place, zone, UTC
//! instant, rounded coordinates, options), the cache key, and the chart
//! computation itself (pure, run on the blocking pool).

use crate::input::{
    AyanamsaName, CivilDate, CivilTime, DisambiguationName, Divisional, HouseSystemName, Lat, Lon,
    NodeName, PlaceId, ZodiacName, ZoneName,
};
use crate::places::{Gazetteer, Place};
use astro::vedic::{self, ChartInput, Graha, Varga, YearLength};
use astro::{Ayanamsa, ChartError, ChartOptions, Disambiguation, HouseSystem, NodeKind, Zodiac};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The version of everything that shapes a cached chart: the astro engine
/// and this service's chart document. **Bump it whenever either changes**:
/// keys include it, so old rows are never served again (purge them with
/// `POST /api/v1/admin/charts/cache/purge {"stale_versions": true}`).
pub const ENGINE_VERSION: &str = "astro-0.1.0+charts-1";

/// The first and last local dates the engine is validated for (the range of
/// its reference data).
pub fn proven_range() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN),
        NaiveDate::from_ymd_opt(2050, 12, 31).unwrap_or(NaiveDate::MAX),
    )
}

/// Birth details as a client sends them: a date and time, and either a
/// gazetteer place (`place_id`) or coordinates (`lat` and `lon`), never both.
/// Each value is checked while the body is parsed (see [`crate::input`]).
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BirthInput {
    /// Local civil date, `YYYY-MM-DD` (1900-01-01 .. 2050-12-31, the engine's validated range).
    #[schema(inline, example = "1990-05-01")]
    pub date: CivilDate,
    /// Local civil time, `HH:MM` or `HH:MM:SS`.
    #[schema(inline, example = "06:30")]
    pub time: CivilTime,
    /// A gazetteer place (`GET /api/v1/places`); or give `lat` and `lon`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::input::place_id_schema, nullable = false)]
    pub place_id: Option<PlaceId>,
    /// Latitude, with `lon` (instead of `place_id`).
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub lat: Option<Lat>,
    /// Longitude, with `lat` (instead of `place_id`).
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub lon: Option<Lon>,
    /// IANA zone; default: the place's, or the nearest known place's.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false, example = "Asia/Kolkata")]
    pub tz: Option<ZoneName>,
    /// For a local time that occurs twice or never (DST): `earlier` or
    /// `later`; by default (`reject`) such times are refused with both offsets named.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub disambiguation: Option<DisambiguationName>,
}

/// Chart options as a client sends them (all optional).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsInput {
    /// `sidereal` (default) or `tropical`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub zodiac: Option<ZodiacName>,
    /// `lahiri` (default), `raman`, `krishnamurti` (alias `kp`), `true_chitra`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub ayanamsa: Option<AyanamsaName>,
    /// `mean` (default) or `true`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub node: Option<NodeName>,
    /// `whole_sign` (default), `equal`, `placidus`, `porphyry`, `sripati`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub house_system: Option<HouseSystemName>,
    /// Also compute Uranus and Neptune.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub outer_planets: Option<bool>,
    /// Divisional charts, e.g. `["D9", "D10"]`.
    #[serde(
        default,
        deserialize_with = "crate::input::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(inline, nullable = false)]
    pub divisional: Option<Divisional>,
}

/// Parsed options.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Options {
    #[schema(value_type = String, example = "sidereal")]
    pub zodiac: Zodiac,
    #[schema(value_type = String, example = "lahiri")]
    pub ayanamsa: Ayanamsa,
    #[schema(value_type = String, example = "mean")]
    pub node: NodeKind,
    #[schema(value_type = String, example = "whole_sign")]
    pub house_system: HouseSystem,
    pub outer_planets: bool,
    /// Sorted, without duplicates (`d9`, `d10`, ...).
    #[schema(value_type = Vec<String>)]
    pub divisional: Vec<Varga>,
}

impl Options {
    pub fn chart_options(&self) -> ChartOptions {
        ChartOptions {
            zodiac: self.zodiac,
            ayanamsa: self.ayanamsa,
            node: self.node,
            house_system: self.house_system,
            outer_planets: self.outer_planets,
        }
    }
}

fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Options with their defaults (every value was checked while parsing).
pub fn parse_options(o: &OptionsInput) -> Options {
    Options {
        zodiac: o.zodiac.map(|c| c.0).unwrap_or_default(),
        ayanamsa: o.ayanamsa.map(|c| c.0).unwrap_or_default(),
        node: o.node.map(|c| c.0).unwrap_or_default(),
        house_system: o.house_system.map(|c| c.0).unwrap_or_default(),
        outer_planets: o.outer_planets.unwrap_or(false),
        divisional: o.divisional.clone().unwrap_or_default().0,
    }
}

/// Where the zone came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TzSource {
    Request,
    Place,
    NearestPlace,
}

/// A birth, normalized: everything the chart depends on, and how it was read.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Normalized {
    pub date: NaiveDate,
    /// `HH:MM:SS`.
    #[serde(serialize_with = "ser_time")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$", example = "06:30:00")]
    pub time: NaiveTime,
    /// IANA zone.
    pub tz: String,
    pub tz_source: TzSource,
    /// `+05:30`.
    #[schema(example = "+05:30")]
    pub utc_offset: String,
    pub utc: DateTime<Utc>,
    /// Julian day (UT).
    pub jd_ut: f64,
    /// Rounded to 1e-4 degrees (the chart is computed there).
    pub lat: f64,
    pub lon: f64,
    /// The gazetteer place given, or the nearest one whose zone was used.
    pub place: Option<PlaceRef>,
    pub options: Options,
    #[serde(skip)]
    pub key: String,
}

fn ser_time<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%H:%M:%S").to_string())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PlaceRef {
    pub id: i64,
    pub name: String,
    pub country: String,
    pub admin1: String,
    /// Distance from the given coordinates (nearest-place zones only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

impl PlaceRef {
    fn of(p: &Place, distance_km: Option<f64>) -> PlaceRef {
        PlaceRef {
            id: p.id,
            name: p.name.clone(),
            country: p.country.clone(),
            admin1: p.admin1.clone(),
            distance_km: distance_km.map(|d| (d * 10.0).round() / 10.0),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4 + 0.0
}

pub fn format_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    if a.is_multiple_of(60) {
        format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)
    } else {
        format!("{sign}{:02}:{:02}:{:02}", a / 3600, (a / 60) % 60, a % 60)
    }
}

fn offset_of(local: NaiveDateTime, utc: DateTime<Utc>) -> String {
    let secs = (local - utc.naive_utc()).num_seconds();
    format_offset(i32::try_from(secs).unwrap_or(0))
}

/// Validates and normalizes a birth: place, zone, UTC instant, options, key.
/// The values themselves were checked while parsing; what is checked here
/// depends on several of them (range of dates, place or coordinates, zone).
pub fn normalize(
    birth: &BirthInput,
    options: &OptionsInput,
    places: &Gazetteer,
    max_zone_distance_km: f64,
    engine_version: &str,
) -> Result<Normalized, AppError> {
    let date = birth.date.0;
    let (first, last) = proven_range();
    if date < first || date > last {
        return Err(AppError::validation(
            "birth.date",
            format!("{date} is outside the engine's validated range {first} to {last}"),
        ));
    }
    let time = birth.time.time;
    let options = parse_options(options);
    let (lat, lon, place) = match (birth.place_id, birth.lat, birth.lon) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(AppError::validation(
                "birth.place_id",
                "give either place_id or lat and lon, not both",
            ))
        }
        (Some(id), None, None) => {
            let id = id.get();
            let p = places.get(id).ok_or_else(|| {
                AppError::validation("birth.place_id", format!("no place with id {id}"))
            })?;
            (p.lat, p.lon, Some(p))
        }
        (None, Some(lat), Some(lon)) => (lat.0, lon.0, None),
        (None, Some(_), None) => {
            return Err(AppError::validation(
                "birth.lon",
                "lon is required with lat",
            ))
        }
        (None, None, Some(_)) => {
            return Err(AppError::validation(
                "birth.lat",
                "lat is required with lon",
            ))
        }
        (None, None, None) => {
            return Err(AppError::validation(
                "birth.place_id",
                "give a place_id, or lat and lon",
            ))
        }
    };
    let (lat, lon) = (round4(lat), round4(lon));
    let (tz_name, tz_source, place_ref) = match (&birth.tz, place) {
        (Some(tz), p) => (
            tz.trim().to_owned(),
            TzSource::Request,
            p.map(|p| PlaceRef::of(p, None)),
        ),
        (None, Some(p)) => (p.tz.clone(), TzSource::Place, Some(PlaceRef::of(p, None))),
        (None, None) => match places.nearest(lat, lon) {
            Some((p, d)) if d <= max_zone_distance_km => (
                p.tz.clone(),
                TzSource::NearestPlace,
                Some(PlaceRef::of(p, Some(d))),
            ),
            _ => {
                return Err(AppError::validation(
                    "birth.tz",
                    format!("no known place within {max_zone_distance_km} km of these coordinates; give tz (an IANA zone)"),
                ))
            }
        },
    };
    let zone = astro::parse_zone(&tz_name).map_err(|_| {
        AppError::validation(
            "birth.tz",
            format!(
                "unknown time zone {tz_name:?} (expected an IANA name such as \"Asia/Kolkata\")"
            ),
        )
    })?;
    let policy = birth
        .disambiguation
        .map(|c| c.0)
        .unwrap_or(Disambiguation::Reject);
    let local = NaiveDateTime::new(date, time);
    let utc = astro::civil_to_utc(date, time, zone, policy).map_err(|e| match e {
        astro::TimeError::Ambiguous {
            earlier, later, ..
        } => AppError::validation(
            "birth.time",
            format!(
                "{local} is ambiguous in {tz_name} (clocks were set back): it occurred at UTC{} ({}) and again at UTC{} ({}); set birth.disambiguation to \"earlier\" or \"later\"",
                offset_of(local, earlier),
                earlier.to_rfc3339(),
                offset_of(local, later),
                later.to_rfc3339()
            ),
        ),
        astro::TimeError::Nonexistent {
            before_offset,
            after_offset,
            ..
        } => AppError::validation(
            "birth.time",
            format!(
                "{local} does not exist in {tz_name} (clocks were set forward from UTC{} to UTC{}); check the time, or set birth.disambiguation to \"earlier\" or \"later\"",
                offset_of(local, before_offset),
                offset_of(local, after_offset)
            ),
        ),
        other => AppError::validation("birth.time", other.to_string()),
    })?;
    let offset = zone
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc();
    let jd_ut = astro::jd_from_utc(&utc);
    let key = cache_key(engine_version, utc.timestamp(), lat, lon, &options);
    Ok(Normalized {
        date,
        time,
        tz: zone.name().to_owned(),
        tz_source,
        utc_offset: format_offset(offset),
        utc,
        jd_ut,
        lat,
        lon,
        place: place_ref,
        options,
        key,
    })
}

/// SHA-256 (hex) of the canonical description of a chart.
pub fn cache_key(engine_version: &str, utc_secs: i64, lat: f64, lon: f64, o: &Options) -> String {
    let vargas: Vec<String> = o.divisional.iter().map(enum_name).collect();
    let canonical = format!(
        "{engine_version}|{utc_secs}|{lat:.4}|{lon:.4}|{}|{}|{}|{}|{}|{}",
        enum_name(&o.zodiac),
        enum_name(&o.ayanamsa),
        enum_name(&o.node),
        enum_name(&o.house_system),
        o.outer_planets,
        vargas.join(",")
    );
    let d = Sha256::digest(canonical.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn chart_error(e: ChartError) -> AppError {
    match e {
        ChartError::Houses(h) => AppError::validation("options.house_system", h.to_string()),
        ChartError::Latitude(_) => AppError::validation("birth.lat", e.to_string()),
        ChartError::Longitude(_) => AppError::validation("birth.lon", e.to_string()),
        ChartError::Instant(_) => AppError::validation("birth.date", e.to_string()),
    }
}

/// The Vedic layer's input from an engine chart.
pub fn chart_input(c: &astro::Chart) -> ChartInput {
    let g = &c.grahas;
    let node_kind = match c.options.node {
        NodeKind::Mean => vedic::NodeKind::Mean,
        NodeKind::True => vedic::NodeKind::True,
    };
    let mut input = ChartInput::default()
        .with(Graha::Sun, g.sun.lon, g.sun.speed)
        .with(Graha::Moon, g.moon.lon, g.moon.speed)
        .with(Graha::Mars, g.mars.lon, g.mars.speed)
        .with(Graha::Mercury, g.mercury.lon, g.mercury.speed)
        .with(Graha::Jupiter, g.jupiter.lon, g.jupiter.speed)
        .with(Graha::Venus, g.venus.lon, g.venus.speed)
        .with(Graha::Saturn, g.saturn.lon, g.saturn.speed)
        .with(Graha::Rahu, g.rahu.lon, g.rahu.speed)
        .with(Graha::Ketu, g.ketu.lon, g.ketu.speed);
    input.ascendant = c.ascendant.lon;
    input.node_kind = node_kind;
    input
}

pub fn jd_to_utc(jd: f64) -> Option<DateTime<Utc>> {
    astro::utc_from_jd(jd)
}

/// One dasha period with its dates.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Period {
    /// The graha ruling the period (`saturn`, ...).
    #[schema(value_type = String, example = "saturn")]
    pub lord: Graha,
    pub years: f64,
    /// UTC, when representable.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub start_jd_ut: f64,
    pub end_jd_ut: f64,
}

impl Period {
    fn of(p: &vedic::DashaPeriod) -> Period {
        Period {
            lord: p.lord,
            years: p.years,
            start: jd_to_utc(p.start_jd_ut),
            end: jd_to_utc(p.end_jd_ut),
            start_jd_ut: p.start_jd_ut,
            end_jd_ut: p.end_jd_ut,
        }
    }
}

fn period_json(p: &vedic::DashaPeriod) -> serde_json::Value {
    serde_json::to_value(Period::of(p)).unwrap_or_default()
}

/// The periods running at an instant.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Running {
    pub mahadasha: Period,
    pub antardasha: Period,
    pub pratyantardasha: Period,
}

/// A mahadasha with its antardashas.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Mahadasha {
    #[serde(flatten)]
    pub period: Period,
    pub antardashas: Vec<Period>,
}

/// `GET /api/v1/charts/{id}/dashas`: Vimshottari dashas of a chart.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Dashas {
    pub chart_id: Uuid,
    /// The instant asked about.
    pub at: DateTime<Utc>,
    /// `julian` (365.25 days).
    #[schema(value_type = String, example = "julian")]
    pub year_length: YearLength,
    /// The balance at birth: `{lord, years, nakshatra, fraction_elapsed, balance_years}`.
    #[schema(value_type = Object)]
    pub balance: vedic::DashaBalance,
    /// The maha-, antar- and pratyantardasha running at `at` (null outside the 120-year cycle).
    pub running: Option<Running>,
    /// The mahadashas from birth, each with its antardashas.
    pub mahadashas: Vec<Mahadasha>,
}

/// The chart document: everything the engine computes (the `astro::Chart`
/// fields at the top level) plus the Vedic analysis, divisional charts,
/// yogas, Kuja dosha and the Vimshottari mahadashas. Pure; runs on the
/// blocking pool.
pub fn compute(n: &Normalized, engine_version: &str) -> Result<String, AppError> {
    let chart = astro::compute_chart(n.jd_ut, n.lat, n.lon, &n.options.chart_options())
        .map_err(chart_error)?;
    let input = chart_input(&chart);
    let mut doc = serde_json::to_value(chart).map_err(AppError::internal)?;
    let analysis = vedic::analyze_chart(&input);
    let vargas: serde_json::Map<String, serde_json::Value> = n
        .options
        .divisional
        .iter()
        .map(|v| {
            (
                enum_name(v),
                serde_json::to_value(vedic::varga_chart(&input, *v)).unwrap_or_default(),
            )
        })
        .collect();
    let vim = vedic::Vimshottari::new(chart.grahas.moon.lon, chart.jd_ut, YearLength::Julian);
    let mahadashas: Vec<serde_json::Value> = vim.mahadashas.iter().map(period_json).collect();
    if let Some(m) = doc.as_object_mut() {
        m.insert("engine_version".into(), json!(engine_version));
        m.insert(
            "analysis".into(),
            serde_json::to_value(&analysis).map_err(AppError::internal)?,
        );
        m.insert("vargas".into(), serde_json::Value::Object(vargas));
        m.insert(
            "yogas".into(),
            serde_json::to_value(vedic::detect_yogas(&input)).map_err(AppError::internal)?,
        );
        m.insert(
            "kuja_dosha".into(),
            serde_json::to_value(vedic::kuja_dosha(&input)).map_err(AppError::internal)?,
        );
        m.insert(
            "vimshottari".into(),
            json!({
                "year_length": YearLength::Julian,
                "balance": vim.balance,
                "cycle_start": jd_to_utc(vim.cycle_start_jd_ut),
                "mahadashas": mahadashas,
            }),
        );
    }
    serde_json::to_string(&doc).map_err(AppError::internal)
}

/// The running dasha periods at `at` and the mahadashas (with antardashas)
/// of a stored chart document.
pub fn dashas(
    chart_id: Uuid,
    chart: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<Dashas, AppError> {
    let moon = chart["grahas"]["moon"]["lon"].as_f64();
    let jd = chart["jd_ut"].as_f64();
    let (Some(moon), Some(jd)) = (moon, jd) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "stored chart lacks grahas.moon.lon or jd_ut"
        )));
    };
    let vim = vedic::Vimshottari::new(moon, jd, YearLength::Julian);
    let at_jd = astro::jd_from_utc(&at);
    let running = vim.running_at(at_jd).map(|r| Running {
        mahadasha: Period::of(&r.mahadasha),
        antardasha: Period::of(&r.antardasha),
        pratyantardasha: Period::of(&r.pratyantardasha),
    });
    let mahadashas = vim
        .mahadashas_from_birth(120.0)
        .iter()
        .map(|m| Mahadasha {
            period: Period::of(m),
            antardashas: m.sub_periods.iter().map(Period::of).collect(),
        })
        .collect();
    Ok(Dashas {
        chart_id,
        at,
        year_length: YearLength::Julian,
        balance: vim.balance,
        running,
        mahadashas,
    })
}

/// A compact summary of a chart document for guidance prompts.
pub fn summary(chart: &serde_json::Value, now: DateTime<Utc>) -> serde_json::Value {
    let a = &chart["analysis"];
    let grahas: Vec<serde_json::Value> = a["grahas"]
        .as_array()
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    json!({
                        "graha": g["graha"], "sign": g["sign"], "degree": g["degree"],
                        "house": g["house"], "nakshatra": g["nakshatra"], "pada": g["pada"],
                        "dignity": g["dignity"], "retrograde": g["retrograde"], "combust": g["combust"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let moon = a["grahas"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["graha"] == "moon"))
        .cloned()
        .unwrap_or_default();
    let sun = a["grahas"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["graha"] == "sun"))
        .cloned()
        .unwrap_or_default();
    let running = dashas(Uuid::nil(), chart, now)
        .ok()
        .and_then(|d| serde_json::to_value(d.running).ok());
    let yogas: Vec<serde_json::Value> = chart["yogas"]
        .as_array()
        .map(|ys| ys.iter().map(|y| y["name"].clone()).collect())
        .unwrap_or_default();
    json!({
        "engine_version": chart["engine_version"],
        "lagna": {"sign": a["ascendant"]["sign"], "degree": a["ascendant"]["degree"], "nakshatra": a["ascendant"]["nakshatra"]},
        "moon": {"sign": moon["sign"], "nakshatra": moon["nakshatra"], "pada": moon["pada"]},
        "sun": {"sign": sun["sign"]},
        "grahas": grahas,
        "yogas": yogas,
        "kuja_dosha": chart["kuja_dosha"]["present"],
        "running_dasha": running,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_change_with_every_input() {
        let o = parse_options(&OptionsInput::default());
        let k = cache_key("v1", 0, 13.0878, 80.2785, &o);
        assert_eq!(k.len(), 64);
        assert_ne!(k, cache_key("v2", 0, 13.0878, 80.2785, &o));
        assert_ne!(k, cache_key("v1", 1, 13.0878, 80.2785, &o));
        assert_ne!(k, cache_key("v1", 0, 13.0879, 80.2785, &o));
        let mut o2 = o.clone();
        o2.divisional = vec![Varga::D9];
        assert_ne!(k, cache_key("v1", 0, 13.0878, 80.2785, &o2));
        assert_eq!(round4(-0.00001), 0.0);
        assert_eq!(format!("{:.4}", round4(-0.00001)), "0.0000");
    }

    #[test]
    fn offsets_format() {
        assert_eq!(format_offset(19800), "+05:30");
        assert_eq!(format_offset(-3600), "-01:00");
    }
}
