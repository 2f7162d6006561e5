//! Birth input as clients send it, its normalization (place, zone, UTC
//! instant, rounded coordinates, options), the cache key, and the chart
//! computation itself (pure, run on the blocking pool).

use crate::places::{Gazetteer, Place};
use astro::vedic::{self, ChartInput, Graha, Varga, YearLength};
use astro::{Ayanamsa, ChartError, ChartOptions, Disambiguation, HouseSystem, NodeKind, Zodiac};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc};
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

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

/// Birth details as a client sends them.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BirthInput {
    /// Local civil date, `YYYY-MM-DD` (1900-01-01 .. 2050-12-31).
    #[schema(example = "1990-05-01")]
    pub date: String,
    /// Local civil time, `HH:MM` or `HH:MM:SS`.
    #[schema(example = "06:30")]
    pub time: String,
    /// A gazetteer place (`GET /api/v1/places`); or give `lat` and `lon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// IANA zone; default: the place's, or the nearest known place's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// For a local time that occurs twice or never (DST): `earlier` or
    /// `later`; by default such times are rejected with both offsets named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "earlier")]
    pub disambiguation: Option<Disambiguation>,
}

/// Chart options as a client sends them (all optional).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsInput {
    /// `sidereal` (default) or `tropical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zodiac: Option<String>,
    /// `lahiri` (default), `raman`, `krishnamurti` (`kp`), `true_chitra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ayanamsa: Option<String>,
    /// `mean` (default) or `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `whole_sign` (default), `equal`, `placidus`, `porphyry`, `sripati`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_system: Option<String>,
    /// Also compute Uranus and Neptune.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_planets: Option<bool>,
    /// Divisional charts, e.g. `["D9", "D10"]` (D2..D60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["D9"]))]
    pub divisional: Option<Vec<serde_json::Value>>,
}

/// Parsed options.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Options {
    pub zodiac: Zodiac,
    pub ayanamsa: Ayanamsa,
    pub node: NodeKind,
    pub house_system: HouseSystem,
    pub outer_planets: bool,
    /// Sorted, without duplicates.
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

pub fn parse_options(o: &OptionsInput) -> Result<Options, AppError> {
    let zodiac = match o.zodiac.as_deref().map(str::trim) {
        None | Some("sidereal") => Zodiac::Sidereal,
        Some("tropical") => Zodiac::Tropical,
        Some(other) => {
            return Err(AppError::validation(
                "options.zodiac",
                format!("unknown zodiac {other:?}; use \"sidereal\" or \"tropical\""),
            ))
        }
    };
    let ayanamsa = match &o.ayanamsa {
        None => Ayanamsa::Lahiri,
        Some(s) => Ayanamsa::from_name(s).ok_or_else(|| {
            AppError::validation(
                "options.ayanamsa",
                format!("unknown ayanamsa {s:?}; use lahiri, raman, krishnamurti or true_chitra"),
            )
        })?,
    };
    let node = match o.node.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
        None => NodeKind::Mean,
        Some(s) if s == "mean" => NodeKind::Mean,
        Some(s) if s == "true" => NodeKind::True,
        Some(s) => {
            return Err(AppError::validation(
                "options.node",
                format!("unknown node {s:?}; use \"mean\" or \"true\""),
            ))
        }
    };
    let house_system = match &o.house_system {
        None => HouseSystem::WholeSign,
        Some(s) => HouseSystem::from_name(s).ok_or_else(|| {
            AppError::validation(
                "options.house_system",
                format!("unknown house system {s:?}; use whole_sign, equal, placidus, porphyry or sripati"),
            )
        })?,
    };
    let mut divisional = Vec::new();
    for v in o.divisional.iter().flatten() {
        let n = match v {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
            serde_json::Value::String(s) => {
                let t = s.trim();
                let t = t.strip_prefix(['D', 'd']).unwrap_or(t);
                t.parse::<usize>().ok()
            }
            _ => None,
        };
        let varga = n.and_then(Varga::from_divisions).ok_or_else(|| {
            AppError::validation(
                "options.divisional",
                format!("unknown divisional chart {v}; supported: D1, D2, D3, D4, D7, D9, D10, D12, D16, D20, D24, D27, D30, D40, D45, D60"),
            )
        })?;
        divisional.push(varga);
    }
    divisional.sort();
    divisional.dedup();
    Ok(Options {
        zodiac,
        ayanamsa,
        node,
        house_system,
        outer_planets: o.outer_planets.unwrap_or(false),
        divisional,
    })
}

/// Where the zone came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TzSource {
    Request,
    Place,
    NearestPlace,
}

