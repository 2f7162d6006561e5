//! The day's panchang at a place, from the engine's sunrise and limb end times.

use crate::engine::{jd_to_utc, Normalized, PlaceRef};
use astro::vedic;
use astro::{Ayanamsa, ChartOptions, Limb};
use chrono::{DateTime, Utc};
use platform::AppError;
use serde::Serialize;
use serde_json::json;

fn local(jd: f64, tz: &chrono_tz::Tz) -> Option<String> {
    jd_to_utc(jd).map(|t: DateTime<Utc>| {
        t.with_timezone(tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    })
}

fn span(s: vedic::TimeSpan, tz: &chrono_tz::Tz) -> Span {
    Span {
        start: local(s.start_jd_ut, tz),
        end: local(s.end_jd_ut, tz),
    }
}

/// A stretch of the day, in local time with its offset.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Span {
    #[schema(format = DateTime)]
    pub start: Option<String>,
    #[schema(format = DateTime)]
    pub end: Option<String>,
}

/// The weekday of the Vedic day.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VaraOf {
    /// `ravivara` .. `shanivara`.
    #[schema(value_type = String, example = "somavara")]
    pub name: vedic::Vara,
    /// 0 = Ravivara .. 6 = Shanivara.
    #[schema(minimum = 0, maximum = 6)]
    pub index: u8,
}

/// `GET /api/v1/panchang`: the day's panchang at a place (times are local,
/// RFC 3339 with the zone's offset).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Panchang {
    pub date: chrono::NaiveDate,
    /// IANA zone of the local times.
    pub tz: String,
    pub lat: f64,
    pub lon: f64,
    pub place: Option<PlaceRef>,
    /// Always `lahiri`.
    #[schema(value_type = String, example = "lahiri")]
    pub ayanamsa: Ayanamsa,
    pub vara: VaraOf,
    #[schema(format = DateTime)]
    pub sunrise: Option<String>,
    #[schema(format = DateTime)]
    pub sunset: Option<String>,
    #[schema(format = DateTime)]
    pub next_sunrise: Option<String>,
    pub rahu_kalam: Span,
    pub yamaganda: Span,
    pub gulika_kalam: Span,
    /// The tithi at sunrise (`index`, `name`, `paksha`, ...) and `ends_at`.
    #[schema(value_type = Object)]
    pub tithi: serde_json::Value,
    /// The nakshatra at sunrise (`nakshatra`, `pada`, `lord`, ...) and `ends_at`.
    #[schema(value_type = Object)]
    pub nakshatra: serde_json::Value,
    /// The yoga at sunrise and `ends_at`.
    #[schema(value_type = Object)]
    pub yoga: serde_json::Value,
    /// The karana at sunrise and `ends_at`.
    #[schema(value_type = Object)]
    pub karana: serde_json::Value,
    /// Always `sunrise`: when the limbs are taken.
    pub limbs_at: String,
}

/// Panchang of the Vedic day (sunrise to sunrise) that contains local noon
/// of `n.date` at `n`'s place: the limbs at sunrise and when each ends.
pub fn compute(n: &Normalized) -> Result<Panchang, AppError> {
    let tz: chrono_tz::Tz =
        astro::parse_zone(&n.tz).map_err(|e| AppError::validation("tz", e.to_string()))?;
    let day = astro::vedic_day(n.jd_ut, n.lat, n.lon)
        .map_err(|e| AppError::validation("lat", e.to_string()))?;
    let rise = day.sunrise_jd_ut;
    let chart = astro::compute_chart(rise, n.lat, n.lon, &ChartOptions::default())
        .map_err(crate::engine::chart_error)?;
    let limbs = vedic::panchang_limbs(chart.grahas.sun.lon, chart.grahas.moon.lon);
    let end = |limb: Limb| -> Result<Option<String>, AppError> {
        let (_, jd) = astro::limb_end(limb, rise, Ayanamsa::Lahiri)
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
        Ok(local(jd, &tz))
    };
    let mut tithi = serde_json::to_value(&limbs.tithi).map_err(AppError::internal)?;
    tithi["ends_at"] = json!(end(Limb::Tithi)?);
    let mut nakshatra = serde_json::to_value(limbs.nakshatra).map_err(AppError::internal)?;
    nakshatra["ends_at"] = json!(end(Limb::Nakshatra)?);
    let mut yoga = serde_json::to_value(&limbs.yoga).map_err(AppError::internal)?;
    yoga["ends_at"] = json!(end(Limb::Yoga)?);
    let mut karana = serde_json::to_value(&limbs.karana).map_err(AppError::internal)?;
    karana["ends_at"] = json!(end(Limb::Karana)?);
    let (set, next) = (day.sunset_jd_ut, day.next_sunrise_jd_ut);
    Ok(Panchang {
        date: n.date,
        tz: n.tz.clone(),
        lat: n.lat,
        lon: n.lon,
        place: n.place.clone(),
        ayanamsa: Ayanamsa::Lahiri,
        vara: VaraOf {
            name: day.vara,
            index: day.index,
        },
        sunrise: local(rise, &tz),
        sunset: local(set, &tz),
        next_sunrise: local(next, &tz),
        rahu_kalam: span(day.rahu_kalam, &tz),
        yamaganda: span(vedic::yamaganda(day.vara, rise, set), &tz),
        gulika_kalam: span(vedic::gulika_kalam(day.vara, rise, set), &tz),
        tithi,
        nakshatra,
        yoga,
        karana,
        limbs_at: "sunrise".to_owned(),
    })
}
