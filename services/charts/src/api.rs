//! HTTP handlers: places, charts, dashas, compatibility, panchang and the
//! cache administration (profiles are in [`crate::profiles`]).
//!
//! Bodies are parsed into validated types (see [`crate::input`]); query and
//! path values are checked here with the same rules, so every value that
//! reaches the logic or the database is one the OpenAPI document allows.

use crate::engine::{self, BirthInput, Normalized, OptionsInput};
use crate::input;
use crate::places::{Place, PlaceMatch};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use astro::vedic;
use platform::auth::{Admin, Authenticated};
use platform::http::Json;
use platform::input::{check_line, Int, Line, LINE_PATTERN};
use platform::AppError;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::KnownFormat;
use uuid::Uuid;

fn json_text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

/// A UUID path segment; anything else names no resource (404).
pub fn path_uuid(s: &str, what: &str) -> Result<Uuid, AppError> {
    input::parse_uuid(s).ok_or_else(|| AppError::not_found(what))
}

/// An integer query value, `-?[0-9]+` within `min..=max` (422 naming it).
pub fn query_int(field: &str, s: &str, min: i64, max: i64) -> Result<i64, AppError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let n = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else {
        None
    };
    n.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        AppError::validation(field, format!("must be an integer between {min} and {max}"))
    })
}

fn query_degrees(field: &str, s: &str, min: f64, max: f64) -> Result<f64, AppError> {
    let v: f64 = s
        .parse()
        .map_err(|_| AppError::validation(field, format!("{s:?} is not a number")))?;
    input::check_degrees(v, min, max, field).map_err(|m| AppError::validation(field, m))
}

/// Integer query parameter schema.
fn int_schema(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
}

// ---------------------------------------------------------------- places

/// The longest place-search prefix.
pub const MAX_QUERY_CHARS: usize = 100;

crate::param_schema!(
    /// A place-search prefix.
    SearchText,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(Some(1))
        .max_length(Some(MAX_QUERY_CHARS))
        .pattern(Some(LINE_PATTERN))
        .into()
);
// The maximum is `places.max_limit`: the served document states the
// configured value (see `crate::openapi::document`).
crate::param_schema!(
    /// The size of a place search.
    PlacesLimit,
    int_schema(1, 50).into()
);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlacesQuery {
    /// Prefix of a name or alternate name (case and diacritics ignored),
    /// 1 to 100 characters, not only spaces, no control characters.
    #[param(required = true, value_type = Option<SearchText>, inline, example = "chen")]
    pub q: Option<String>,
    /// How many places, 1 to `places.max_limit` (default `places.default_limit`).
    #[param(value_type = Option<PlacesLimit>, inline)]
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlacesReply {
    pub places: Vec<PlaceMatch>,
}

/// Search the gazetteer (public).
#[utoipa::path(get, path = "/api/v1/places", params(PlacesQuery),
    responses((status = 200, description = "matching places, most populous first", body = PlacesReply)))]
