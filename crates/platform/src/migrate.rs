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
    Ok(report)
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
