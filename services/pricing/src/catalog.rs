//! The service catalog, the cost model and recommendations, approved prices
//! and overrides (price history), and quotes.
//!
//! Live prices come only from `price_history` through the SQL function
//! `effective_price(code, at)`: a pending recommendation writes nothing
//! there; approval inserts the new price and marks the recommendation in one
//! transaction. Quotes freeze the effective price for `quotes.ttl_secs`.
//!
//! Every price is at most `limits::MAX_UNIT_PRICE` and a quote covers at
//! most `limits::MAX_QUOTE_UNITS`, so a quote's total always fits a hold.

use crate::engine::{self, CostInputs, Factors, Usage};
use crate::events;
use crate::input::{
    instant, object, path_code, path_uuid, Body, Name, Query, Reason, RecommendationStatus,
    ServiceCode, Unit,
};
use crate::limits::{CostMicro, MultiplierBps, QuoteUnits, ReportDays, UnitPrice, UsageMilli};
use crate::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use common::{ErrorCode, EventEnvelope, QuoteId, UserId};
use platform::auth::{Admin, Authenticated};
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceView {
    pub code: String,
    pub name: String,
    pub category: String,
    /// "request" or "minute"
    pub unit: String,
    pub base_price: i64,
    /// The live price now (approved prices and overrides applied).
    pub price: i64,
    pub active: bool,
    pub usage: Usage,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceList {
    pub items: Vec<ServiceView>,
}

/// A service as anyone may see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicService {
    pub code: String,
    pub name: String,
    pub category: String,
    /// "request" or "minute"
    pub unit: String,
    /// The live price of one unit, in credits.
    pub price: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicServiceList {
    pub items: Vec<PublicService>,
}

const SERVICE_COLS: &str = "code, name, category, unit, base_price, COALESCE(effective_price(code, now()), base_price), active,
    llm_ktokens_milli, tts_minutes_milli, avatar_minutes_milli, agora_minutes_milli, chart_computations_milli";

fn service_row(r: &tokio_postgres::Row) -> ServiceView {
    ServiceView {
        code: r.get(0),
        name: r.get(1),
        category: r.get(2),
        unit: r.get(3),
        base_price: r.get(4),
        price: r.get(5),
        active: r.get(6),
        usage: Usage {
            llm_ktokens_milli: r.get(7),
            tts_minutes_milli: r.get(8),
            avatar_minutes_milli: r.get(9),
            agora_minutes_milli: r.get(10),
            chart_computations_milli: r.get(11),
        },
    }
}

/// `GET /api/v1/pricing/services` (public): active services with live prices.
#[utoipa::path(
    get,
    path = "/api/v1/pricing/services",
    responses(
        (status = 200, description = "active services with their live prices, by code", body = PublicServiceList),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn public_services(st: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE active ORDER BY code"),
            &[],
        )
        .await
        .map_err(q)?;
    let items = rows
        .iter()
        .map(service_row)
        .map(|s| PublicService {
            code: s.code,
            name: s.name,
            category: s.category,
            unit: s.unit,
            price: s.price,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PublicServiceList { items }))
}

/// `GET /api/v1/admin/pricing/services`: every service, active or not.
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/services",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "every service with its live price and usage assumptions, by code", body = ServiceList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn admin_services(st: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!("SELECT {SERVICE_COLS} FROM services ORDER BY code"),
            &[],
        )
        .await
        .map_err(q)?;
    let items: Vec<ServiceView> = rows.iter().map(service_row).collect();
    Ok(HttpResponse::Ok().json(ServiceList { items }))
}

