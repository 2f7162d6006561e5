//! HTTP handlers for credits (balance, ledger, packages), the internal hold
//! endpoints, and the admin package, adjustment and refund endpoints.

use crate::ledger::{self, CaptureRequest, HoldRequest, Kind, ReleaseRequest};
use crate::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use common::subjects::headers::IDEMPOTENCY_KEY;
use common::{CurrencyCode, UserId};
use platform::auth::{Admin, Authenticated, ServiceCall};
use platform::db::q;
use platform::http::Json;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

fn idempotency_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn ctx(key: &str) -> CallContext {
    CallContext::current().with_idempotency_key(key)
}

/// `GET /api/v1/credits/balance`
#[utoipa::path(get, path = "/api/v1/credits/balance", responses((status = 200, body = crate::ledger::Balance), (status = 401, description = "unauthorized")))]
pub async fn balance(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    Ok(HttpResponse::Ok().json(ledger::balance_of(&c, p.user_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/credits/ledger?cursor=...` newest first.
#[utoipa::path(get, path = "/api/v1/credits/ledger", params(("cursor" = Option<String>, Query, description = "next_cursor of the previous page"), ("limit" = Option<i64>, Query, description = "1..200, default 50")), responses((status = 200, body = crate::ledger::LedgerPage)))]
pub async fn ledger_page(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let page = ledger::history(&st, p.user_id, query.cursor.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---------------------------------------------------------------- holds over HTTP (internal)

/// `POST /internal/v1/credits/holds` — the same operation as
/// `pricing.credits.hold`, for callers that speak HTTP. Not routed by the
/// gateway. Requires `Idempotency-Key`.
#[utoipa::path(post, path = "/internal/v1/credits/holds", request_body = crate::ledger::HoldRequest, params(("Idempotency-Key" = String, Header, description = "required")), responses((status = 200, body = crate::ledger::HoldView), (status = 402, description = "insufficient_credits"), (status = 409, description = "quote_expired or idempotency_conflict")))]
pub async fn hold_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    body: Json<HoldRequest>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let key = idempotency_key(&req);
    let key = ledger::require_key(key.as_deref())?;
    let v = ledger::hold(&st, &ctx(key), &p, key, body.0).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(post, path = "/internal/v1/credits/holds/{id}/capture", request_body = AmountBody, params(("id" = String, Path, description = "hold id"), ("Idempotency-Key" = String, Header, description = "required")), responses((status = 200, body = crate::ledger::HoldView), (status = 404, description = "hold_not_found"), (status = 409, description = "hold_expired, amount_exceeds_hold, conflict")))]
pub async fn capture_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<AmountBody>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let key = idempotency_key(&req);
    let key = ledger::require_key(key.as_deref())?;
    let r = CaptureRequest {
        hold_id: path.into_inner().into(),
        amount: body.0.amount,
    };
    let v = ledger::capture(&st, &ctx(key), &p, key, r).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(post, path = "/internal/v1/credits/holds/{id}/release", params(("id" = String, Path, description = "hold id"), ("Idempotency-Key" = String, Header, description = "required")), responses((status = 200, body = crate::ledger::HoldView), (status = 404, description = "hold_not_found")))]
pub async fn release_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let key = idempotency_key(&req);
    let key = ledger::require_key(key.as_deref())?;
    let r = ReleaseRequest {
        hold_id: path.into_inner().into(),
    };
    let v = ledger::release(&st, &p, key, r).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AmountBody {
    pub amount: i64,
}

// ---------------------------------------------------------------- adjustments and refunds

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AdjustmentRequest {
    pub user_id: UserId,
    /// Positive credits the wallet, negative debits it (never below zero).
    pub amount: i64,
    pub reason: String,
}

/// `POST /api/v1/admin/pricing/adjustments` (requires `Idempotency-Key` and a reason).
#[utoipa::path(post, path = "/api/v1/admin/pricing/adjustments", request_body = AdjustmentRequest, params(("Idempotency-Key" = String, Header, description = "required")), responses((status = 200, body = crate::ledger::Movement), (status = 402, description = "insufficient_credits")))]
pub async fn adjust(
    st: web::Data<AppState>,
    Admin(p): Admin,
    req: HttpRequest,
    body: Json<AdjustmentRequest>,
) -> Result<HttpResponse, AppError> {
    movement(&st, &p, &req, body.0, Kind::Adjustments, "adjustment").await
}

/// `POST /api/v1/admin/pricing/refunds`: credits given back to a user (e.g.
/// for a failed session), from the refunds account.
#[utoipa::path(post, path = "/api/v1/admin/pricing/refunds", request_body = AdjustmentRequest, params(("Idempotency-Key" = String, Header, description = "required")), responses((status = 200, body = crate::ledger::Movement)))]
pub async fn refund(
    st: web::Data<AppState>,
    Admin(p): Admin,
    req: HttpRequest,
    body: Json<AdjustmentRequest>,
) -> Result<HttpResponse, AppError> {
    if body.0.amount <= 0 {
        return Err(AppError::validation("amount", "must be greater than 0"));
    }
    movement(&st, &p, &req, body.0, Kind::Refunds, "refund").await
}

async fn movement(
    st: &AppState,
    admin: &common::Principal,
    req: &HttpRequest,
    body: AdjustmentRequest,
    source: Kind,
    kind: &str,
) -> Result<HttpResponse, AppError> {
    let key = idempotency_key(req);
    let key = ledger::require_key(key.as_deref())?;
    if body.reason.trim().is_empty() || body.reason.len() > 500 {
        return Err(AppError::validation(
            "reason",
            "is required (at most 500 characters)",
        ));
    }
    if body.amount == 0 {
        return Err(AppError::validation("amount", "must not be zero"));
    }
    let hash = ledger::request_hash(&body);
    let idem = format!("{kind}:{}:{key}", admin.user_id);
    let memo = format!("{} by {}", body.reason.trim(), admin.user_id);
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let (m, _) = ledger::grant_in(
        st,
        &tx,
        &ctx(key),
        &idem,
        kind,
        body.user_id,
        body.amount,
        source,
        Some(&memo),
        &hash,
    )
    .await?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(HttpResponse::Ok().json(m))
}

// ---------------------------------------------------------------- packages

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct PackageInput {
    pub name: String,
    pub credits: i64,
    #[serde(default)]
    pub bonus_credits: i64,
    pub price_minor: i64,
    pub currency: CurrencyCode,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Package {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub credits: i64,
    pub bonus_credits: i64,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
}

const PKG_COLS: &str = "id, name, credits, bonus_credits, price_minor, currency, active";

fn pkg_row(r: &tokio_postgres::Row) -> Package {
    Package {
        id: r.get(0),
        name: r.get(1),
        credits: r.get(2),
        bonus_credits: r.get(3),
        price_minor: r.get(4),
        currency: r.get(5),
        active: r.get(6),
    }
}

fn check_package(p: &PackageInput) -> Result<(), AppError> {
    if p.name.trim().is_empty() || p.name.len() > 100 {
        return Err(AppError::validation("name", "1 to 100 characters"));
    }
    if p.credits <= 0 {
        return Err(AppError::validation("credits", "must be greater than 0"));
    }
    if p.bonus_credits < 0 {
        return Err(AppError::validation(
            "bonus_credits",
            "must not be negative",
        ));
    }
    if p.price_minor <= 0 {
        return Err(AppError::validation(
            "price_minor",
            "must be greater than 0",
        ));
    }
    Ok(())
}

/// `GET /api/v1/credits/packages`: what a user can buy.
#[utoipa::path(get, path = "/api/v1/credits/packages", responses((status = 200, description = "{items: [Package]}")))]
pub async fn list_packages(
    st: web::Data<AppState>,
    _p: Authenticated,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!("SELECT {PKG_COLS} FROM packages WHERE active AND deleted_at IS NULL ORDER BY price_minor"),
            &[],
        )
        .await
        .map_err(q)?;
    let items: Vec<Package> = rows.iter().map(pkg_row).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

pub async fn admin_list_packages(
    st: web::Data<AppState>,
    _a: Admin,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {PKG_COLS} FROM packages WHERE deleted_at IS NULL ORDER BY created_at"
            ),
            &[],
        )
        .await
        .map_err(q)?;
    let items: Vec<Package> = rows.iter().map(pkg_row).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[utoipa::path(post, path = "/api/v1/admin/pricing/packages", request_body = PackageInput, responses((status = 201, body = Package), (status = 422, description = "validation_failed")))]
pub async fn create_package(
    st: web::Data<AppState>,
    _a: Admin,
    body: Json<PackageInput>,
) -> Result<HttpResponse, AppError> {
    let p = body.0;
    check_package(&p)?;
    let c = platform::db::conn(&st.pool).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO packages (id, name, credits, bonus_credits, price_minor, currency, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {PKG_COLS}"
            ),
            &[
                &Uuid::now_v7(),
                &p.name.trim(),
                &p.credits,
                &p.bonus_credits,
                &p.price_minor,
                &p.currency.as_str(),
                &p.active,
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(pkg_row(&row)))
}

pub async fn update_package(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<Uuid>,
    body: Json<PackageInput>,
) -> Result<HttpResponse, AppError> {
    let p = body.0;
    check_package(&p)?;
    let c = platform::db::conn(&st.pool).await?;
    let row = c
        .query_opt(
            &format!(
                "UPDATE packages SET name=$2, credits=$3, bonus_credits=$4, price_minor=$5, currency=$6, active=$7,
                    updated_at=now() WHERE id=$1 AND deleted_at IS NULL RETURNING {PKG_COLS}"
            ),
            &[
                &path.into_inner(),
                &p.name.trim(),
                &p.credits,
                &p.bonus_credits,
                &p.price_minor,
                &p.currency.as_str(),
                &p.active,
            ],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("package"))?;
    Ok(HttpResponse::Ok().json(pkg_row(&row)))
}

/// Soft delete: the row stays for the payments that reference it.
pub async fn delete_package(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let n = c
        .execute(
            "UPDATE packages SET deleted_at = now(), active = false, updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL",
            &[&path.into_inner()],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("package"));
    }
    Ok(HttpResponse::NoContent().finish())
}