pub async fn search_places(
    state: web::Data<AppState>,
    q: web::Query<PlacesQuery>,
) -> Result<HttpResponse, AppError> {
    let raw = q.q.as_deref().unwrap_or("");
    check_line("q", raw, MAX_QUERY_CHARS)?;
    let query = raw.trim();
    if query.is_empty() {
        return Err(AppError::validation(
            "q",
            "give a name prefix to search for",
        ));
    }
    let max = state.cfg.places.max_limit;
    let limit = match q.limit.as_deref() {
        None => state.cfg.places.default_limit,
        Some(s) => {
            let n = query_int("limit", s, 1, i64::try_from(max).unwrap_or(i64::MAX))?;
            usize::try_from(n).unwrap_or(max)
        }
    };
    Ok(HttpResponse::Ok().json(PlacesReply {
        places: state.places.search(query, limit),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PlacePath {
    /// GeoNames id.
    #[param(value_type = input::PlaceIdParam, inline, example = 1264527)]
    pub id: String,
}

/// One place by GeoNames id (public).
#[utoipa::path(get, path = "/api/v1/places/{id}", params(PlacePath),
    responses((status = 200, description = "the place", body = Place)))]
pub async fn get_place(
    state: web::Data<AppState>,
    path: web::Path<PlacePath>,
) -> Result<HttpResponse, AppError> {
    let p = input::parse_place_id(&path.id)
        .and_then(|id| state.places.get(id))
        .ok_or_else(|| AppError::not_found("place"))?;
    Ok(HttpResponse::Ok().json(p))
}

// ---------------------------------------------------------------- charts

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChartRequest {
    pub birth: BirthInput,
    #[serde(default)]
    pub options: OptionsInput,
}

/// A chart as answered: `{chart_id, cached, input, chart}` (the body is
/// assembled from the cached JSON text; this type documents it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChartAnswer {
    pub chart_id: Uuid,
    /// Whether the chart came from the cache.
    pub cached: bool,
    /// The normalized birth the chart was computed for.
    pub input: Normalized,
    pub chart: ChartDocument,
}

/// The chart document: every field of the engine's `astro::Chart` at the
/// top level, plus the Vedic analysis (see the README).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChartDocument {
    pub engine_version: String,
    pub jd_ut: f64,
    pub jd_tt: f64,
    pub latitude: f64,
    pub longitude: f64,
    pub ayanamsa: f64,
    /// The options the engine applied.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Sun to Ketu (and Uranus, Neptune with `outer_planets`): `lon`, `lat`, `speed`, `sign`, `nakshatra`, `pada`, `retrograde`.
    #[schema(value_type = Object)]
    pub grahas: serde_json::Value,
    #[schema(value_type = Object)]
    pub ascendant: serde_json::Value,
    #[schema(value_type = Object)]
    pub mc: serde_json::Value,
    #[schema(value_type = Object)]
    pub houses: serde_json::Value,
    #[schema(value_type = Object)]
    pub nakshatra: serde_json::Value,
    #[schema(value_type = Object)]
    pub dasha: serde_json::Value,
    #[schema(value_type = Object)]
    pub tithi: serde_json::Value,
    /// Per graha: sign, house, nakshatra, pada, dignity, retrograde, combust; the lagna.
    #[schema(value_type = Object)]
    pub analysis: serde_json::Value,
    /// The requested divisional charts by name (`d9`, ...).
    #[schema(value_type = Object)]
    pub vargas: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub yogas: serde_json::Value,
    #[schema(value_type = Object)]
    pub kuja_dosha: serde_json::Value,
    /// Balance, cycle start and the mahadashas of the birth cycle.
    #[schema(value_type = Object)]
    pub vimshottari: serde_json::Value,
}

/// Compute (or fetch from the cache) a birth chart.
///
/// Answers `{chart_id, cached, input, chart}`: `input` is the normalized
/// birth (zone, UTC instant, rounded coordinates, options), `chart` the
/// engine's chart with the Vedic analysis.
#[utoipa::path(post, path = "/api/v1/charts",
    request_body(content = ChartRequest, example = json!({"birth": {"date": "1990-05-01", "time": "06:30", "place_id": 1264527}, "options": {"divisional": ["D9"]}})),
    responses((status = 200, description = "the chart", body = ChartAnswer)),
    security(("internal" = [])))]
pub async fn create_chart(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<ChartRequest>,
) -> Result<HttpResponse, AppError> {
    let r = state
        .chart_for(p.user_id.as_uuid(), &body.0.birth, &body.0.options)
        .await?;
    Ok(json_text(r.body()?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The id (a UUID).
    #[param(value_type = input::UuidParam, inline)]
    pub id: String,
}

/// A chart the caller computed before.
#[utoipa::path(get, path = "/api/v1/charts/{id}", params(IdPath),
    responses((status = 200, description = "the chart", body = ChartAnswer)),
    security(("internal" = [])))]