/// What one unit of a service uses, in thousandths of each provider unit
/// (0 to 10^9 each).
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UsageInput {
    #[schema(inline)]
    pub llm_ktokens_milli: UsageMilli,
    #[schema(inline)]
    pub tts_minutes_milli: UsageMilli,
    #[schema(inline)]
    pub avatar_minutes_milli: UsageMilli,
    #[schema(inline)]
    pub agora_minutes_milli: UsageMilli,
    #[schema(inline)]
    pub chart_computations_milli: UsageMilli,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ServiceInput {
    pub code: ServiceCode,
    #[schema(inline)]
    pub name: Name<100>,
    /// Category multipliers apply by category.
    #[schema(inline)]
    pub category: Name<50>,
    /// Default "request".
    #[serde(default = "default_unit")]
    pub unit: Unit,
    /// The first price, credits per unit (0 to 10^8).
    #[schema(inline)]
    pub base_price: UnitPrice,
    /// Default: all zero.
    #[serde(default, deserialize_with = "object")]
    pub usage: UsageInput,
    /// Default true.
    #[serde(default = "yes")]
    pub active: bool,
}

/// A service's description; never its price (see recommendations and overrides).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ServiceUpdate {
    #[schema(inline)]
    pub name: Name<100>,
    #[schema(inline)]
    pub category: Name<50>,
    /// Default "request".
    #[serde(default = "default_unit")]
    pub unit: Unit,
    /// Default: all zero.
    #[serde(default, deserialize_with = "object")]
    pub usage: UsageInput,
    /// Default true.
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_unit() -> Unit {
    Unit::Request
}
fn yes() -> bool {
    true
}

/// `POST /api/v1/admin/pricing/services`: a new service; its base price is
/// its first price-history row.
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/services",
    request_body = ServiceInput,
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "the service", body = ServiceView),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 409, description = "conflict: a service with this code exists"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an invalid code, a blank name or category, control characters, an unknown unit, a price or usage out of range"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn create_service(
    st: web::Data<AppState>,
    Admin(p): Admin,
    body: Body<ServiceInput>,
) -> Result<HttpResponse, AppError> {
    let s = body.0;
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let u = &s.usage;
    let n = tx
        .execute(
            "INSERT INTO services (code, name, category, unit, base_price, llm_ktokens_milli, tts_minutes_milli,
                avatar_minutes_milli, agora_minutes_milli, chart_computations_milli, active)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (code) DO NOTHING",
            &[
                &s.code.as_str(), &s.name.as_str(), &s.category.as_str(), &s.unit.as_str(),
                &s.base_price.get(), &u.llm_ktokens_milli.get(), &u.tts_minutes_milli.get(),
                &u.avatar_minutes_milli.get(), &u.agora_minutes_milli.get(),
                &u.chart_computations_milli.get(), &s.active,
            ],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "a service with this code exists",
        ));
    }
    tx.execute(
        "INSERT INTO price_history (id, service_code, price, kind, starts_at, changed_by, reason)
         VALUES ($1, $2, $3, 'base', now(), $4, 'created')",
        &[
            &Uuid::now_v7(),
            &s.code.as_str(),
            &s.base_price.get(),
            &p.user_id.as_uuid(),
        ],
    )
    .await
    .map_err(q)?;
    let row = tx
        .query_one(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE code = $1"),
            &[&s.code.as_str()],
        )
        .await
        .map_err(q)?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Created().json(service_row(&row)))
}

/// `PUT /api/v1/admin/pricing/services/{code}`: name, category, unit, usage
/// assumptions and the active flag. The price is changed only through
/// recommendations or overrides, never here (a `base_price` sent is ignored).
#[utoipa::path(
    put,
    path = "/api/v1/admin/pricing/services/{code}",
    params(("code" = String, Path, min_length = 2, max_length = 63, pattern = "^[a-z][a-z0-9_]{1,62}$", description = "service code")),
    request_body = ServiceUpdate,
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the service", body = ServiceView),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such service"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an invalid code, a blank name or category, control characters, an unknown unit, usage out of range"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn update_service(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Body<ServiceUpdate>,
) -> Result<HttpResponse, AppError> {
    let code = path_code("code", &path)?;
    let s = body.0;
    let c = platform::db::conn(&st.pool).await?;
    let u = &s.usage;
    let n = c
        .execute(
            "UPDATE services SET name=$2, category=$3, unit=$4, llm_ktokens_milli=$5, tts_minutes_milli=$6,
                avatar_minutes_milli=$7, agora_minutes_milli=$8, chart_computations_milli=$9, active=$10, updated_at=now()
             WHERE code=$1",
            &[
                &code.as_str(), &s.name.as_str(), &s.category.as_str(), &s.unit.as_str(),
                &u.llm_ktokens_milli.get(), &u.tts_minutes_milli.get(), &u.avatar_minutes_milli.get(),
                &u.agora_minutes_milli.get(), &u.chart_computations_milli.get(), &s.active,
            ],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("service"));
    }
    let row = c
        .query_one(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE code = $1"),
            &[&code.as_str()],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(service_row(&row)))
}

