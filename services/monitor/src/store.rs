//! Incidents, the audit of actions and the latest observations, in the
//! monitor's schema. Opening an incident and its event commit together
//! (the outbox); at most one incident per fingerprint is open or
//! acknowledged (a unique partial index), so a restarted monitor or a new
//! leader continues the same incidents instead of duplicating them.

use crate::findings::{Observed, Severity};
use chrono::{DateTime, Utc};
use common::EventEnvelope;
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// An incident as the admin API answers it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: Uuid,
    pub fingerprint: String,
    /// e.g. `instance_lost`, `schema_drift`, `connection_budget`.
    pub kind: String,
    pub service: Option<String>,
    pub severity: Severity,
    /// `open`, `acknowledged` or `resolved`.
    pub state: String,
    pub title: String,
    /// What was observed, most recently.
    #[schema(value_type = Object)]
    pub evidence: Value,
    pub occurrences: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `monitor` (the condition cleared) or `admin`.
    pub resolved_by: Option<String>,
}

const INCIDENT_COLUMNS: &str = "id, fingerprint, kind, service, severity, state, title, evidence, occurrences, first_seen, last_seen, acknowledged_at, acknowledged_by, resolved_at, resolved_by";

fn severity_of(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

fn incident(r: &tokio_postgres::Row) -> Incident {
    let severity: String = r.get(4);
    Incident {
        id: r.get(0),
        fingerprint: r.get(1),
        kind: r.get(2),
        service: r.get(3),
        severity: severity_of(&severity),
        state: r.get(5),
        title: r.get(6),
        evidence: r.get(7),
        occurrences: r.get(8),
        first_seen: r.get(9),
        last_seen: r.get(10),
        acknowledged_at: r.get(11),
        acknowledged_by: r.get(12),
        resolved_at: r.get(13),
        resolved_by: r.get(14),
    }
}

/// Payload of `evt.monitor.incident.opened|resolved` (version 1).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct IncidentEvent {
    pub incident_id: Uuid,
    pub fingerprint: String,
    pub kind: String,
    pub service: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub resolved_by: Option<String>,
}

impl From<&Incident> for IncidentEvent {
    fn from(i: &Incident) -> Self {
        IncidentEvent {
            incident_id: i.id,
            fingerprint: i.fingerprint.clone(),
            kind: i.kind.clone(),
            service: i.service.clone(),
            severity: i.severity,
            title: i.title.clone(),
            resolved_by: i.resolved_by.clone(),
        }
    }
}

async fn emit(
    tx: &deadpool_postgres::Transaction<'_>,
    event_type: &str,
    i: &Incident,
) -> Result<(), AppError> {
    let env = EventEnvelope::new(
        crate::config::SERVICE,
        event_type,
        1,
        IncidentEvent::from(i),
    );
    platform::outbox::enqueue(tx, &env, &CallContext::default()).await
}

/// What applying one round's observations changed.
#[derive(Default, Debug)]
pub struct Changes {
    pub opened: Vec<Incident>,
    pub resolved: Vec<Incident>,
    /// The active incident of each finding, by fingerprint.
    pub ids: std::collections::HashMap<String, Uuid>,
}