pub async fn get_chart(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<IdPath>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid(&path.id, "chart")?;
    let (input, chart) = state.owned_chart(p.user_id.as_uuid(), id).await?;
    Ok(json_text(format!(
        "{{\"chart_id\":\"{id}\",\"cached\":true,\"input\":{input},\"chart\":{chart}}}"
    )))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashaQuery {
    /// RFC 3339 instant or `YYYY-MM-DD` (UTC midnight); default now.
    #[param(value_type = Option<input::InstantParam>, inline, example = "2024-06-01T00:00:00Z")]
    pub at: Option<String>,
}

/// Vimshottari dashas of a chart, with the periods running at `at`.
#[utoipa::path(get, path = "/api/v1/charts/{id}/dashas", params(IdPath, DashaQuery),
    responses((status = 200, description = "the dashas", body = engine::Dashas)),
    security(("internal" = [])))]
pub async fn chart_dashas(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<IdPath>,
    q: web::Query<DashaQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid(&path.id, "chart")?;
    let at = match q.at.as_deref() {
        None => chrono::Utc::now(),
        Some(s) => input::parse_instant(s).map_err(|m| AppError::validation("at", m))?,
    };
    let (_, chart) = state.owned_chart(p.user_id.as_uuid(), id).await?;
    let chart: serde_json::Value = serde_json::from_str(&chart).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(engine::dashas(id, &chart, at)?))
}

/// One side of a match: exactly one of `{chart_id}`, `{profile_id}` or
/// `{birth, options?}` (`options` go with `birth` only).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// A chart the caller computed.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(schema_with = input::uuid_schema, nullable = false)]
    pub chart_id: Option<Uuid>,
    /// One of the caller's profiles.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(schema_with = input::uuid_schema, nullable = false)]
    pub profile_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(nullable = false)]
    pub birth: Option<BirthInput>,
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(nullable = false)]
    pub options: Option<OptionsInput>,
}

/// `{boy, girl}` (or `groom`, `bride`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityRequest {
    /// The groom's side (ashtakoota is asymmetric); alias `groom`.
    #[serde(alias = "groom")]
    pub boy: Party,
    /// The bride's side; alias `bride`.
    #[serde(alias = "bride")]
    pub girl: Party,
}

/// A side of a match, as answered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SideReply {
    pub chart_id: Uuid,
    /// The Kuja (Mangal) dosha of this chart.
    #[schema(value_type = Object)]
    pub kuja_dosha: serde_json::Value,
}

/// `POST /api/v1/charts/compatibility`
#[derive(Serialize, utoipa::ToSchema)]
pub struct CompatibilityReply {
    pub boy: SideReply,
    pub girl: SideReply,
    /// The eight kootas with scores (`kootas`, `total` of `max` 36), doshas and cancellations.
    #[schema(value_type = Object)]
    pub ashtakoota: serde_json::Value,
}

/// A side, resolved without writing anything: an existing chart, or a
/// normalized birth to compute.
enum Side {
    Chart(Uuid, serde_json::Value),
    Birth(Box<Normalized>),
}

