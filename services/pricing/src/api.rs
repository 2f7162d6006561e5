//! HTTP handlers for credits (balance, ledger, packages), the internal hold
//! endpoints, and the admin package, adjustment and refund endpoints.
//!
//! Every input is checked while it is parsed (`crate::input`,
//! `crate::limits`); the OpenAPI annotations list every answer each
//! operation can give (error bodies are attached by `crate::openapi`).

use crate::input::{path_uuid, Body, Currency, LedgerCursor, Name, NonZeroCredits, Query, Reason};
use crate::ledger::{self, CaptureRequest, HoldRequest, Kind, ReleaseRequest};
use crate::limits::{
    Credits, CreditsOrZero, PackageBonus, PackageCredits, PageLimit, PriceMinor,
    MAX_PACKAGE_CREDITS,
};
use crate::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use common::subjects::headers::IDEMPOTENCY_KEY;
use common::UserId;
use platform::auth::{Admin, Authenticated, ServiceCall};
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The request's `Idempotency-Key` (see [`ledger::require_key`]).
fn idempotency_key(req: &HttpRequest) -> Result<String, AppError> {
    let raw = match req.headers().get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            AppError::validation(IDEMPOTENCY_KEY, "must be printable ASCII characters")
        })?),
    };
    ledger::require_key(raw).map(str::to_owned)
}

fn ctx(key: &str) -> CallContext {
    CallContext::current().with_idempotency_key(key)
}

/// `GET /api/v1/credits/balance`
#[utoipa::path(
    get,
    path = "/api/v1/credits/balance",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the caller's balance", body = crate::ledger::Balance),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn balance(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    Ok(HttpResponse::Ok().json(ledger::balance_of(&c, p.user_id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// `next_cursor` of the previous page (newest first).
    #[param(inline)]
    pub cursor: Option<LedgerCursor>,
    /// Entries per page, 1 to 200 (default 50).
    #[param(inline)]
    pub limit: Option<PageLimit>,
}