/// Opens (or refreshes) an incident per finding and resolves the incidents
/// in the observed scopes whose condition is gone, in one transaction.
pub async fn apply(pool: &deadpool_postgres::Pool, obs: &Observed) -> Result<Changes, AppError> {
    let mut c = platform::db::conn(pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let mut changes = Changes::default();
    let mut seen = std::collections::HashSet::new();
    for f in &obs.findings {
        if !seen.insert(f.fingerprint.as_str()) {
            continue;
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO incidents (id, fingerprint, kind, service, severity, title, evidence)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (fingerprint) WHERE state <> 'resolved' DO UPDATE
                       SET last_seen = now(), evidence = EXCLUDED.evidence, title = EXCLUDED.title,
                           severity = EXCLUDED.severity, occurrences = incidents.occurrences + 1
                     RETURNING {INCIDENT_COLUMNS}, (xmax = 0) AS inserted"
                ),
                &[
                    &Uuid::now_v7(),
                    &f.fingerprint,
                    &f.kind,
                    &f.service,
                    &f.severity.as_str(),
                    &f.title,
                    &f.evidence,
                ],
            )
            .await
            .map_err(q)?;
        let i = incident(&row);
        let inserted: bool = row.get(15);
        changes.ids.insert(f.fingerprint.clone(), i.id);
        if inserted {
            emit(&tx, common::subjects::monitor::EVT_INCIDENT_OPENED, &i).await?;
            changes.opened.push(i);
        }
    }
    if !obs.scopes.is_empty() {
        let rows = tx
            .query(
                "SELECT id, fingerprint, kind, service FROM incidents WHERE state <> 'resolved'",
                &[],
            )
            .await
            .map_err(q)?;
        let gone: Vec<Uuid> = rows
            .iter()
            .filter(|r| {
                let fp: &str = r.get(1);
                let kind: &str = r.get(2);
                let service: Option<&str> = r.get(3);
                !seen.contains(fp) && obs.scopes.iter().any(|s| s.covers(kind, service))
            })
            .map(|r| r.get(0))
            .collect();
        if !gone.is_empty() {
            let rows = tx
                .query(
                    &format!(
                        "UPDATE incidents SET state = 'resolved', resolved_at = now(), resolved_by = 'monitor'
                         WHERE id = ANY($1) AND state <> 'resolved' RETURNING {INCIDENT_COLUMNS}"
                    ),
                    &[&gone],
                )
                .await
                .map_err(q)?;
            for r in &rows {
                let i = incident(r);
                emit(&tx, common::subjects::monitor::EVT_INCIDENT_RESOLVED, &i).await?;
                changes.resolved.push(i);
            }
        }
    }
    tx.commit().await.map_err(q)?;
    Ok(changes)
}

/// Incidents in `state` (or all), newest first.
pub async fn list(
    pool: &deadpool_postgres::Pool,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<Incident>, AppError> {
    let c = platform::db::conn(pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ($1::text IS NULL OR state = $1)
                 ORDER BY last_seen DESC, id DESC LIMIT $2"
            ),
            &[&state, &limit],
        )
        .await
        .map_err(q)?;
    Ok(rows.iter().map(incident).collect())
}

/// Open or acknowledged incidents per service (for the status page).
pub async fn active_by_service(
    pool: &deadpool_postgres::Pool,
) -> Result<Vec<(Option<String>, Severity)>, AppError> {
    let c = platform::db::conn(pool).await?;
    let rows = c
        .query(
            "SELECT service, severity FROM incidents WHERE state <> 'resolved'",
            &[],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| {
            let s: String = r.get(1);
            (r.get(0), severity_of(&s))
        })
        .collect())
}

/// An admin acknowledges (`resolve` false) or resolves an incident.
pub async fn admin_change(
    pool: &deadpool_postgres::Pool,
    id: Uuid,
    admin: Uuid,
    resolve: bool,
) -> Result<Incident, AppError> {
    let mut c = platform::db::conn(pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("no such incident"))?;
    let current = incident(&row);
    if current.state == "resolved" {
        return Err(AppError::new(
            common::ErrorCode::Conflict,
            "the incident is already resolved",
        ));
    }
    if !resolve && current.state == "acknowledged" {
        return Ok(current);
    }
    let row = if resolve {
        tx.query_one(
            &format!(
                "UPDATE incidents SET state = 'resolved', resolved_at = now(), resolved_by = 'admin', resolved_by_user = $2
                 WHERE id = $1 RETURNING {INCIDENT_COLUMNS}"
            ),
            &[&id, &admin],
        )
        .await
        .map_err(q)?
    } else {
        tx.query_one(
            &format!(
                "UPDATE incidents SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2
                 WHERE id = $1 RETURNING {INCIDENT_COLUMNS}"
            ),
            &[&id, &admin],
        )
        .await
        .map_err(q)?
    };
    let i = incident(&row);
    if resolve {
        emit(&tx, common::subjects::monitor::EVT_INCIDENT_RESOLVED, &i).await?;
    }
    tx.commit().await.map_err(q)?;
    Ok(i)
}

