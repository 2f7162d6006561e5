//! The service catalog, the cost model and recommendations, approved prices
//! and overrides (price history), and quotes.
//!
//! Live prices come only from `price_history` through the SQL function
//! `effective_price(code, at)`: a pending recommendation writes nothing
//! there; approval inserts the new price and marks the recommendation in one
//! transaction. Quotes freeze the effective price for `quotes.ttl_secs`.

use crate::engine::{self, CostInputs, Factors, Usage};
use crate::events;
use crate::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use common::{ErrorCode, EventEnvelope, QuoteId, UserId};
use platform::auth::{Admin, Authenticated};
use platform::db::q;
use platform::http::Json;
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
    pub unit: String,
    pub base_price: i64,
    /// The live price now (approved prices and overrides applied).
    pub price: i64,
    pub active: bool,
    pub usage: Usage,
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
#[utoipa::path(get, path = "/api/v1/pricing/services", responses((status = 200, description = "{items: [{code, name, category, unit, price}]}")))]
pub async fn public_services(st: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE active ORDER BY code"),
            &[],
        )
        .await
        .map_err(q)?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(service_row)
        .map(|s| {
            serde_json::json!({"code": s.code, "name": s.name, "category": s.category, "unit": s.unit, "price": s.price})
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ServiceInput {
    pub code: String,
    pub name: String,
    pub category: String,
    #[serde(default = "default_unit")]
    pub unit: String,
    pub base_price: i64,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_unit() -> String {
    "request".into()
}
fn yes() -> bool {
    true
}

fn check_service(s: &ServiceInput) -> Result<(), AppError> {
    let code_ok = s.code.len() >= 2
        && s.code.len() <= 63
        && s.code.starts_with(|c: char| c.is_ascii_lowercase())
        && s.code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !code_ok {
        return Err(AppError::validation(
            "code",
            "lowercase letters, digits and _",
        ));
    }
    if s.name.trim().is_empty() {
        return Err(AppError::validation("name", "must not be empty"));
    }
    if s.category.trim().is_empty() {
        return Err(AppError::validation("category", "must not be empty"));
    }
    if s.unit != "request" && s.unit != "minute" {
        return Err(AppError::validation("unit", "request or minute"));
    }
    if s.base_price < 0 {
        return Err(AppError::validation("base_price", "must not be negative"));
    }
    let u = &s.usage;
    if [
        u.llm_ktokens_milli,
        u.tts_minutes_milli,
        u.avatar_minutes_milli,
        u.agora_minutes_milli,
        u.chart_computations_milli,
    ]
    .iter()
    .any(|v| *v < 0)
    {
        return Err(AppError::validation("usage", "must not be negative"));
    }
    Ok(())
}

/// `POST /api/v1/admin/pricing/services`: a new service; its base price is
/// its first price-history row.
pub async fn create_service(
    st: web::Data<AppState>,
    Admin(p): Admin,
    body: Json<ServiceInput>,
) -> Result<HttpResponse, AppError> {
    let s = body.0;
    check_service(&s)?;
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let u = &s.usage;
    let n = tx
        .execute(
            "INSERT INTO services (code, name, category, unit, base_price, llm_ktokens_milli, tts_minutes_milli,
                avatar_minutes_milli, agora_minutes_milli, chart_computations_milli, active)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (code) DO NOTHING",
            &[
                &s.code, &s.name, &s.category, &s.unit, &s.base_price, &u.llm_ktokens_milli,
                &u.tts_minutes_milli, &u.avatar_minutes_milli, &u.agora_minutes_milli,
                &u.chart_computations_milli, &s.active,
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
            &s.code,
            &s.base_price,
            &p.user_id.as_uuid(),
        ],
    )
    .await
    .map_err(q)?;
    let row = tx
        .query_one(
            &format!("SELECT {SERVICE_COLS} FROM services WHERE code = $1"),
            &[&s.code],
        )
        .await
        .map_err(q)?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Created().json(service_row(&row)))
}

/// `PUT /api/v1/admin/pricing/services/{code}`: name, category, unit, usage
/// assumptions and the active flag. The price is changed only through
/// recommendations or overrides, never here.
pub async fn update_service(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Json<ServiceInput>,
) -> Result<HttpResponse, AppError> {
    let mut s = body.0;
    s.code = path.into_inner();
    check_service(&s)?;
    let c = platform::db::conn(&st.pool).await?;
    let u = &s.usage;
    let n = c
        .execute(
            "UPDATE services SET name=$2, category=$3, unit=$4, llm_ktokens_milli=$5, tts_minutes_milli=$6,
                avatar_minutes_milli=$7, agora_minutes_milli=$8, chart_computations_milli=$9, active=$10, updated_at=now()
             WHERE code=$1",
            &[
                &s.code, &s.name, &s.category, &s.unit, &u.llm_ktokens_milli, &u.tts_minutes_milli,
                &u.avatar_minutes_milli, &u.agora_minutes_milli, &u.chart_computations_milli, &s.active,
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
            &[&s.code],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(service_row(&row)))
}

// ---------------------------------------------------------------- cost inputs

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostModel {
    /// Micro-credits per provider unit.
    pub costs: BTreeMap<String, i64>,
    /// Basis points per category (10000 = 1.0; absent = 1.0).
    #[serde(default)]
    pub category_multipliers: BTreeMap<String, i64>,
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

pub async fn get_cost_inputs(st: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let (inputs, cats) = load_costs(&c).await?;
    let v = serde_json::to_value(inputs).map_err(AppError::internal)?;
    let costs: BTreeMap<String, i64> = serde_json::from_value(v).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(CostModel {
        costs,
        category_multipliers: cats,
    }))
}

/// `PUT /api/v1/admin/pricing/cost-inputs`: updates the named costs and multipliers.
pub async fn put_cost_inputs(
    st: web::Data<AppState>,
    a: Admin,
    body: Json<CostModel>,
) -> Result<HttpResponse, AppError> {
    for (k, v) in &body.0.costs {
        if !CostInputs::KEYS.contains(&k.as_str()) {
            return Err(AppError::validation(
                &format!("costs.{k}"),
                "unknown cost input",
            ));
        }
        if *v < 0 {
            return Err(AppError::validation(
                &format!("costs.{k}"),
                "must not be negative",
            ));
        }
    }
    for (k, v) in &body.0.category_multipliers {
        if *v <= 0 || *v > 100_000 {
            return Err(AppError::validation(
                &format!("category_multipliers.{k}"),
                "must be between 1 and 100000 basis points",
            ));
        }
    }
    {
        let mut c = platform::db::conn(&st.pool).await?;
        let tx = c.transaction().await.map_err(q)?;
        for (k, v) in &body.0.costs {
            tx.execute(
                "INSERT INTO cost_inputs (key, micro_credits) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET micro_credits = EXCLUDED.micro_credits, updated_at = now()",
                &[k, v],
            )
            .await
            .map_err(q)?;
        }
        for (k, v) in &body.0.category_multipliers {
            tx.execute(
                "INSERT INTO category_multipliers (category, multiplier_bps) VALUES ($1, $2)
                 ON CONFLICT (category) DO UPDATE SET multiplier_bps = EXCLUDED.multiplier_bps",
                &[k, v],
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
    #[schema(value_type = Object)]
    pub rationale: serde_json::Value,
    pub status: String,
    pub created_at: DateTime<Utc>,
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
#[utoipa::path(post, path = "/api/v1/admin/pricing/recommendations/generate", responses((status = 201, description = "{items: [RecommendationView]}")))]
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
                "SELECT COALESCE(sum(units) FILTER (WHERE occurred_at > now() - make_interval(hours => $2::int)), 0)::bigint,
                        COALESCE(sum(units) FILTER (WHERE occurred_at > now() - make_interval(hours => $3::int)), 0)::bigint
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
    Ok(HttpResponse::Created().json(serde_json::json!({ "items": out })))
}

#[derive(Debug, Deserialize)]
pub struct RecQuery {
    pub status: Option<String>,
}

pub async fn list_recommendations(
    st: web::Data<AppState>,
    _a: Admin,
    query: web::Query<RecQuery>,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {REC_COLS} FROM recommendations WHERE ($1::text IS NULL OR status = $1)
                 ORDER BY created_at DESC LIMIT 500"
            ),
            &[&query.status],
        )
        .await
        .map_err(q)?;
    let items: Vec<RecommendationView> = rows.iter().map(rec_row).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// `POST .../recommendations/{id}/approve`: atomically makes the recommended
/// price live (a price-history row) and marks the recommendation approved.
#[utoipa::path(post, path = "/api/v1/admin/pricing/recommendations/{id}/approve", params(("id" = String, Path)), responses((status = 200, body = RecommendationView), (status = 409, description = "conflict")))]
pub async fn approve(
    st: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    decide(&st, p.user_id, path.into_inner(), true).await
}

#[utoipa::path(post, path = "/api/v1/admin/pricing/recommendations/{id}/reject", params(("id" = String, Path)), responses((status = 200, body = RecommendationView), (status = 409, description = "conflict")))]
pub async fn reject(
    st: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    decide(&st, p.user_id, path.into_inner(), false).await
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
    pub service_code: String,
    pub price: i64,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/admin/pricing/overrides", request_body = OverrideInput, responses((status = 201, description = "created")))]
pub async fn create_override(
    st: web::Data<AppState>,
    Admin(p): Admin,
    body: Json<OverrideInput>,
) -> Result<HttpResponse, AppError> {
    let o = body.0;
    if o.price < 0 {
        return Err(AppError::validation("price", "must not be negative"));
    }
    if o.reason.trim().is_empty() {
        return Err(AppError::validation("reason", "is required"));
    }
    let now = Utc::now();
    let starts = o.starts_at.unwrap_or(now);
    if o.ends_at.is_some_and(|e| e <= starts) {
        return Err(AppError::validation("ends_at", "must be after starts_at"));
    }
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    tx.query_opt(
        "SELECT 1 FROM services WHERE code = $1 FOR UPDATE",
        &[&o.service_code],
    )
    .await
    .map_err(q)?
    .ok_or_else(|| AppError::not_found("service"))?;
    let old: Option<i64> = tx
        .query_one("SELECT effective_price($1, now())", &[&o.service_code])
        .await
        .map_err(q)?
        .get(0);
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO price_history (id, service_code, price, kind, starts_at, ends_at, changed_by, reason)
         VALUES ($1, $2, $3, 'override', $4, $5, $6, $7)",
        &[&id, &o.service_code, &o.price, &starts, &o.ends_at, &p.user_id.as_uuid(), &o.reason],
    )
    .await
    .map_err(q)?;
    if starts <= now {
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_PRICE_CHANGED,
            1,
            events::PriceChanged {
                service_code: o.service_code.clone(),
                old_price: old,
                new_price: o.price,
                cause: "override".into(),
                recommendation_id: None,
                effective_from: starts,
            },
        );
        platform::outbox::enqueue(&tx, &e, &CallContext::current()).await?;
    }
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(
        HttpResponse::Created().json(serde_json::json!({"id": id, "service_code": o.service_code,
        "price": o.price, "starts_at": starts, "ends_at": o.ends_at})),
    )
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub service: Option<String>,
    /// The effective price at this instant (default now) is returned too.
    pub at: Option<DateTime<Utc>>,
}

pub async fn history(
    st: web::Data<AppState>,
    _a: Admin,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT id, service_code, price, kind, starts_at, ends_at, recommendation_id, changed_by, reason, created_at
             FROM price_history WHERE ($1::text IS NULL OR service_code = $1)
             ORDER BY service_code, created_at DESC LIMIT 1000",
            &[&query.service],
        )
        .await
        .map_err(q)?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let starts: Option<DateTime<Utc>> = r.try_get(4).ok();
            serde_json::json!({
                "id": r.get::<_, Uuid>(0), "service_code": r.get::<_, String>(1), "price": r.get::<_, i64>(2),
                "kind": r.get::<_, String>(3), "starts_at": starts, "ends_at": r.get::<_, Option<DateTime<Utc>>>(5),
                "recommendation_id": r.get::<_, Option<Uuid>>(6), "changed_by": r.get::<_, Option<Uuid>>(7),
                "reason": r.get::<_, Option<String>>(8), "created_at": r.get::<_, DateTime<Utc>>(9),
            })
        })
        .collect();
    let mut out = serde_json::json!({ "items": items });
    if let Some(code) = &query.service {
        let at = query.at.unwrap_or_else(Utc::now);
        let p: Option<i64> = c
            .query_one("SELECT effective_price($1, $2)", &[code, &at])
            .await
            .map_err(q)?
            .get(0);
        out["effective_price"] = serde_json::json!(p);
        out["at"] = serde_json::json!(at);
    }
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    pub days: Option<i32>,
}

