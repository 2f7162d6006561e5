//! The database, through the monitor's own pool (its role needs only
//! `pg_monitor`): connections per `application_name` against each
//! service's configured pools, the connection budget, long statements,
//! sessions idle in a transaction, blocked and blocking sessions, dead
//! tuples and vacuum age, the cache hit ratio. Sessions are read only:
//! cancelling or terminating one is asked of the service that owns it.

use crate::config::MonitorConfig;
use crate::findings::{Finding, Observed, Remedy, Scope, Severity};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A session worth showing (long, idle in a transaction, or blocked).
#[derive(Clone, Debug, serde::Serialize)]
struct Session {
    pid: i32,
    application_name: String,
    state: String,
    backend_start: DateTime<Utc>,
    /// Seconds since the statement started (active) or since the state changed.
    running_secs: f64,
    idle_secs: f64,
    wait_event_type: Option<String>,
    blocked_by: Vec<i32>,
    /// The statement, first 300 characters (statements carry parameters, not values).
    query: String,
}

/// Everything one observation read, as `GET .../database` shows it.
pub struct DbObservation {
    pub snapshot: Value,
    pub observed: Observed,
    /// Connections per application (this database).
    pub connections: BTreeMap<String, i64>,
    pub budget_ratio: f64,
    pub cache_hit_ratio: f64,
    /// Sessions over the reporting thresholds.
    pub sessions: SessionCounts,
    /// The database's oldest unfrozen transaction age.
    pub database_age: i64,
    /// (schema, table, dead tuples, vacuum age) of the tables shown.
    pub tables: Vec<(String, String, i64, i64)>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SessionCounts {
    pub long_statements: i64,
    pub idle_in_transaction: i64,
    pub blocked: i64,
    /// The longest-running active statement's age, seconds (of those shown).
    pub oldest_statement_secs: f64,
}

/// Reads the database's state and judges it. `live` is each live instance's
/// (service, pool size) from discovery; `services` the services known.
pub async fn observe(
    pool: &deadpool_postgres::Pool,
    cfg: &MonitorConfig,
    live: &[(&str, Option<i64>)],
    services: &[String],
) -> DbObservation {
    match read(pool, cfg, live, services).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "database observation failed");
            let mut observed = Observed::default();
            observed.findings.push(Finding::new(
                "database_unreachable",
                None,
                "",
                Severity::Critical,
                "the monitor cannot read the database's state".into(),
                json!({"error": format!("{e:#}")}),
            ));
            DbObservation {
                snapshot: json!({"error": format!("{e:#}")}),
                observed,
                connections: BTreeMap::new(),
                budget_ratio: 0.0,
                cache_hit_ratio: 0.0,
                sessions: SessionCounts::default(),
                database_age: 0,
                tables: Vec::new(),
            }
        }
    }
}