/// `GET /api/v1/credits/ledger?cursor=...&limit=...` newest first.
#[utoipa::path(
    get,
    path = "/api/v1/credits/ledger",
    params(LedgerQuery),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "a page of the caller's ledger entries, newest first", body = crate::ledger::LedgerPage),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 422, description = "validation_failed: `cursor` or `limit` (1 to 200) is invalid; `field` names it"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn ledger_page(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
    Query(query): Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.map(PageLimit::get).unwrap_or(50);
    let page = ledger::history(&st, p.user_id, query.cursor.as_ref(), limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---------------------------------------------------------------- holds over HTTP (internal)
//
// Not in the OpenAPI document (the gateway never routes `/internal/*`);
// see the README. Callers are services on the allow-list (`rpc::SPENDERS`).

/// `POST /internal/v1/credits/holds` — the same operation as
/// `pricing.credits.hold`, for callers that speak HTTP. Requires `Idempotency-Key`.
pub async fn hold_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    body: Body<HoldRequest>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let key = idempotency_key(&req)?;
    let v = ledger::hold(&st, &ctx(&key), &p, &key, body.0).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /internal/v1/credits/holds/{id}/capture`
pub async fn capture_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    path: web::Path<String>,
    body: Body<CaptureBody>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let hold_id = path_uuid("id", &path)?;
    let key = idempotency_key(&req)?;
    let r = CaptureRequest {
        hold_id: hold_id.into(),
        amount: body.0.amount,
    };
    let v = ledger::capture(&st, &ctx(&key), &p, &key, r).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /internal/v1/credits/holds/{id}/release`
pub async fn release_http(
    st: web::Data<AppState>,
    ServiceCall(caller): ServiceCall,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let p = caller.allow(crate::rpc::SPENDERS)?.principal()?.clone();
    let hold_id = path_uuid("id", &path)?;
    let key = idempotency_key(&req)?;
    let r = ReleaseRequest {
        hold_id: hold_id.into(),
    };
    let v = ledger::release(&st, &p, &key, r).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// The body of `POST /internal/v1/credits/holds/{id}/capture`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CaptureBody {
    /// Credits to capture (0 to the held amount); the rest is released.
    pub amount: CreditsOrZero,
}

// ---------------------------------------------------------------- adjustments and refunds

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AdjustmentRequest {
    pub user_id: UserId,
    /// Positive credits the wallet, negative debits it (never below zero);
    /// not zero, at most 10^12 either way.
    #[schema(inline)]
    pub amount: NonZeroCredits,
    /// Why (kept in the ledger's memo).
    #[schema(inline)]
    pub reason: Reason<500>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RefundRequest {
    pub user_id: UserId,
    /// Credits given back, 1 to 10^12.
    #[schema(inline)]
    pub amount: Credits,
    /// Why (kept in the ledger's memo).
    #[schema(inline)]
    pub reason: Reason<500>,
}

/// `POST /api/v1/admin/pricing/adjustments` (requires `Idempotency-Key` and a reason).
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/adjustments",
    request_body = AdjustmentRequest,
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 200, pattern = "^[ -~]*[!-~][ -~]*$",
            description = "required: the same key and body answer the first result again; 1 to 200 printable ASCII characters"),
    ),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the movement (a grant first pays credits the user owes; see `collected`)", body = crate::ledger::Movement),
        (status = 400, description = "bad_request (no Idempotency-Key) or malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 402, description = "insufficient_credits: a debit larger than the wallet"),
        (status = 403, description = "forbidden: admins only"),
        (status = 409, description = "idempotency_conflict: the key was used for a different request"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an amount out of range or zero, a blank reason, control characters, an invalid Idempotency-Key, or a grant past the maximum balance (10^12)"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn adjust(
    st: web::Data<AppState>,
    Admin(p): Admin,
    req: HttpRequest,
    body: Body<AdjustmentRequest>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency_key(&req)?;
    let b = body.0;
    let hash = ledger::request_hash(&b);
    let m = Grant {
        user: b.user_id,
        amount: b.amount.get(),
        reason: b.reason.as_str(),
        hash: &hash,
    };
    movement(&st, &p, &key, m, Kind::Adjustments, "adjustment").await
}

/// `POST /api/v1/admin/pricing/refunds`: credits given back to a user (e.g.
/// for a failed session), from the refunds account.
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/refunds",
    request_body = RefundRequest,
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 200, pattern = "^[ -~]*[!-~][ -~]*$",
            description = "required: the same key and body answer the first result again; 1 to 200 printable ASCII characters"),
    ),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the movement (it first pays credits the user owes; see `collected`)", body = crate::ledger::Movement),
        (status = 400, description = "bad_request (no Idempotency-Key) or malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 409, description = "idempotency_conflict: the key was used for a different request"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): an amount out of range, a blank reason, control characters, an invalid Idempotency-Key, or a grant past the maximum balance (10^12)"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn refund(
    st: web::Data<AppState>,
    Admin(p): Admin,
    req: HttpRequest,
    body: Body<RefundRequest>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency_key(&req)?;
    let b = body.0;
    let hash = ledger::request_hash(&b);
    let m = Grant {
        user: b.user_id,
        amount: b.amount.get(),
        reason: b.reason.as_str(),
        hash: &hash,
    };
    movement(&st, &p, &key, m, Kind::Refunds, "refund").await
}

/// What an adjustment or refund moves, validated.
struct Grant<'a> {
    user: UserId,
    amount: i64,
    reason: &'a str,
    hash: &'a str,
}