/// Checks one side and resolves it (reads only): 422 for a bad shape or a
/// tropical chart, 404 for a chart or profile that is not the caller's.
async fn resolve_side(
    state: &AppState,
    user: Uuid,
    party: &Party,
    field: &str,
) -> Result<Side, AppError> {
    let tropical = || AppError::validation(field, "guna milan needs a sidereal chart");
    let birth_side = |n: Normalized| {
        if n.options.zodiac == astro::Zodiac::Tropical {
            Err(tropical())
        } else {
            Ok(Side::Birth(Box::new(n)))
        }
    };
    match (
        party.chart_id,
        party.profile_id,
        &party.birth,
        &party.options,
    ) {
        (Some(id), None, None, None) => {
            let (_, chart) = state.owned_chart(user, id).await?;
            let chart: serde_json::Value =
                serde_json::from_str(&chart).map_err(AppError::internal)?;
            if chart["options"]["zodiac"] == "tropical" {
                return Err(tropical());
            }
            Ok(Side::Chart(id, chart))
        }
        (None, Some(pid), None, None) => {
            let prof = crate::profiles::load(state, user, pid).await?;
            let (birth, options) = prof.inputs()?;
            birth_side(state.normalize(&birth, &options)?)
        }
        (None, None, Some(birth), options) => {
            let options = options.clone().unwrap_or_default();
            birth_side(
                state
                    .normalize(birth, &options)
                    .map_err(|e| prefixed(e, field))?,
            )
        }
        (_, _, None, Some(_)) => Err(AppError::validation(
            &format!("{field}.options"),
            "options go with birth only",
        )),
        _ => Err(AppError::validation(
            field,
            "give exactly one of chart_id, profile_id or birth",
        )),
    }
}

/// `birth.date` -> `boy.birth.date`.
fn prefixed(mut e: AppError, prefix: &str) -> AppError {
    if let Some(f) = e.field.as_mut() {
        *f = format!("{prefix}.{f}");
    }
    e
}

async fn side_chart(
    state: &AppState,
    user: Uuid,
    side: Side,
) -> Result<(Uuid, serde_json::Value), AppError> {
    match side {
        Side::Chart(id, chart) => Ok((id, chart)),
        Side::Birth(n) => {
            let r = state.chart_of(user, *n).await?;
            let chart = serde_json::from_str(&r.chart).map_err(AppError::internal)?;
            Ok((r.chart_id, chart))
        }
    }
}

/// Ashtakoota (guna milan) between two charts, profiles or births.
///
/// Both sides are checked before anything is computed or saved.
#[utoipa::path(post, path = "/api/v1/charts/compatibility",
    request_body(content = CompatibilityRequest, example = json!({
        "boy": {"birth": {"date": "1990-05-01", "time": "06:30", "place_id": 1264527}},
        "girl": {"birth": {"date": "1992-03-01", "time": "10:00", "lat": 19.076, "lon": 72.8777}}
    })),
    responses((status = 200, description = "ashtakoota and both Kuja doshas", body = CompatibilityReply)),
    security(("internal" = [])))]
pub async fn compatibility(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<CompatibilityRequest>,
) -> Result<HttpResponse, AppError> {
    let user = p.user_id.as_uuid();
    let boy = resolve_side(&state, user, &body.0.boy, "boy").await?;
    let girl = resolve_side(&state, user, &body.0.girl, "girl").await?;
    let (boy_id, boy) = side_chart(&state, user, boy).await?;
    let (girl_id, girl) = side_chart(&state, user, girl).await?;
    let moon = |c: &serde_json::Value| c["grahas"]["moon"]["lon"].as_f64();
    let (Some(bm), Some(gm)) = (moon(&boy), moon(&girl)) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "stored chart lacks the Moon"
        )));
    };
    let a = vedic::ashtakoota(bm, gm);
    Ok(HttpResponse::Ok().json(CompatibilityReply {
        boy: SideReply {
            chart_id: boy_id,
            kuja_dosha: boy["kuja_dosha"].clone(),
        },
        girl: SideReply {
            chart_id: girl_id,
            kuja_dosha: girl["kuja_dosha"].clone(),
        },
        ashtakoota: serde_json::to_value(a).map_err(AppError::internal)?,
    }))
}

// ---------------------------------------------------------------- panchang