async fn read(
    pool: &deadpool_postgres::Pool,
    cfg: &MonitorConfig,
    live: &[(&str, Option<i64>)],
    services: &[String],
) -> anyhow::Result<DbObservation> {
    let c = pool.get().await?;
    let settings = c
        .query_one(
            "SELECT current_setting('max_connections')::int8,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
                    (SELECT age(datfrozenxid)::int8 FROM pg_database WHERE datname = current_database()),
                    (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()),
                    (SELECT blks_read FROM pg_stat_database WHERE datname = current_database())",
            &[],
        )
        .await?;
    let max_connections: i64 = settings.get(0);
    let server_connections: i64 = settings.get(1);
    let database_age: i64 = settings.get::<_, Option<i64>>(2).unwrap_or(0);
    let hit: i64 = settings.get::<_, Option<i64>>(3).unwrap_or(0);
    let read_blocks: i64 = settings.get::<_, Option<i64>>(4).unwrap_or(0);
    let cache_hit_ratio = if hit + read_blocks > 0 {
        hit as f64 / (hit + read_blocks) as f64
    } else {
        1.0
    };
    let rows = c
        .query(
            "SELECT coalesce(application_name, ''), coalesce(state, ''), count(*)
             FROM pg_stat_activity
             WHERE datname = current_database() AND backend_type = 'client backend'
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await?;
    let mut connections: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_state = Vec::new();
    for r in &rows {
        let app: String = r.get(0);
        let state: String = r.get(1);
        let n: i64 = r.get(2);
        *connections.entry(app.clone()).or_default() += n;
        by_state.push(json!({"application_name": app, "state": state, "count": n}));
    }
    let floor_ms = cfg
        .thresholds
        .long_statement_ms
        .min(cfg.thresholds.blocked_ms)
        .min(cfg.thresholds.idle_in_transaction_ms)
        .min(cfg.policies.terminate_idle.limit_ms)
        .min(
            cfg.policies
                .cancel_statement
                .per_service
                .values()
                .copied()
                .chain([cfg.policies.cancel_statement.hard_limit_ms])
                .min()
                .unwrap_or(u64::MAX),
        );
    let floor = i64::try_from(floor_ms).unwrap_or(i64::MAX) as f64 / 1000.0;
    let rows = c
        .query(
            "SELECT pid, coalesce(application_name, ''), coalesce(state, ''), backend_start,
                    coalesce(extract(epoch FROM now() - query_start), 0)::float8,
                    coalesce(extract(epoch FROM now() - state_change), 0)::float8,
                    wait_event_type, pg_blocking_pids(pid), left(coalesce(query, ''), 300)
             FROM pg_stat_activity
             WHERE datname = current_database() AND backend_type = 'client backend'
               AND pid <> pg_backend_pid()
               AND ((state = 'active' AND now() - query_start > make_interval(secs => $1))
                 OR (state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $1))
                 OR cardinality(pg_blocking_pids(pid)) > 0)
             ORDER BY query_start",
            &[&floor],
        )
        .await?;
    let sessions: Vec<Session> = rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            application_name: r.get(1),
            state: r.get(2),
            backend_start: r.get(3),
            running_secs: r.get(4),
            idle_secs: r.get(5),
            wait_event_type: r.get(6),
            blocked_by: r.get(7),
            query: r.get(8),
        })
        .collect();
    let tables = c
        .query(
            "SELECT t.schemaname::text, t.relname::text, t.n_live_tup, t.n_dead_tup,
                    greatest(t.last_vacuum, t.last_autovacuum), age(c.relfrozenxid)::int8
             FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
             ORDER BY t.n_dead_tup DESC, age(c.relfrozenxid) DESC LIMIT 25",
            &[],
        )
        .await?;
    let table_figures: Vec<(String, String, i64, i64)> = tables
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(3), r.get(5)))
        .collect();
    let tables = tables
        .iter()
        .map(|r| {
            json!({"schema": r.get::<_, String>(0), "table": r.get::<_, String>(1),
                   "live_tuples": r.get::<_, i64>(2), "dead_tuples": r.get::<_, i64>(3),
                   "last_vacuum": r.get::<_, Option<DateTime<Utc>>>(4),
                   "vacuum_age": r.get::<_, i64>(5)})
        })
        .collect::<Vec<_>>();
    drop(c);

    let mut obs = Observed::default();
    for k in [
        "database_unreachable",
        "connection_budget",
        "connections_over_pool",
        "long_statement",
        "statement_over_limit",
        "idle_in_transaction",
        "blocked_sessions",
        "vacuum_age",
    ] {
        obs.scopes.push(Scope::all(k));
    }
    // The budget: what the live instances' pools may open, against what the
    // server allows beyond the reserve.
    let mut claimed: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (svc, size) in live {
        let e = claimed.entry((*svc).to_owned()).or_default();
        e.0 += 1;
        e.1 += size.unwrap_or(0);
    }
    let total: i64 = claimed.values().map(|(_, s)| s).sum();
    let limit = (max_connections - cfg.budget.reserve).max(1);
    let budget_ratio = total as f64 / limit as f64;
    let per_service: BTreeMap<&String, Value> = claimed
        .iter()
        .map(|(s, (n, size))| (s, json!({"instances": n, "pool_max_total": size})))
        .collect();
    let budget = json!({"max_connections": max_connections, "reserve": cfg.budget.reserve,
        "limit": limit, "claimed": total, "used_pct": (budget_ratio * 1000.0).round() / 10.0,
        "threshold_pct": cfg.budget.threshold_pct, "per_service": per_service});
    if budget_ratio * 100.0 > cfg.budget.threshold_pct {
        obs.findings.push(Finding::new(
            "connection_budget",
            None,
            "",
            if budget_ratio > 1.0 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            format!(
                "the services' pools may open {total} connections: {:.0}% of the {limit} the database allows beyond its reserve (threshold {}%)",
                budget_ratio * 100.0,
                cfg.budget.threshold_pct
            ),
            budget.clone(),
        ));
    }
    // A service holding more connections than its pools allow (a leak, or
    // another program using its name).
    for (svc, (_, size)) in &claimed {
        let open = connections.get(svc).copied().unwrap_or(0);
        if *size > 0 && open > *size {
            obs.findings.push(Finding::new(
                "connections_over_pool",
                Some(svc),
                "",
                Severity::Warning,
                format!("{svc} has {open} connections open; its pools allow {size}"),
                json!({"open": open, "pool_max_total": size}),
            ));
        }
    }
    let is_service = |app: &str| services.iter().any(|s| s == app);
    let long_s = cfg.thresholds.long_statement_ms as f64 / 1000.0;
    let idle_s = cfg.thresholds.idle_in_transaction_ms as f64 / 1000.0;
    let blocked_s = cfg.thresholds.blocked_ms as f64 / 1000.0;
    let mut long_by_app: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
    let mut blocked = Vec::new();
    for s in &sessions {
        let app = s.application_name.as_str();
        if s.state == "active" {
            let hard = cfg.statement_limit_ms(app) as f64 / 1000.0;
            if is_service(app) && cfg.policies.cancel_statement.enabled && s.running_secs > hard {
                obs.findings.push(
                    Finding::new(
                        "statement_over_limit",
                        Some(app),
                        &s.pid.to_string(),
                        Severity::Warning,
                        format!(
                            "{app}: a statement has run {:.0} s, over its hard limit of {:.0} s",
                            s.running_secs, hard
                        ),
                        json!(s),
                    )
                    .with_remedy(Remedy::CancelStatement {
                        service: app.to_owned(),
                        pid: s.pid,
                        backend_start: s.backend_start,
                        min_age_ms: cfg.statement_limit_ms(app),
                    }),
                );
            } else if s.running_secs > long_s {
                long_by_app.entry(app).or_default().push(s);
            }
        }
        if s.state.starts_with("idle in transaction") && s.idle_secs > idle_s {
            let limit = cfg.policies.terminate_idle.limit_ms;
            let mut f = Finding::new(
                "idle_in_transaction",
                Some(app),
                &s.pid.to_string(),
                Severity::Warning,
                format!(
                    "{}: a session has been idle in a transaction for {:.0} s",
                    if app.is_empty() {
                        "(no application_name)"
                    } else {
                        app
                    },
                    s.idle_secs
                ),
                json!(s),
            );
            if is_service(app)
                && cfg.policies.terminate_idle.enabled
                && s.idle_secs * 1000.0 > limit as f64
            {
                f = f.with_remedy(Remedy::TerminateIdle {
                    service: app.to_owned(),
                    pid: s.pid,
                    backend_start: s.backend_start,
                    min_age_ms: limit,
                });
            }
            obs.findings.push(f);
        }
        if !s.blocked_by.is_empty() && s.running_secs > blocked_s {
            blocked.push(s);
        }
    }
    for (app, list) in &long_by_app {
        obs.findings.push(Finding::new(
            "long_statement",
            Some(app),
            "",
            Severity::Info,
            format!(
                "{}: {} statement(s) running longer than {:.0} s",
                if app.is_empty() {
                    "(no application_name)"
                } else {
                    app
                },
                list.len(),
                long_s
            ),
            json!({"statements": list}),
        ));
    }
    let blocked_count = blocked.len() as i64;
    if !blocked.is_empty() {
        let blockers: Vec<&Session> = sessions
            .iter()
            .filter(|s| blocked.iter().any(|b| b.blocked_by.contains(&s.pid)))
            .collect();
        obs.findings.push(Finding::new(
            "blocked_sessions",
            None,
            "",
            Severity::Warning,
            format!(
                "{} session(s) waiting on locks held by others",
                blocked.len()
            ),
            json!({"blocked": blocked, "blocking": blockers}),
        ));
    }
    if database_age > cfg.thresholds.vacuum_age {
        obs.findings.push(Finding::new(
            "vacuum_age",
            None,
            "",
            Severity::Warning,
            format!(
                "the database's oldest unfrozen transaction is {database_age} transactions old"
            ),
            json!({"database_age": database_age, "threshold": cfg.thresholds.vacuum_age}),
        ));
    }
    let snapshot = json!({
        "max_connections": max_connections,
        "server_connections": server_connections,
        "budget": budget,
        "connections": connections,
        "connections_by_state": by_state,
        "sessions": sessions,
        "tables": tables,
        "database_age": database_age,
        "cache_hit_ratio": cache_hit_ratio,
    });
    let counts = SessionCounts {
        long_statements: sessions
            .iter()
            .filter(|s| s.state == "active" && s.running_secs > long_s)
            .count() as i64,
        idle_in_transaction: sessions
            .iter()
            .filter(|s| s.state.starts_with("idle in transaction") && s.idle_secs > idle_s)
            .count() as i64,
        blocked: blocked_count,
        oldest_statement_secs: sessions
            .iter()
            .filter(|s| s.state == "active")
            .map(|s| s.running_secs)
            .fold(0.0, f64::max),
    };
    Ok(DbObservation {
        snapshot,
        observed: obs,
        connections,
        budget_ratio,
        cache_hit_ratio,
        sessions: counts,
        database_age,
        tables: table_figures,
    })
}