/// `GET /api/v1/admin/pricing/reports/daily`: revenue (captured credits) and
/// usage (captures) by day and service.
pub async fn daily_report(
    st: web::Data<AppState>,
    _a: Admin,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let days = query.days.unwrap_or(30).clamp(1, 366);
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT to_char(date_trunc('day', settled_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
                    COALESCE(service_code, 'unspecified'), count(*), COALESCE(sum(captured), 0)::bigint
             FROM holds WHERE status = 'captured' AND settled_at > now() - make_interval(days => $1)
             GROUP BY 1, 2 ORDER BY 1 DESC, 2",
            &[&days],
        )
        .await
        .map_err(q)?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"day": r.get::<_, String>(0), "service_code": r.get::<_, String>(1),
                "uses": r.get::<_, i64>(2), "revenue_credits": r.get::<_, i64>(3)})
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

// ---------------------------------------------------------------- quotes

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuoteRequest {
    pub service_code: String,
    #[serde(default = "one")]
    pub units: i64,
}

fn one() -> i64 {
    1
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
    if !(1..=10_000).contains(&req.units) {
        return Err(AppError::validation("units", "must be between 1 and 10000"));
    }
    let c = platform::db::conn(&st.pool).await?;
    let row = c
        .query_opt(
            "SELECT effective_price(code, now()) FROM services WHERE code = $1 AND active",
            &[&req.service_code],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("service"))?;
    let unit_price: i64 = row
        .get::<_, Option<i64>>(0)
        .ok_or_else(|| AppError::new(ErrorCode::Conflict, "the service has no price"))?;
    let total = unit_price
        .checked_mul(req.units)
        .ok_or_else(|| AppError::validation("units", "too many"))?;
    let id = QuoteId::new();
    let expires_at = Utc::now() + Duration::seconds(st.cfg.quotes.ttl_secs);
    c.execute(
        "INSERT INTO quotes (id, user_id, service_code, units, unit_price, total, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id.as_uuid(),
            &user.as_uuid(),
            &req.service_code,
            &req.units,
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
        service_code: req.service_code.clone(),
        units: req.units,
        unit_price,
        total,
        expires_at,
    })
}

/// `POST /api/v1/pricing/quotes`
#[utoipa::path(post, path = "/api/v1/pricing/quotes", request_body = QuoteRequest, responses((status = 201, body = Quote), (status = 404, description = "not_found")))]
pub async fn quote_http(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<QuoteRequest>,
) -> Result<HttpResponse, AppError> {
    let quote = create_quote(&st, p.user_id, &body.0).await?;
    Ok(HttpResponse::Created().json(quote))
}
