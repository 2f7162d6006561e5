//! The admin API (`/api/v1/admin/monitor/...`) and the public status
//! (`/api/v1/status`). Every replica answers from what the leader stored,
//! so any replica behind the gateway gives the same view.

use crate::findings::Severity;
use crate::state::AppState;
use crate::store::{self, Action, Incident};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use common::ErrorBody;
use platform::auth::Admin;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// The leader's latest view of one area.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AreaView {
    /// When the leader took it (`null` before the first observation).
    pub taken_at: Option<DateTime<Utc>>,
    /// The monitor instance that took it.
    pub taken_by: Option<String>,
    /// True when no leader has refreshed it for three of its intervals (and 15 s).
    pub stale: bool,
    /// Whether the replica that answered leads now.
    pub answered_by_leader: bool,
    /// The observation (its fields: services/monitor/README.md).
    #[schema(value_type = Object)]
    pub data: Value,
}

async fn area(state: &AppState, name: &str, every_ms: u64) -> Result<AreaView, AppError> {
    let snap = store::snapshot(&state.pool, name).await?;
    let leading = state.leading.load(Ordering::Relaxed);
    Ok(match snap {
        None => AreaView {
            taken_at: None,
            taken_by: None,
            stale: true,
            answered_by_leader: leading,
            data: json!({}),
        },
        Some((data, at, by)) => {
            let limit = chrono::Duration::milliseconds(
                i64::try_from(every_ms.saturating_mul(3)).unwrap_or(i64::MAX / 4) + 15_000,
            );
            AreaView {
                stale: Utc::now() - at > limit,
                taken_at: Some(at),
                taken_by: Some(by),
                answered_by_leader: leading,
                data,
            }
        }
    })
}