// ---------------------------------------------------------------- cost inputs

/// The cost model as stored.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostModel {
    /// Micro-credits per provider unit.
    pub costs: CostInputs,
    /// Basis points per category (10000 = 1.0; absent = 1.0).
    pub category_multipliers: BTreeMap<String, i64>,
}

/// Provider costs to change, micro-credits per provider unit (0 to 10^12);
/// absent ones stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostUpdate {
    #[schema(inline)]
    pub llm_per_1k_tokens: Option<CostMicro>,
    #[schema(inline)]
    pub tts_per_minute: Option<CostMicro>,
    #[schema(inline)]
    pub avatar_video_per_minute: Option<CostMicro>,
    #[schema(inline)]
    pub agora_per_minute: Option<CostMicro>,
    #[schema(inline)]
    pub chart_computation: Option<CostMicro>,
}

impl CostUpdate {
    fn entries(&self) -> Vec<(&'static str, i64)> {
        [
            ("llm_per_1k_tokens", self.llm_per_1k_tokens),
            ("tts_per_minute", self.tts_per_minute),
            ("avatar_video_per_minute", self.avatar_video_per_minute),
            ("agora_per_minute", self.agora_per_minute),
            ("chart_computation", self.chart_computation),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.get())))
        .collect()
    }
}

/// `PUT /api/v1/admin/pricing/cost-inputs`: the costs and multipliers named.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CostModelUpdate {
    #[serde(default, deserialize_with = "object")]
    pub costs: CostUpdate,
    /// Basis points per category (1 to 100000; 10000 = 1.0), by category name.
    #[serde(default)]
    #[schema(inline)]
    pub category_multipliers: BTreeMap<Name<50>, MultiplierBps>,
}

async fn load_costs<C: deadpool_postgres::GenericClient>(
    c: &C,
) -> Result<(CostInputs, BTreeMap<String, i64>), AppError> {
    let mut inputs = CostInputs::default();
    for r in c
        .query("SELECT key, micro_credits FROM cost_inputs", &[])
        .await
        .map_err(q)?
    {
        let k: String = r.get(0);
        inputs.set(&k, r.get(1));
    }
    let mut cats = BTreeMap::new();
    for r in c
        .query(
            "SELECT category, multiplier_bps FROM category_multipliers",
            &[],
        )
        .await
        .map_err(q)?
    {
        cats.insert(r.get::<_, String>(0), r.get::<_, i64>(1));
    }
    Ok((inputs, cats))
}

/// `GET /api/v1/admin/pricing/cost-inputs`
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/cost-inputs",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "provider costs and category multipliers", body = CostModel),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn get_cost_inputs(st: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let (costs, category_multipliers) = load_costs(&c).await?;
    Ok(HttpResponse::Ok().json(CostModel {
        costs,
        category_multipliers,
    }))
}

/// `PUT /api/v1/admin/pricing/cost-inputs`: updates the named costs and multipliers.
#[utoipa::path(
    put,
    path = "/api/v1/admin/pricing/cost-inputs",
    request_body = CostModelUpdate,
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the cost model after the update", body = CostModel),
        (status = 400, description = "malformed_json (an unknown cost input among them)"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): a cost or multiplier out of range, a blank category or one with control characters"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn put_cost_inputs(
    st: web::Data<AppState>,
    a: Admin,
    body: Body<CostModelUpdate>,
) -> Result<HttpResponse, AppError> {
    let update = body.0;
    {
        let mut c = platform::db::conn(&st.pool).await?;
        let tx = c.transaction().await.map_err(q)?;
        for (k, v) in update.costs.entries() {
            tx.execute(
                "INSERT INTO cost_inputs (key, micro_credits) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET micro_credits = EXCLUDED.micro_credits, updated_at = now()",
                &[&k, &v],
            )
            .await
            .map_err(q)?;
        }
        // In key order: two updates lock the rows in the same order.
        for (k, v) in &update.category_multipliers {
            tx.execute(
                "INSERT INTO category_multipliers (category, multiplier_bps) VALUES ($1, $2)
                 ON CONFLICT (category) DO UPDATE SET multiplier_bps = EXCLUDED.multiplier_bps",
                &[&k.as_str(), &v.get()],
            )
            .await
            .map_err(q)?;
        }
        tx.commit().await.map_err(q)?;
    }
    get_cost_inputs(st, a).await
}