/// Give `place_id`, or `lat` and `lon` (with `tz` when no known place is
/// near); not both.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PanchangQuery {
    /// Local date, `YYYY-MM-DD` (1900-01-01 .. 2050-12-31).
    #[param(required = true, value_type = Option<input::CivilDate>, inline, example = "2024-01-15")]
    pub date: Option<String>,
    /// A gazetteer place (instead of `lat` and `lon`).
    #[param(value_type = Option<input::PlaceIdParam>, inline, example = 1264527)]
    pub place_id: Option<String>,
    /// Latitude, with `lon`.
    #[param(value_type = Option<input::Lat>, inline)]
    pub lat: Option<String>,
    /// Longitude, with `lat`.
    #[param(value_type = Option<input::Lon>, inline)]
    pub lon: Option<String>,
    /// IANA zone; default: the place's, or the nearest known place's.
    #[param(value_type = Option<input::ZoneName>, inline)]
    pub tz: Option<String>,
}

/// The day's panchang at a place (public): tithi, nakshatra, yoga, karana
/// at sunrise with their end times, vara, sunrise, sunset, Rahu kalam.
#[utoipa::path(get, path = "/api/v1/panchang", params(PanchangQuery),
    responses((status = 200, description = "the panchang", body = crate::panchang::Panchang)))]
pub async fn panchang(
    state: web::Data<AppState>,
    q: web::Query<PanchangQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let date = q
        .date
        .ok_or_else(|| AppError::validation("date", "date is required (YYYY-MM-DD)"))?;
    let date = input::parse_date(&date).map_err(|m| AppError::validation("date", m))?;
    let place_id = match q.place_id.as_deref() {
        None => None,
        Some(s) => Some(Int(input::parse_place_id(s).ok_or_else(|| {
            AppError::validation(
                "place_id",
                format!("{s:?} is not a place id (1 to {})", input::MAX_PLACE_ID),
            )
        })?)),
    };
    let lat = match q.lat.as_deref() {
        None => None,
        Some(s) => Some(input::Lat(query_degrees("lat", s, -90.0, 90.0)?)),
    };
    let lon = match q.lon.as_deref() {
        None => None,
        Some(s) => Some(input::Lon(query_degrees("lon", s, -180.0, 180.0)?)),
    };
    let tz = match q.tz {
        None => None,
        Some(s) => {
            check_line("tz", &s, 64)?;
            Some(Line(s))
        }
    };
    let day = PanchangRequest {
        date: input::CivilDate(date),
        place_id,
        lat,
        lon,
        tz,
    };
    Ok(HttpResponse::Ok().json(panchang_for(&state, day).await?))
}

/// A panchang request with its values checked: `GET /api/v1/panchang`
/// builds one from its query, `charts.panchang.get` takes one as its body.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PanchangRequest {
    /// Local date, `YYYY-MM-DD` (1900-01-01 .. 2050-12-31).
    pub date: input::CivilDate,
    /// A gazetteer place (instead of `lat` and `lon`).
    #[serde(
        default,
        deserialize_with = "input::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub place_id: Option<input::PlaceId>,
    /// Latitude, with `lon`.
    #[serde(
        default,
        deserialize_with = "input::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub lat: Option<input::Lat>,
    /// Longitude, with `lat`.
    #[serde(
        default,
        deserialize_with = "input::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub lon: Option<input::Lon>,
    /// IANA zone; default: the place's, or the nearest known place's.
    #[serde(
        default,
        deserialize_with = "input::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tz: Option<input::ZoneName>,
}

/// The day's panchang, for HTTP and NATS alike. The birth validation is
/// reused (date range, place or coordinates, zone) on the day at 12:00,
/// and the fields it names lose their `birth.` prefix.
pub async fn panchang_for(
    state: &AppState,
    day: PanchangRequest,
) -> Result<crate::panchang::Panchang, AppError> {
    let birth = BirthInput {
        date: day.date,
        time: input::CivilTime {
            text: "12:00".into(),
            time: chrono::NaiveTime::MIN + chrono::Duration::hours(12),
        },
        place_id: day.place_id,
        lat: day.lat,
        lon: day.lon,
        tz: day.tz,
        disambiguation: Some(input::Choice(astro::Disambiguation::Earlier)),
    };
    let n = state
        .normalize(&birth, &OptionsInput::default())
        .map_err(|mut e| {
            if let Some(f) = e.field.as_mut() {
                if let Some(rest) = f.strip_prefix("birth.") {
                    *f = rest.to_owned();
                }
            }
            e
        })?;
    state
        .cache
        .run_blocking(move || crate::panchang::compute(&n))
        .await
}