/// Every service, its instances (version, uptime, endpoints, requests,
/// errors, readiness) and whether NATS answers.
#[utoipa::path(get, path = "/api/v1/admin/monitor/overview",
    responses(
        (status = 200, body = AreaView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn overview(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, AppError> {
    let v = area(&state, "overview", state.cfg.watch.interval_ms).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Connections per application against the pools, the connection budget,
/// long statements, idle transactions, blocked sessions, dead tuples,
/// vacuum age and the cache hit ratio.
#[utoipa::path(get, path = "/api/v1/admin/monitor/database",
    responses(
        (status = 200, body = AreaView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn database(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, AppError> {
    let v = area(&state, "database", state.cfg.watch.database_interval_ms).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Each service's outbox backlog and durable consumers (pending,
/// ack-pending, redelivered, dead-lettered).
#[utoipa::path(get, path = "/api/v1/admin/monitor/messaging",
    responses(
        (status = 200, body = AreaView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn messaging(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, AppError> {
    let v = area(&state, "messaging", state.cfg.watch.messaging_interval_ms).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Each service's schema compared with what its migrations recorded.
#[utoipa::path(get, path = "/api/v1/admin/monitor/schema",
    responses(
        (status = 200, body = AreaView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn schema(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, AppError> {
    let v = area(&state, "schema", state.cfg.watch.schema_interval_ms).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// `open`, `acknowledged` or `resolved` (all when absent).
    pub state: Option<String>,
    /// At most this many, newest first (1 to 500, default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<Incident>,
}

fn limit_of(limit: Option<i64>) -> Result<i64, AppError> {
    let l = limit.unwrap_or(100);
    if !(1..=500).contains(&l) {
        return Err(AppError::validation("limit", "must be between 1 and 500"));
    }
    Ok(l)
}

/// Incidents with their evidence, newest first.
#[utoipa::path(get, path = "/api/v1/admin/monitor/incidents", params(IncidentQuery),
    responses(
        (status = 200, body = IncidentList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 422, body = ErrorBody, description = "validation_failed (state or limit)")),
    security(("internal_token" = [])))]
pub async fn incidents(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<IncidentQuery>,
) -> Result<HttpResponse, AppError> {
    let s = match query.state.as_deref() {
        None => None,
        Some(s @ ("open" | "acknowledged" | "resolved")) => Some(s),
        Some(_) => {
            return Err(AppError::validation(
                "state",
                "must be `open`, `acknowledged` or `resolved`",
            ))
        }
    };
    let limit = limit_of(query.limit)?;
    let incidents = store::list(&state.pool, s, limit).await?;
    Ok(HttpResponse::Ok().json(IncidentList { incidents }))
}

fn incident_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("no such incident"))
}

/// An admin has seen the incident (it stays until its condition clears).
#[utoipa::path(post, path = "/api/v1/admin/monitor/incidents/{id}/acknowledge",
    params(("id" = String, Path, format = Uuid, description = "incident id")),
    responses(
        (status = 200, body = Incident),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (already resolved)")),
    security(("internal_token" = [])))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    Admin(p): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = incident_id(&id)?;
    let i = store::admin_change(&state.pool, id, p.user_id.as_uuid(), false).await?;
    tracing::info!(incident = %id, admin = %p.user_id.as_uuid(), "incident acknowledged");
    Ok(HttpResponse::Ok().json(i))
}

/// An admin resolves the incident (a condition still present opens a new one).
#[utoipa::path(post, path = "/api/v1/admin/monitor/incidents/{id}/resolve",
    params(("id" = String, Path, format = Uuid, description = "incident id")),
    responses(
        (status = 200, body = Incident),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (already resolved)")),
    security(("internal_token" = [])))]
pub async fn resolve(
    state: web::Data<AppState>,
    Admin(p): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = incident_id(&id)?;
    let i = store::admin_change(&state.pool, id, p.user_id.as_uuid(), true).await?;
    state.outbox.notify();
    tracing::info!(incident = %id, admin = %p.user_id.as_uuid(), "incident resolved by an admin");
    Ok(HttpResponse::Ok().json(i))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// At most this many, newest first (1 to 500, default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActionList {
    pub actions: Vec<Action>,
}

/// The audit: every repair attempted, dry-run, refused or rate-limited.
#[utoipa::path(get, path = "/api/v1/admin/monitor/actions", params(ActionQuery),
    responses(
        (status = 200, body = ActionList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 422, body = ErrorBody, description = "validation_failed (limit)")),
    security(("internal_token" = [])))]
pub async fn actions(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<ActionQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = limit_of(query.limit)?;
    let actions = store::list_actions(&state.pool, limit).await?;
    Ok(HttpResponse::Ok().json(ActionList { actions }))
}

/// One repair policy as configured, and its use in the last hour.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub name: String,
    pub enabled: bool,
    /// True when the policy (or every policy) only reports.
    pub dry_run: bool,
    pub max_per_hour: i64,
    pub attempts_last_hour: i64,
    /// What it does, and its limit where it has one.
    pub description: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyList {
    pub policies: Vec<PolicyView>,
    /// Thresholds at which conditions are reported.
    #[schema(value_type = Object)]
    pub thresholds: Value,
}

/// The repair policies and the reporting thresholds.
#[utoipa::path(get, path = "/api/v1/admin/monitor/policies",
    responses(
        (status = 200, body = PolicyList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn policies(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, AppError> {
    let p = &state.cfg.policies;
    let all_dry = p.dry_run;
    let cs = &p.cancel_statement;
    let per_service: Vec<String> = cs
        .per_service
        .iter()
        .map(|(s, ms)| format!("{s} {ms} ms"))
        .collect();
    let rows: Vec<(&str, bool, bool, i64, String)> = vec![
        ("schema_repair", p.schema_repair.enabled, p.schema_repair.dry_run, p.schema_repair.max_per_hour,
         "a missing index, constraint or trigger is re-created by its service from its migrations".into()),
        ("cancel_statement", cs.enabled, cs.dry_run, cs.max_per_hour,
         format!("a service's own statement running over {} ms{} is cancelled by that service",
                 cs.hard_limit_ms,
                 if per_service.is_empty() { String::new() } else { format!(" ({})", per_service.join(", ")) })),
        ("terminate_idle", p.terminate_idle.enabled, p.terminate_idle.dry_run, p.terminate_idle.max_per_hour,
         format!("a service's own session idle in a transaction over {} ms is terminated by that service", p.terminate_idle.limit_ms)),
        ("recreate_consumer", p.recreate_consumer.enabled, p.recreate_consumer.dry_run, p.recreate_consumer.max_per_hour,
         "a deleted durable consumer is re-created by the service that runs it".into()),
        ("relay_outbox", p.relay_outbox.enabled, p.relay_outbox.dry_run, p.relay_outbox.max_per_hour,
         "a stuck outbox is asked to relay now".into()),
    ];
    let mut policies = Vec::new();
    for (name, enabled, dry, max, description) in rows {
        policies.push(PolicyView {
            name: name.into(),
            enabled,
            dry_run: dry || all_dry,
            max_per_hour: max,
            attempts_last_hour: store::attempts_last_hour(&state.pool, name).await?,
            description,
        });
    }
    let t = &state.cfg.thresholds;
    Ok(HttpResponse::Ok().json(PolicyList {
        policies,
        thresholds: json!({
            "long_statement_ms": t.long_statement_ms,
            "idle_in_transaction_ms": t.idle_in_transaction_ms,
            "blocked_ms": t.blocked_ms,
            "outbox_stuck_secs": t.outbox_stuck_secs,
            "consumer_pending": t.consumer_pending,
            "vacuum_age": t.vacuum_age,
            "budget_threshold_pct": state.cfg.budget.threshold_pct,
            "budget_reserve": state.cfg.budget.reserve,
            "lost_after_rounds": state.cfg.watch.lost_after,
            "round_interval_ms": state.cfg.watch.interval_ms,
        }),
    }))
}

/// The public status: one word per service, nothing else.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    /// `operational`, `degraded`, `down` or `unknown` (the worst of the services).
    pub status: String,
    /// Each service: `operational`, `degraded`, `down` or `unknown`.
    pub services: BTreeMap<String, String>,
}

/// The platform's status, for anyone.
#[utoipa::path(get, path = "/api/v1/status",
    responses((status = 200, body = Status)))]
pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(s) = state.status_cache.get() {
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=5"))
            .json(s));
    }
    let overview = area(&state, "overview", state.cfg.watch.interval_ms).await?;
    let active = store::active_by_service(&state.pool).await?;
    let mut services: BTreeMap<String, String> = BTreeMap::new();
    let expected = state.cfg.services();
    for s in &expected {
        services.insert((*s).to_owned(), "unknown".into());
    }
    if !overview.stale {
        let instances = overview
            .data
            .get("instances")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut live: BTreeMap<String, usize> = BTreeMap::new();
        for i in &instances {
            let svc = i.get("service").and_then(Value::as_str).unwrap_or("");
            let e = live.entry(svc.to_owned()).or_default();
            if i.get("state").and_then(Value::as_str) == Some("live") {
                *e += 1;
            }
        }
        for s in &expected {
            live.entry((*s).to_owned()).or_default();
        }
        for (svc, n) in live {
            if svc.is_empty() {
                continue;
            }
            let worst = active
                .iter()
                .filter(|(s, _)| s.as_deref() == Some(svc.as_str()))
                .map(|(_, sev)| *sev)
                .max();
            let word = if n == 0 {
                "down"
            } else if matches!(worst, Some(Severity::Critical | Severity::Warning)) {
                "degraded"
            } else {
                "operational"
            };
            services.insert(svc, word.into());
        }
    }
    let rank = |w: &str| match w {
        "operational" => 0,
        "degraded" => 1,
        "unknown" => 2,
        _ => 3,
    };
    let status = services
        .values()
        .max_by_key(|w| rank(w))
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let s = Status { status, services };
    let body = serde_json::to_value(&s).map_err(AppError::internal)?;
    state.status_cache.put(body.clone());
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=5"))
        .json(body))
}