// ---------------------------------------------------------------- recommendations

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecommendationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub service_code: String,
    pub current_price: i64,
    pub recommended_price: i64,
    /// Every input and factor behind the price (see the engine).
    #[schema(value_type = Object)]
    pub rationale: serde_json::Value,
    /// pending, approved or rejected
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecommendationList {
    pub items: Vec<RecommendationView>,
}

fn rec_row(r: &tokio_postgres::Row) -> RecommendationView {
    RecommendationView {
        id: r.get(0),
        service_code: r.get(1),
        current_price: r.get(2),
        recommended_price: r.get(3),
        rationale: r.get(4),
        status: r.get(5),
        created_at: r.get(6),
    }
}

const REC_COLS: &str =
    "id, service_code, current_price, recommended_price, rationale, status, created_at";

/// `POST /api/v1/admin/pricing/recommendations/generate`: runs the engine
/// over every active service and stores pending recommendations (no price
/// changes).
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/recommendations/generate",
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "one pending recommendation per active service", body = RecommendationList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn generate(st: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, AppError> {
    let e = &st.cfg.engine;
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let (costs, cats) = load_costs(&tx).await?;
    let rows = tx
        .query(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE active ORDER BY code"),
            &[],
        )
        .await
        .map_err(q)?;
    let baseline_hours = e.demand_baseline_days * 24;
    let mut out = Vec::new();
    for s in rows.iter().map(service_row) {
        // Demand: usage events (from JetStream) in the recent window against
        // the average rate over the baseline period.
        let d = tx
            .query_one(
                "SELECT LEAST(COALESCE(sum(units) FILTER (WHERE occurred_at > now() - make_interval(hours => $2::int)), 0), 9223372036854775807)::bigint,
                        LEAST(COALESCE(sum(units) FILTER (WHERE occurred_at > now() - make_interval(hours => $3::int)), 0), 9223372036854775807)::bigint
                 FROM usage_events WHERE service_code = $1",
                &[
                    &s.code,
                    &i32::try_from(e.demand_window_hours).unwrap_or(24),
                    &i32::try_from(baseline_hours).unwrap_or(168),
                ],
            )
            .await
            .map_err(q)?;
        let (recent, baseline): (i64, i64) = (d.get(0), d.get(1));
        let demand = engine::demand_bps(
            recent,
            e.demand_window_hours,
            baseline,
            baseline_hours,
            e.demand_min_bps,
            e.demand_max_bps,
        );
        let f = Factors {
            margin_bps: e.margin_bps,
            demand_bps: demand,
            category_bps: cats.get(&s.category).copied().unwrap_or(10_000),
            floor: e.floor_credits,
            ceiling: e.ceiling_credits,
            step: e.rounding_step,
        };
        let r = engine::recommend(&costs, &s.usage, &f);
        let mut rationale = serde_json::to_value(&r).map_err(AppError::internal)?;
        rationale["demand_usage"] = serde_json::json!({"recent": recent, "baseline": baseline,
            "recent_hours": e.demand_window_hours, "baseline_hours": baseline_hours});
        rationale["category"] = serde_json::json!(s.category);
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO recommendations (id, service_code, current_price, recommended_price, rationale, status)
                     VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING {REC_COLS}"
                ),
                &[&Uuid::now_v7(), &s.code, &s.price, &r.price, &rationale],
            )
            .await
            .map_err(q)?;
        out.push(rec_row(&row));
    }
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Created().json(RecommendationList { items: out }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecQuery {
    /// Only recommendations with this status.
    pub status: Option<RecommendationStatus>,
}

/// `GET /api/v1/admin/pricing/recommendations?status=`: newest first (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/recommendations",
    params(RecQuery),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the newest 500 recommendations", body = RecommendationList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 422, description = "validation_failed: `status` is not pending, approved or rejected"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn list_recommendations(
    st: web::Data<AppState>,
    _a: Admin,
    Query(query): Query<RecQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query.status.map(RecommendationStatus::as_str);
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {REC_COLS} FROM recommendations WHERE ($1::text IS NULL OR status = $1)
                 ORDER BY created_at DESC LIMIT 500"
            ),
            &[&status],
        )
        .await
        .map_err(q)?;
    let items: Vec<RecommendationView> = rows.iter().map(rec_row).collect();
    Ok(HttpResponse::Ok().json(RecommendationList { items }))
}