async fn movement(
    st: &AppState,
    admin: &common::Principal,
    key: &str,
    g: Grant<'_>,
    source: Kind,
    kind: &str,
) -> Result<HttpResponse, AppError> {
    let idem = format!("{kind}:{}:{key}", admin.user_id);
    let memo = format!("{} by {}", g.reason, admin.user_id);
    let mut c = platform::db::conn(&st.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let (m, _) = ledger::grant_in(
        st,
        &tx,
        &ctx(key),
        &idem,
        kind,
        g.user,
        g.amount,
        source,
        Some(&memo),
        g.hash,
    )
    .await?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(HttpResponse::Ok().json(m))
}

// ---------------------------------------------------------------- packages

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PackageInput {
    /// Shown to buyers and on the Stripe checkout page (stored trimmed).
    #[schema(inline)]
    pub name: Name<100>,
    /// Credits the package buys, 1 to 10^9.
    #[schema(inline)]
    pub credits: PackageCredits,
    /// Extra credits (default 0); `credits + bonus_credits` is at most 10^9.
    #[serde(default)]
    #[schema(inline)]
    pub bonus_credits: PackageBonus,
    /// The price in minor units of `currency`, 1 to 99999999 (Stripe's maximum).
    #[schema(inline)]
    pub price_minor: PriceMinor,
    pub currency: Currency,
    /// Default true.
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

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct PackageList {
    pub items: Vec<Package>,
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

/// What the parser cannot check alone: the credits a package buys in all.
fn check_package(p: &PackageInput) -> Result<(), AppError> {
    // Both are at most MAX_PACKAGE_CREDITS: the sum cannot overflow.
    if p.credits.get() + p.bonus_credits.get() > MAX_PACKAGE_CREDITS {
        return Err(AppError::validation(
            "bonus_credits",
            format!("credits + bonus_credits must be at most {MAX_PACKAGE_CREDITS}"),
        ));
    }
    Ok(())
}

/// `GET /api/v1/credits/packages`: what a user can buy.
#[utoipa::path(
    get,
    path = "/api/v1/credits/packages",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "active packages, cheapest first", body = PackageList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
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
    Ok(HttpResponse::Ok().json(PackageList { items }))
}

/// `GET /api/v1/admin/pricing/packages`: every package not deleted.
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/packages",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "packages not deleted (active or not), oldest first", body = PackageList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
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
    Ok(HttpResponse::Ok().json(PackageList { items }))
}

/// `POST /api/v1/admin/pricing/packages`
#[utoipa::path(
    post,
    path = "/api/v1/admin/pricing/packages",
    request_body = PackageInput,
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "the package", body = Package),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): a blank name, control characters, credits, bonus or price out of range, credits + bonus_credits over 10^9, a currency that is not three letters"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn create_package(
    st: web::Data<AppState>,
    _a: Admin,
    body: Body<PackageInput>,
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
                &p.name.as_str(),
                &p.credits.get(),
                &p.bonus_credits.get(),
                &p.price_minor.get(),
                &p.currency.as_str(),
                &p.active,
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(pkg_row(&row)))
}

/// `PUT /api/v1/admin/pricing/packages/{id}`: replaces a package (payments
/// already made keep what they recorded at checkout).
#[utoipa::path(
    put,
    path = "/api/v1/admin/pricing/packages/{id}",
    params(("id" = String, Path, format = Uuid, description = "package id")),
    request_body = PackageInput,
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "the package", body = Package),
        (status = 400, description = "malformed_json"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such package (or it was deleted)"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 422, description = "validation_failed (`field` names it): `id` is not a UUID, or the package is invalid (see POST)"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn update_package(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Body<PackageInput>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid("id", &path)?;
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
                &id,
                &p.name.as_str(),
                &p.credits.get(),
                &p.bonus_credits.get(),
                &p.price_minor.get(),
                &p.currency.as_str(),
                &p.active,
            ],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("package"))?;
    Ok(HttpResponse::Ok().json(pkg_row(&row)))
}

/// `DELETE /api/v1/admin/pricing/packages/{id}`. Soft delete: the row stays
/// for the payments that reference it.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/pricing/packages/{id}",
    params(("id" = String, Path, format = Uuid, description = "package id")),
    security(("internal_token" = [])),
    responses(
        (status = 204, description = "deleted (no longer listed or sold)"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 404, description = "not_found: no such package (or it was deleted)"),
        (status = 422, description = "validation_failed: `id` is not a UUID"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn delete_package(
    st: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_uuid("id", &path)?;
    let c = platform::db::conn(&st.pool).await?;
    let n = c
        .execute(
            "UPDATE packages SET deleted_at = now(), active = false, updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL",
            &[&id],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("package"));
    }
    Ok(HttpResponse::NoContent().finish())
}