// ---------------------------------------------------------------- admin

/// Cache statistics (admins).
#[utoipa::path(get, path = "/api/v1/admin/charts/cache/stats",
    responses((status = 200, description = "cache counters and row counts", body = crate::cache::CacheStats)),
    security(("internal" = [])))]
pub async fn cache_stats(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(state.cache.stats(state.compute_threads).await?))
}

/// The oldest age a purge may name: 100 years, in seconds.
pub const MAX_PURGE_AGE_SECS: i64 = 100 * 366 * 86_400;

/// An engine version as named in a purge.
pub type EngineVersion = Line<64>;
/// A purge's age limit in seconds.
pub type PurgeAge = Int<0, MAX_PURGE_AGE_SECS>;

/// Conditions combine with AND; give at least one of `engine_version`,
/// `stale_versions: true` or `older_than_secs`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Delete rows of this engine version.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(inline, nullable = false)]
    pub engine_version: Option<EngineVersion>,
    /// Delete rows of every version but the current one.
    #[serde(default)]
    pub stale_versions: bool,
    /// Delete rows created more than this many seconds ago (0 to 100 years).
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(inline, nullable = false)]
    pub older_than_secs: Option<PurgeAge>,
}

/// `POST /api/v1/admin/charts/cache/purge`
#[derive(Serialize, utoipa::ToSchema)]
pub struct PurgeReply {
    /// Rows deleted.
    pub deleted: u64,
}

/// Purge cache rows by engine version or age (admins).
#[utoipa::path(post, path = "/api/v1/admin/charts/cache/purge",
    request_body(content = PurgeRequest, example = json!({"stale_versions": true})),
    responses((status = 200, description = "rows deleted; every replica dropped its in-memory charts", body = PurgeReply)),
    security(("internal" = [])))]
pub async fn cache_purge(
    state: web::Data<AppState>,
    _admin: Admin,
    body: Json<PurgeRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    if b.engine_version.is_none() && !b.stale_versions && b.older_than_secs.is_none() {
        return Err(AppError::validation(
            "engine_version",
            "give engine_version, stale_versions or older_than_secs",
        ));
    }
    let engine_version = b.engine_version.map(Line::into_inner);
    let older_than_secs = b.older_than_secs.map(Int::get);
    let client = platform::db::conn(&state.pool).await?;
    let deleted = client
        .execute(
            "DELETE FROM chart_cache WHERE
                 ($1::text IS NULL OR engine_version = $1)
             AND (NOT $2 OR engine_version <> $3)
             AND ($4::bigint IS NULL OR created_at < now() - make_interval(secs => $4::bigint::float8))",
            &[
                &engine_version,
                &b.stale_versions,
                &state.cache.engine_version,
                &older_than_secs,
            ],
        )
        .await
        .map_err(platform::db::q)?;
    drop(client);
    state.cache.clear_memory();
    // Every replica forgets what it holds in memory.
    if let Err(e) = state
        .bus
        .broadcast(crate::PURGED_SUBJECT, Vec::new().into())
        .await
    {
        tracing::warn!(error = %e, "could not announce the purge to other replicas");
    }
    tracing::info!(deleted, "chart cache purged");
    Ok(HttpResponse::Ok().json(PurgeReply { deleted }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn query_integers_are_strict() {
        assert_eq!(query_int("limit", "5", 1, 10).unwrap(), 5);
        for bad in [
            "0",
            "11",
            "+5",
            "5.0",
            "",
            "-",
            "abc",
            "99999999999999999999",
        ] {
            let e = query_int("limit", bad, 1, 10).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("limit"), "{bad:?}");
        }
    }
}