/// `POST .../recommendations/{id}/approve`: atomically makes the recommended
/// price live (a price-history row) and marks the recommendation approved.
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/recommendations/{id}/approve",
    params(("id" = String, Path, format = Uuid, description = "recommendation id")),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the recommendation, approved; its price is live", body = RecommendationView),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such recommendation"),
        (status = 409, description = "conflict: the recommendation was already decided"),
        (status = 422, description = "validation_failed: `id` is not a UUID"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn approve(
    st: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid("id", &path)?;
    decide(&st, p.user_id, id, true).await
}

/// `POST .../recommendations/{id}/reject`: marks it rejected (no price change).
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/recommendations/{id}/reject",
    params(("id" = String, Path, format = Uuid, description = "recommendation id")),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the recommendation, rejected", body = RecommendationView),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such recommendation"),
        (status = 409, description = "conflict: the recommendation was already decided"),
        (status = 422, description = "validation_failed: `id` is not a UUID"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn reject(
    st: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid("id", &path)?;
    decide(&st, p.user_id, id, false).await
}

async fn decide(
    st: &AppState,
    admin: UserId,
    id: Uuid,
    approve: bool,
) -> Result<HttpResponse, AppError> {
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            "SELECT service_code, recommended_price, status FROM recommendations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("recommendation"))?;
    let code: String = row.get(0);
    let price: i64 = row.get(1);
    let status: String = row.get(2);
    if status != "pending" {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("the recommendation is already {status}"),
        ));
    }
    let new_status = if approve { "approved" } else { "rejected" };
    if approve {
        // Serialize price changes per service.
        tx.query_one(
            "SELECT 1 FROM services WHERE code = $1 FOR UPDATE",
            &[&code],
        )
        .await
        .map_err(q)?;
        let old: Option<i64> = tx
            .query_one("SELECT effective_price($1, now())", &[&code])
            .await
            .map_err(q)?
            .get(0);
        let at: DateTime<Utc> = tx
            .query_one(
                "INSERT INTO price_history (id, service_code, price, kind, starts_at, recommendation_id, changed_by, reason)
                 VALUES ($1, $2, $3, 'approved', now(), $4, $5, 'recommendation approved') RETURNING starts_at",
                &[&Uuid::now_v7(), &code, &price, &id, &admin.as_uuid()],
            )
            .await
            .map_err(q)?
            .get(0);
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_PRICE_CHANGED,
            1,
            events::PriceChanged {
                service_code: code.clone(),
                old_price: old,
                new_price: price,
                cause: "approved".into(),
                recommendation_id: Some(id),
                effective_from: at,
            },
        );
        platform::outbox::enqueue(&tx, &e, &CallContext::current()).await?;
    }
    let row = tx
        .query_one(
            &format!(
                "UPDATE recommendations SET status = $2, decided_at = now(), decided_by = $3 WHERE id = $1
                 RETURNING {REC_COLS}"
            ),
            &[&id, &new_status, &admin.as_uuid()],
        )
        .await
        .map_err(q)?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(HttpResponse::Ok().json(rec_row(&row)))
}

// ---------------------------------------------------------------- overrides and history

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OverrideInput {
    pub service_code: ServiceCode,
    /// Credits per unit while the override lasts (0 to 10^8).
    #[schema(inline)]
    pub price: UnitPrice,
    /// Default now; years 1 to 9999.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Open-ended when absent; after `starts_at`; years 1 to 9999.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[schema(inline)]
    pub reason: Reason<500>,
}

