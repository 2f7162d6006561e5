//! HTTP handlers: places, charts, dashas, compatibility, profiles, panchang
//! and the cache administration.

use crate::engine::{self, BirthInput, OptionsInput};
use crate::places::{Place, PlaceMatch};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use astro::vedic;
use chrono::{DateTime, NaiveTime, Utc};
use platform::auth::{Admin, Authenticated};
use platform::http::Json;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

fn json_text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

fn parse_id(s: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found(what))
}

// ---------------------------------------------------------------- places

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PlacesQuery {
    /// Prefix of a name or alternate name (case and diacritics ignored).
    pub q: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlacesReply {
    pub places: Vec<PlaceMatch>,
}

/// Search the gazetteer (public).
#[utoipa::path(get, path = "/api/v1/places", params(PlacesQuery),
    responses((status = 200, body = PlacesReply), (status = 422, body = common::ErrorBody)))]
pub async fn search_places(
    state: web::Data<AppState>,
    q: web::Query<PlacesQuery>,
) -> Result<HttpResponse, AppError> {
    let query = q.q.as_deref().map(str::trim).unwrap_or("");
    if query.is_empty() {
        return Err(AppError::validation(
            "q",
            "give a name prefix to search for",
        ));
    }
    if query.chars().count() > 100 {
        return Err(AppError::validation("q", "at most 100 characters"));
    }
    let limit = q.limit.unwrap_or(state.cfg.places.default_limit);
    if limit == 0 || limit > state.cfg.places.max_limit {
        return Err(AppError::validation(
            "limit",
            format!("must be between 1 and {}", state.cfg.places.max_limit),
        ));
    }
    Ok(HttpResponse::Ok().json(PlacesReply {
        places: state.places.search(query, limit),
    }))
}

/// One place by GeoNames id (public).
#[utoipa::path(get, path = "/api/v1/places/{id}",
    responses((status = 200, body = Place), (status = 404, body = common::ErrorBody)))]
pub async fn get_place(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::not_found("place"))?;
    let p = state
        .places
        .get(id)
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

/// Compute (or fetch from the cache) a birth chart.
///
/// Answers `{chart_id, cached, input, chart}`: `input` is the normalized
/// birth (zone, UTC instant, rounded coordinates, options), `chart` the
/// engine's chart with the Vedic analysis.
#[utoipa::path(post, path = "/api/v1/charts", request_body = ChartRequest,
    responses((status = 200, description = "the chart"), (status = 422, body = common::ErrorBody)),
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

/// A chart the caller computed before.
#[utoipa::path(get, path = "/api/v1/charts/{id}",
    responses((status = 200, description = "the chart"), (status = 404, body = common::ErrorBody)))]
pub async fn get_chart(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id, "chart")?;
    let (input, chart) = state.owned_chart(p.user_id.as_uuid(), id).await?;
    Ok(json_text(format!(
        "{{\"chart_id\":\"{id}\",\"cached\":true,\"input\":{input},\"chart\":{chart}}}"
    )))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DashaQuery {
    /// RFC 3339 instant or `YYYY-MM-DD` (UTC midnight); default now.
    pub at: Option<String>,
}

fn parse_at(at: Option<&str>) -> Result<DateTime<Utc>, AppError> {
    match at.map(str::trim) {
        None | Some("") => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| engine::parse_date("at", s).map(|d| d.and_time(NaiveTime::MIN).and_utc()))
            .map_err(|_| {
                AppError::validation("at", format!("{s:?} is not an RFC 3339 instant or a date"))
            }),
    }
}

/// Vimshottari dashas of a chart, with the periods running at `at`.
#[utoipa::path(get, path = "/api/v1/charts/{id}/dashas", params(DashaQuery),
    responses((status = 200, description = "dashas"), (status = 404, body = common::ErrorBody)))]
pub async fn chart_dashas(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
    q: web::Query<DashaQuery>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id, "chart")?;
    let at = parse_at(q.at.as_deref())?;
    let (_, chart) = state.owned_chart(p.user_id.as_uuid(), id).await?;
    let chart: serde_json::Value = serde_json::from_str(&chart).map_err(AppError::internal)?;
    let mut d = engine::dashas(&chart, at)?;
    d["chart_id"] = json!(id);
    Ok(HttpResponse::Ok().json(d))
}

/// One side of a match: a chart, a profile, or birth details.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub chart_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
    pub birth: Option<BirthInput>,
    pub options: Option<OptionsInput>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityRequest {
    /// The groom's side (ashtakoota is asymmetric).
    #[serde(alias = "groom")]
    pub boy: Party,
    #[serde(alias = "bride")]
    pub girl: Party,
}