/// A birth, normalized: everything the chart depends on, and how it was read.
#[derive(Clone, Debug, Serialize)]
pub struct Normalized {
    pub date: NaiveDate,
    #[serde(serialize_with = "ser_time")]
    pub time: NaiveTime,
    pub tz: String,
    pub tz_source: TzSource,
    /// `+05:30`.
    pub utc_offset: String,
    pub utc: DateTime<Utc>,
    pub jd_ut: f64,
    /// Rounded to 1e-4 degrees (the chart is computed there).
    pub lat: f64,
    pub lon: f64,
    pub place: Option<PlaceRef>,
    pub options: Options,
    #[serde(skip)]
    pub key: String,
}

fn ser_time<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%H:%M:%S").to_string())
}

#[derive(Clone, Debug, Serialize)]
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

pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::validation(field, format!("{s:?} is not a date (expected YYYY-MM-DD)"))
    })
}

fn parse_time(s: &str) -> Result<NaiveTime, AppError> {
    let t = s.trim();
    let parsed = NaiveTime::parse_from_str(t, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .ok()
        .filter(|t| t.nanosecond() == 0);
    parsed.ok_or_else(|| {
        AppError::validation(
            "birth.time",
            format!("{s:?} is not a time (expected HH:MM or HH:MM:SS, 00:00 to 23:59:59)"),
        )
    })
}

/// Validates and normalizes a birth: place, zone, UTC instant, options, key.
pub fn normalize(
    birth: &BirthInput,
    options: &OptionsInput,
    places: &Gazetteer,
    max_zone_distance_km: f64,
    engine_version: &str,
) -> Result<Normalized, AppError> {
    let date = parse_date("birth.date", &birth.date)?;
    let (first, last) = proven_range();
    if date < first || date > last {
        return Err(AppError::validation(
            "birth.date",
            format!("{date} is outside the engine's validated range {first} to {last}"),
        ));
    }
    let time = parse_time(&birth.time)?;
    let options = parse_options(options)?;
    let (lat, lon, place) = match (birth.place_id, birth.lat, birth.lon) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(AppError::validation(
                "birth.place_id",
                "give either place_id or lat and lon, not both",
            ))
        }
        (Some(id), None, None) => {
            let p = places.get(id).ok_or_else(|| {
                AppError::validation("birth.place_id", format!("no place with id {id}"))
            })?;
            (p.lat, p.lon, Some(p))
        }
        (None, Some(lat), Some(lon)) => {
            if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
                return Err(AppError::validation(
                    "birth.lat",
                    format!("latitude must be within [-90, 90], got {lat}"),
                ));
            }
            if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
                return Err(AppError::validation(
                    "birth.lon",
                    format!("longitude must be within [-180, 180], got {lon}"),
                ));
            }
            (lat, lon, None)
        }
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
    let policy = birth.disambiguation.unwrap_or(Disambiguation::Reject);
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

/// Mahadashas of the birth cycle without sub-periods, with dates.
fn period_json(p: &vedic::DashaPeriod) -> serde_json::Value {
    json!({
        "lord": p.lord,
        "years": p.years,
        "start": jd_to_utc(p.start_jd_ut),
        "end": jd_to_utc(p.end_jd_ut),
        "start_jd_ut": p.start_jd_ut,
        "end_jd_ut": p.end_jd_ut,
    })
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
pub fn dashas(chart: &serde_json::Value, at: DateTime<Utc>) -> Result<serde_json::Value, AppError> {
    let moon = chart["grahas"]["moon"]["lon"].as_f64();
    let jd = chart["jd_ut"].as_f64();
    let (Some(moon), Some(jd)) = (moon, jd) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "stored chart lacks grahas.moon.lon or jd_ut"
        )));
    };
    let vim = vedic::Vimshottari::new(moon, jd, YearLength::Julian);
    let at_jd = astro::jd_from_utc(&at);
    let running = vim.running_at(at_jd).map(|r| {
        json!({
            "mahadasha": period_json(&r.mahadasha),
            "antardasha": period_json(&r.antardasha),
            "pratyantardasha": period_json(&r.pratyantardasha),
        })
    });
    let mahadashas: Vec<serde_json::Value> = vim
        .mahadashas_from_birth(120.0)
        .iter()
        .map(|m| {
            let mut v = period_json(m);
            v["antardashas"] = m.sub_periods.iter().map(period_json).collect();
            v
        })
        .collect();
    Ok(json!({
        "at": at,
        "year_length": YearLength::Julian,
        "balance": vim.balance,
        "running": running,
        "mahadashas": mahadashas,
    }))
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
    let running = dashas(chart, now).ok().map(|d| d["running"].clone());
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
        let o = parse_options(&OptionsInput::default()).unwrap();
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