/// An override as recorded.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OverrideView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub service_code: String,
    pub price: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/admin/pricing/overrides`: a price for a window, taking
/// precedence over base and approved prices.
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/overrides",
    request_body = OverrideInput,
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "the override", body = OverrideView),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such service"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an invalid service code, a price out of range, instants outside years 1 to 9999 or ends_at not after starts_at, a blank reason or control characters"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn create_override(
    st: web::Data<AppState>,
    Admin(p): Admin,
    body: Body<OverrideInput>,
) -> Result<HttpResponse, AppError> {
    let o = body.0;
    let price = o.price.get();
    let now = Utc::now();
    let starts = instant("starts_at", o.starts_at.unwrap_or(now))?;
    let ends = o.ends_at.map(|e| instant("ends_at", e)).transpose()?;
    if ends.is_some_and(|e| e <= starts) {
        return Err(AppError::validation("ends_at", "must be after starts_at"));
    }
    let code = o.service_code.as_str();
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    tx.query_opt(
        "SELECT 1 FROM services WHERE code = $1 FOR UPDATE",
        &[&code],
    )
    .await
    .map_err(q)?
    .ok_or_else(|| AppError::not_found("service"))?;
    let old: Option<i64> = tx
        .query_one("SELECT effective_price($1, now())", &[&code])
        .await
        .map_err(q)?
        .get(0);
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO price_history (id, service_code, price, kind, starts_at, ends_at, changed_by, reason)
         VALUES ($1, $2, $3, 'override', $4, $5, $6, $7)",
        &[&id, &code, &price, &starts, &ends, &p.user_id.as_uuid(), &o.reason.as_str()],
    )
    .await
    .map_err(q)?;
    if starts <= now {
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_PRICE_CHANGED,
            1,
            events::PriceChanged {
                service_code: code.to_owned(),
                old_price: old,
                new_price: price,
                cause: "override".into(),
                recommendation_id: None,
                effective_from: starts,
            },
        );
        platform::outbox::enqueue(&tx, &e, &CallContext::current()).await?;
    }
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(HttpResponse::Created().json(OverrideView {
        id,
        service_code: code.to_owned(),
        price,
        starts_at: starts,
        ends_at: ends,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only this service's history; the answer then has its effective price at `at`.
    pub service: Option<ServiceCode>,
    /// The instant for `effective_price` (default now; years 1 to 9999).
    pub at: Option<DateTime<Utc>>,
}

/// One row of price history.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceChange {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub service_code: String,
    pub price: i64,
    /// base, approved or override
    pub kind: String,
    /// Absent for the seeded base prices (they start at -infinity).
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub recommendation_id: Option<Uuid>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub changed_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceHistory {
    /// Newest first per service (at most 1000 rows).
    pub items: Vec<PriceChange>,
    /// The instant `effective_price` is for.
    pub at: DateTime<Utc>,
    /// The named service's live price at `at` (null without `service`, or
    /// when it had none then).
    pub effective_price: Option<i64>,
}

/// `GET /api/v1/admin/pricing/history?service=&at=`
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/history",
    params(HistoryQuery),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "price history, with the effective price at an instant", body = PriceHistory),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 422, description = "validation_failed (`field` names it): an invalid service code, or `at` not an RFC 3339 instant in years 1 to 9999"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn history(
    st: web::Data<AppState>,
    _a: Admin,
    Query(query): Query<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let at = instant("at", query.at.unwrap_or_else(Utc::now))?;
    let service = query.service.as_ref().map(ServiceCode::as_str);
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT id, service_code, price, kind, starts_at, ends_at, recommendation_id, changed_by, reason, created_at
             FROM price_history WHERE ($1::text IS NULL OR service_code = $1)
             ORDER BY service_code, created_at DESC LIMIT 1000",
            &[&service],
        )
        .await
        .map_err(q)?;
    let items = rows
        .iter()
        .map(|r| PriceChange {
            id: r.get(0),
            service_code: r.get(1),
            price: r.get(2),
            kind: r.get(3),
            starts_at: r.try_get(4).ok(),
            ends_at: r.try_get::<_, Option<DateTime<Utc>>>(5).ok().flatten(),
            recommendation_id: r.get(6),
            changed_by: r.get(7),
            reason: r.get(8),
            created_at: r.get(9),
        })
        .collect();
    let effective_price: Option<i64> = match service {
        Some(code) => c
            .query_one("SELECT effective_price($1, $2)", &[&code, &at])
            .await
            .map_err(q)?
            .get(0),
        None => None,
    };
    Ok(HttpResponse::Ok().json(PriceHistory {
        items,
        at,
        effective_price,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Days back from now, 1 to 366 (default 30).
    #[param(inline)]
    pub days: Option<ReportDays>,
}

/// Captured credits and captures of one service on one day.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyRow {
    /// YYYY-MM-DD (UTC)
    pub day: String,
    /// "unspecified" for holds without a quote
    pub service_code: String,
    pub uses: i64,
    pub revenue_credits: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyReport {
    /// Newest day first, then by service.
    pub items: Vec<DailyRow>,
}

/// `GET /api/v1/admin/pricing/reports/daily`: revenue (captured credits) and
/// usage (captures) by day and service.
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/reports/daily",
    params(ReportQuery),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "captured credits and captures by day and service", body = DailyReport),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 422, description = "validation_failed: `days` is not between 1 and 366"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn daily_report(
    st: web::Data<AppState>,
    _a: Admin,
    Query(query): Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    // 1..=366: fits an i32.
    let days = i32::try_from(query.days.map(ReportDays::get).unwrap_or(30)).unwrap_or(30);
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT to_char(date_trunc('day', settled_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
                    COALESCE(service_code, 'unspecified'), count(*),
                    LEAST(COALESCE(sum(captured), 0), 9223372036854775807)::bigint
             FROM holds WHERE status = 'captured' AND settled_at > now() - make_interval(days => $1)
             GROUP BY 1, 2 ORDER BY 1 DESC, 2",
            &[&days],
        )
        .await
        .map_err(q)?;
    let items = rows
        .iter()
        .map(|r| DailyRow {
            day: r.get(0),
            service_code: r.get(1),
            uses: r.get(2),
            revenue_credits: r.get(3),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DailyReport { items }))
}

// ---------------------------------------------------------------- quotes

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuoteRequest {
    pub service_code: ServiceCode,
    /// Units of the service, 1 to 10000 (default 1).
    #[serde(default = "one")]
    #[schema(inline)]
    pub units: QuoteUnits,
}

fn one() -> QuoteUnits {
    platform::input::Int(1)
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quote {
    pub id: QuoteId,
    pub user_id: UserId,
    pub service_code: String,
    pub units: i64,
    pub unit_price: i64,
    pub total: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_quote(
    st: &AppState,
    user: UserId,
    req: &QuoteRequest,
) -> Result<Quote, AppError> {
    let code = req.service_code.as_str();
    let units = req.units.get();
    let c = platform::db::conn(&st.pool).await?;
    let row = c
        .query_opt(
            "SELECT effective_price(code, now()) FROM services WHERE code = $1 AND active",
            &[&code],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("service"))?;
    let unit_price: i64 = row
        .get::<_, Option<i64>>(0)
        .ok_or_else(|| AppError::new(ErrorCode::Conflict, "the service has no price"))?;
    // At most MAX_UNIT_PRICE x MAX_QUOTE_UNITS = MAX_BALANCE, unless a price
    // predates the limits: then the product is refused, never wrapped.
    let total = unit_price
        .checked_mul(units)
        .filter(|t| *t <= crate::limits::MAX_BALANCE)
        .ok_or_else(|| AppError::validation("units", "too many for this price"))?;
    let id = QuoteId::new();
    let expires_at = Utc::now() + Duration::seconds(st.cfg.quotes.ttl_secs);
    c.execute(
        "INSERT INTO quotes (id, user_id, service_code, units, unit_price, total, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id.as_uuid(),
            &user.as_uuid(),
            &code,
            &units,
            &unit_price,
            &total,
            &expires_at,
        ],
    )
    .await
    .map_err(q)?;
    Ok(Quote {
        id,
        user_id: user,
        service_code: code.to_owned(),
        units,
        unit_price,
        total,
        expires_at,
    })
}

/// `POST /api/v1/pricing/quotes`
#[utoipa::path(
    post,
    path = "/api/v1/pricing/quotes",
    request_body = QuoteRequest,
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "the quote: its unit price is honoured until expires_at", body = Quote),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 404, description = "not_found: no such active service"),
        (status = 409, description = "conflict: the service has no price"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an invalid service code, units out of range"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn quote_http(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Body<QuoteRequest>,
) -> Result<HttpResponse, AppError> {
    let quote = create_quote(&st, p.user_id, &body.0).await?;
    Ok(HttpResponse::Created().json(quote))
}