async fn party_chart(
    state: &AppState,
    user: Uuid,
    party: &Party,
    field: &str,
) -> Result<(Uuid, serde_json::Value), AppError> {
    let chart_id = match (party.chart_id, party.profile_id, &party.birth) {
        (Some(id), None, None) => id,
        (None, Some(pid), None) => {
            let prof = crate::profiles::load(state, user, pid).await?;
            match prof.chart_id {
                Some(c) => c,
                None => {
                    let (birth, options) = prof.inputs()?;
                    state.chart_for(user, &birth, &options).await?.chart_id
                }
            }
        }
        (None, None, Some(birth)) => {
            let options = party.options.clone().unwrap_or_default();
            state.chart_for(user, birth, &options).await?.chart_id
        }
        _ => {
            return Err(AppError::validation(
                field,
                "give exactly one of chart_id, profile_id or birth",
            ))
        }
    };
    let (_, chart) = state.owned_chart(user, chart_id).await?;
    let chart: serde_json::Value = serde_json::from_str(&chart).map_err(AppError::internal)?;
    if chart["options"]["zodiac"] == "tropical" {
        return Err(AppError::validation(
            field,
            "guna milan needs a sidereal chart",
        ));
    }
    Ok((chart_id, chart))
}

/// Ashtakoota (guna milan) between two charts or profiles.
#[utoipa::path(post, path = "/api/v1/charts/compatibility", request_body = CompatibilityRequest,
    responses((status = 200, description = "ashtakoota"), (status = 404, body = common::ErrorBody), (status = 422, body = common::ErrorBody)))]
pub async fn compatibility(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<CompatibilityRequest>,
) -> Result<HttpResponse, AppError> {
    let user = p.user_id.as_uuid();
    let (boy_id, boy) = party_chart(&state, user, &body.0.boy, "boy").await?;
    let (girl_id, girl) = party_chart(&state, user, &body.0.girl, "girl").await?;
    let moon = |c: &serde_json::Value| c["grahas"]["moon"]["lon"].as_f64();
    let (Some(bm), Some(gm)) = (moon(&boy), moon(&girl)) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "stored chart lacks the Moon"
        )));
    };
    let a = vedic::ashtakoota(bm, gm);
    Ok(HttpResponse::Ok().json(json!({
        "boy": {"chart_id": boy_id, "kuja_dosha": boy["kuja_dosha"]},
        "girl": {"chart_id": girl_id, "kuja_dosha": girl["kuja_dosha"]},
        "ashtakoota": a,
    })))
}

// ---------------------------------------------------------------- panchang

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PanchangQuery {
    /// Local date, `YYYY-MM-DD`.
    pub date: Option<String>,
    pub place_id: Option<i64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub tz: Option<String>,
}

/// The day's panchang at a place (public): tithi, nakshatra, yoga, karana
/// at sunrise with their end times, vara, sunrise, sunset, Rahu kalam.
#[utoipa::path(get, path = "/api/v1/panchang", params(PanchangQuery),
    responses((status = 200, description = "panchang"), (status = 422, body = common::ErrorBody)))]
pub async fn panchang(
    state: web::Data<AppState>,
    q: web::Query<PanchangQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let date = q
        .date
        .ok_or_else(|| AppError::validation("date", "date is required (YYYY-MM-DD)"))?;
    // Reuse the birth validation: date range, place or coordinates, zone.
    let birth = BirthInput {
        date,
        time: "12:00".into(),
        place_id: q.place_id,
        lat: q.lat,
        lon: q.lon,
        tz: q.tz,
        disambiguation: Some(astro::Disambiguation::Earlier),
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
    let body = state
        .cache
        .run_blocking(move || crate::panchang::compute(&n))
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

// ---------------------------------------------------------------- admin

/// Cache statistics (admins).
#[utoipa::path(get, path = "/api/v1/admin/charts/cache/stats",
    responses((status = 200, body = crate::cache::CacheStats), (status = 403, body = common::ErrorBody)))]
pub async fn cache_stats(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(state.cache.stats(state.compute_threads).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Delete rows of this engine version.
    pub engine_version: Option<String>,
    /// Delete rows of every version but the current one.
    #[serde(default)]
    pub stale_versions: bool,
    /// Delete rows created more than this many seconds ago.
    pub older_than_secs: Option<i64>,
}

/// Purge cache rows by engine version or age (admins).
#[utoipa::path(post, path = "/api/v1/admin/charts/cache/purge", request_body = PurgeRequest,
    responses((status = 200, description = "{deleted}"), (status = 422, body = common::ErrorBody)))]
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
    if let Some(s) = b.older_than_secs {
        if s < 0 {
            return Err(AppError::validation(
                "older_than_secs",
                "must not be negative",
            ));
        }
    }
    let client = platform::db::conn(&state.pool).await?;
    let deleted = client
        .execute(
            "DELETE FROM chart_cache WHERE
                 ($1::text IS NULL OR engine_version = $1)
             AND (NOT $2 OR engine_version <> $3)
             AND ($4::bigint IS NULL OR created_at < now() - make_interval(secs => $4::bigint::float8))",
            &[
                &b.engine_version,
                &b.stale_versions,
                &state.cache.engine_version,
                &b.older_than_secs,
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
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}
