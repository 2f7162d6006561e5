//! Embedded migrations, applied only by a service's `migrate` subcommand.
//!
//! Each service's SQL lives in `migrations/<service>/NNNN_name.sql` and is
//! embedded with [`migrations!`]. Applying takes a Postgres advisory lock
//! keyed by the service, so any number of `migrate` processes started
//! together apply each migration exactly once; the others wait, then find
//! nothing to do. Applied migrations are recorded with a checksum, and an
//! applied migration whose file has changed is refused.

use sha2::{Digest, Sha256};

/// One embedded migration.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Embeds migration files: `migrations!("../../migrations/gateway", 1 => "0001_init", 2 => "0002_x")`.
#[macro_export]
macro_rules! migrations {
    ($dir:literal, $($version:literal => $name:literal),+ $(,)?) => {
        &[$($crate::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!($dir, "/", $name, ".sql")),
        }),+]
    };
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<i32>,
    pub already: usize,
}

fn lock_key(service: &str) -> i64 {
    let digest = Sha256::digest(format!("jyotiflow.migrate.{service}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

fn checksum(sql: &str) -> String {
    let d = Sha256::digest(sql.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Applies the pending migrations of `service` into its schema.
pub async fn run(
    client: &mut tokio_postgres::Client,
    service: &str,
    migrations: &[Migration],
) -> anyhow::Result<Report> {
    let schema = crate::db::schema_name(service);
    let key = lock_key(service);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await?;
    let result = apply(client, &schema, migrations).await;
    // Release even when applying failed; a broken connection releases it anyway.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await;
    let report = result?;
    unlock?;
    Ok(report)
}

async fn apply(
    client: &mut tokio_postgres::Client,
    schema: &str,
    migrations: &[Migration],
) -> anyhow::Result<Report> {
    let s = quote_ident(schema);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await?;
    let rows = client
        .query(
            &format!("SELECT version, checksum FROM {s}.schema_migrations"),
            &[],
        )
        .await?;
    let applied: std::collections::HashMap<i32, String> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut report = Report::default();
    let mut sorted: Vec<&Migration> = migrations.iter().collect();
    sorted.sort_by_key(|m| m.version);
    for m in sorted {
        let sum = checksum(m.sql);
        if let Some(existing) = applied.get(&m.version) {
            if *existing != sum {
                anyhow::bail!(
                    "migration {} ({}) was changed after it was applied; add a new migration instead",
                    m.version,
                    m.name
                );
            }
            report.already += 1;
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL search_path = {s}, public;"))
            .await?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| anyhow::anyhow!("migration {} ({}) failed: {e}", m.version, m.name))?;
        tx.execute(
            &format!(
                "INSERT INTO {s}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
            ),
            &[&m.version, &m.name, &sum],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        report.applied.push(m.version);
    }
    record_fingerprint(client, schema, !report.applied.is_empty()).await?;
    Ok(report)
}

// ------------------------------------------------------------- schema drift

/// The schema's objects as the catalog describes them: `kind:name` → its
/// definition (tables, columns with type, nullability and default, indexes,
/// constraints, triggers, functions). The bookkeeping tables are left out.
pub async fn fingerprint(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let rows = client
        .query(
            "WITH rel AS (
               SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
                 AND c.relname NOT IN ('schema_migrations', 'schema_fingerprint'))
             SELECT 'table:' || relname, '' FROM rel
             UNION ALL
             SELECT 'column:' || r.relname || '.' || a.attname,
                    format_type(a.atttypid, a.atttypmod)
                    || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                    || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                    || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
             FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
             LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
             UNION ALL
             SELECT 'index:' || i.relname, pg_get_indexdef(i.oid)
             FROM rel r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
             UNION ALL
             SELECT 'constraint:' || r.relname || '.' || c.conname, pg_get_constraintdef(c.oid)
             FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
             UNION ALL
             SELECT 'trigger:' || r.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
             FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
             UNION ALL
             SELECT 'function:' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    pg_get_function_result(p.oid) || ' ' || md5(p.prosrc)
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1",
            &[&schema],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Records the schema's fingerprint after migrating: always when a
/// migration was applied, else only if none is recorded yet (so running
/// `migrate` again over a drifted schema does not make the drift the truth).
async fn record_fingerprint(
    client: &tokio_postgres::Client,
    schema: &str,
    applied: bool,
) -> anyhow::Result<()> {
    let s = quote_ident(schema);
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {s}.schema_fingerprint (
                 id integer PRIMARY KEY CHECK (id = 1),
                 objects jsonb NOT NULL,
                 recorded_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await?;
    let exists = client
        .query_opt(&format!("SELECT 1 FROM {s}.schema_fingerprint"), &[])
        .await?
        .is_some();
    if exists && !applied {
        return Ok(());
    }
    let objects = serde_json::to_value(fingerprint(client, schema).await?)?;
    client
        .execute(
            &format!(
                "INSERT INTO {s}.schema_fingerprint (id, objects) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET objects = EXCLUDED.objects, recorded_at = now()"
            ),
            &[&objects],
        )
        .await?;
    Ok(())
}

/// One difference between the live schema and what `migrate` recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Drift {
    /// `table`, `column`, `index`, `constraint`, `trigger` or `function`.
    pub kind: String,
    /// The object (`table.name` for columns, constraints and triggers).
    pub name: String,
    /// `missing` (recorded, not live), `extra` (live, not recorded) or
    /// `changed` (both, defined differently).
    pub change: String,
    /// The recorded definition, when there is one.
    pub expected: Option<String>,
    /// The live definition, when there is one.
    pub actual: Option<String>,
}

/// `<service>.schema.check`: the differences, and when the record was made.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchemaCheck {
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
    pub differences: Vec<Drift>,
}

/// Compares the live schema of `service` with its recorded fingerprint.
pub async fn check(client: &tokio_postgres::Client, service: &str) -> anyhow::Result<SchemaCheck> {
    let schema = crate::db::schema_name(service);
    let s = quote_ident(&schema);
    let row = client
        .query_opt(
            &format!("SELECT objects, recorded_at FROM {s}.schema_fingerprint WHERE id = 1"),
            &[],
        )
        .await?;
    let Some(row) = row else {
        return Ok(SchemaCheck {
            recorded_at: None,
            differences: Vec::new(),
        });
    };
    let recorded: std::collections::BTreeMap<String, String> = serde_json::from_value(row.get(0))?;
    let live = fingerprint(client, &schema).await?;
    let split = |k: &str| -> (String, String) {
        let (kind, name) = k.split_once(':').unwrap_or(("object", k));
        (kind.to_owned(), name.to_owned())
    };
    let mut differences = Vec::new();
    for (k, v) in &recorded {
        let (kind, name) = split(k);
        match live.get(k) {
            None => differences.push(Drift {
                kind,
                name,
                change: "missing".into(),
                expected: Some(v.clone()),
                actual: None,
            }),
            Some(l) if l != v => differences.push(Drift {
                kind,
                name,
                change: "changed".into(),
                expected: Some(v.clone()),
                actual: Some(l.clone()),
            }),
            Some(_) => {}
        }
    }
    for (k, l) in &live {
        if !recorded.contains_key(k) {
            let (kind, name) = split(k);
            differences.push(Drift {
                kind,
                name,
                change: "extra".into(),
                expected: None,
                actual: Some(l.clone()),
            });
        }
    }
    Ok(SchemaCheck {
        recorded_at: row.get(1),
        differences,
    })
}

/// `<service>.schema.repair`: re-create one missing index, constraint or
/// trigger from the definition `migrate` recorded (nothing else is ever
/// repaired: columns and tables only open incidents).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// `index`, `constraint` or `trigger`.
    pub kind: String,
    /// As [`Drift::name`] reports it.
    pub name: String,
    /// Report the statements without running them.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RepairOutcome {
    pub kind: String,
    pub name: String,
    pub dry_run: bool,
    /// The statements run (or, dry, that would run).
    pub statements: Vec<String>,
}

/// Why a repair was refused (the caller's mistake or the schema's state).
#[derive(Debug, thiserror::Error)]
pub enum RepairRefused {
    #[error("{0}")]
    NotRepairable(String),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Re-creates the named object from the recorded fingerprint, in one
/// transaction (constraints that can be are added `NOT VALID` and then
/// validated).
pub async fn repair(
    client: &mut tokio_postgres::Client,
    service: &str,
    req: &RepairRequest,
) -> Result<RepairOutcome, RepairRefused> {
    let refuse = |m: String| RepairRefused::NotRepairable(m);
    if !matches!(req.kind.as_str(), "index" | "constraint" | "trigger") {
        return Err(refuse(format!(
            "`{}` objects are never repaired automatically (only index, constraint, trigger)",
            req.kind
        )));
    }
    let schema = crate::db::schema_name(service);
    let key = format!("{}:{}", req.kind, req.name);
    let state = check(client, service).await?;
    let drift = state
        .differences
        .iter()
        .find(|d| d.kind == req.kind && d.name == req.name)
        .ok_or_else(|| refuse(format!("{key} does not differ from the recorded schema")))?;
    if drift.change != "missing" {
        return Err(refuse(format!(
            "{key} is {}: only a missing object is re-created",
            drift.change
        )));
    }
    let def = drift.expected.clone().unwrap_or_default();
    let s = quote_ident(&schema);
    let statements = match req.kind.as_str() {
        "index" | "trigger" => vec![def],
        _ => {
            let (table, con) = req
                .name
                .split_once('.')
                .ok_or_else(|| refuse(format!("{key}: a constraint is named table.constraint")))?;
            let target = format!("{s}.{}", quote_ident(table));
            let c = quote_ident(con);
            if def.starts_with("CHECK") || def.starts_with("FOREIGN KEY") {
                vec![
                    format!("ALTER TABLE {target} ADD CONSTRAINT {c} {def} NOT VALID"),
                    format!("ALTER TABLE {target} VALIDATE CONSTRAINT {c}"),
                ]
            } else {
                vec![format!("ALTER TABLE {target} ADD CONSTRAINT {c} {def}")]
            }
        }
    };
    if !req.dry_run {
        let tx = client.transaction().await.map_err(anyhow::Error::from)?;
        tx.batch_execute(&format!("SET LOCAL search_path = {s}, public;"))
            .await
            .map_err(anyhow::Error::from)?;
        for st in &statements {
            tx.batch_execute(st)
                .await
                .map_err(|e| refuse(format!("{key} could not be re-created: {e}")))?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        tracing::warn!(object = %key, "schema object re-created from the recorded migration");
    }
    Ok(RepairOutcome {
        kind: req.kind.clone(),
        name: req.name.clone(),
        dry_run: req.dry_run,
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_per_service() {
        assert_ne!(lock_key("gateway"), lock_key("pricing"));
        assert_eq!(lock_key("gateway"), lock_key("gateway"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