/// One audited action.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Action {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// The policy that allowed it.
    pub policy: String,
    /// The service that carried it out.
    pub service: String,
    pub target: String,
    /// Why.
    pub reason: String,
    pub incident_id: Option<Uuid>,
    /// Who decided: `monitor` (a policy).
    pub actor: String,
    pub dry_run: bool,
    /// `done`, `dry_run`, `not_needed`, `refused`, `failed` or `rate_limited`.
    pub result: String,
    /// The owning service's answer, or the error.
    #[schema(value_type = Object)]
    pub detail: Value,
}

pub struct NewAction<'a> {
    pub policy: &'a str,
    pub service: &'a str,
    pub target: &'a str,
    pub reason: &'a str,
    pub incident_id: Option<Uuid>,
    pub dry_run: bool,
    pub result: &'a str,
    pub detail: Value,
}

pub async fn record_action(
    pool: &deadpool_postgres::Pool,
    a: NewAction<'_>,
) -> Result<Uuid, AppError> {
    let c = platform::db::conn(pool).await?;
    let id = Uuid::now_v7();
    c.execute(
        "INSERT INTO actions (id, policy, service, target, reason, incident_id, actor, dry_run, result, detail)
         VALUES ($1, $2, $3, $4, $5, $6, 'monitor', $7, $8, $9)",
        &[
            &id,
            &a.policy,
            &a.service,
            &a.target,
            &a.reason,
            &a.incident_id,
            &a.dry_run,
            &a.result,
            &a.detail,
        ],
    )
    .await
    .map_err(q)?;
    Ok(id)
}

/// Attempts of `policy` in the last hour (rate-limited ones do not count).
pub async fn attempts_last_hour(
    pool: &deadpool_postgres::Pool,
    policy: &str,
) -> Result<i64, AppError> {
    let c = platform::db::conn(pool).await?;
    let row = c
        .query_one(
            "SELECT count(*) FROM actions WHERE policy = $1 AND at > now() - interval '1 hour'
               AND result NOT IN ('rate_limited', 'not_needed')",
            &[&policy],
        )
        .await
        .map_err(q)?;
    Ok(row.get(0))
}

pub async fn list_actions(
    pool: &deadpool_postgres::Pool,
    limit: i64,
) -> Result<Vec<Action>, AppError> {
    let c = platform::db::conn(pool).await?;
    let rows = c
        .query(
            "SELECT id, at, policy, service, target, reason, incident_id, actor, dry_run, result, detail
             FROM actions ORDER BY at DESC, id DESC LIMIT $1",
            &[&limit],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| Action {
            id: r.get(0),
            at: r.get(1),
            policy: r.get(2),
            service: r.get(3),
            target: r.get(4),
            reason: r.get(5),
            incident_id: r.get(6),
            actor: r.get(7),
            dry_run: r.get(8),
            result: r.get(9),
            detail: r.get(10),
        })
        .collect())
}

/// Stores the leader's latest view of an area.
pub async fn put_snapshot(
    pool: &deadpool_postgres::Pool,
    area: &str,
    data: &Value,
    taken_by: &str,
) -> Result<(), AppError> {
    let c = platform::db::conn(pool).await?;
    c.execute(
        "INSERT INTO snapshots (area, data, taken_at, taken_by) VALUES ($1, $2, now(), $3)
         ON CONFLICT (area) DO UPDATE SET data = EXCLUDED.data, taken_at = now(), taken_by = EXCLUDED.taken_by",
        &[&area, data, &taken_by],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// The latest view of an area, when the leader has taken one.
pub async fn snapshot(
    pool: &deadpool_postgres::Pool,
    area: &str,
) -> Result<Option<(Value, DateTime<Utc>, String)>, AppError> {
    let c = platform::db::conn(pool).await?;
    let row = c
        .query_opt(
            "SELECT data, taken_at, taken_by FROM snapshots WHERE area = $1",
            &[&area],
        )
        .await
        .map_err(q)?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}
