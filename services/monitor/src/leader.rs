//! One active monitor at a time: the leader holds a PostgreSQL session
//! advisory lock on a connection taken out of the pool for as long as it
//! leads. When that process dies its connection closes and the lock is
//! free; a standby tries every check and takes over. The leader checks its
//! connection every round and steps down as soon as it is gone.

use sha2::{Digest, Sha256};

pub struct Leader {
    pool: deadpool_postgres::Pool,
    key: i64,
    held: Option<deadpool_postgres::Object>,
}

/// The advisory lock key of the monitor's leadership in this deployment.
pub fn lock_key(prefix: &str) -> i64 {
    let digest = Sha256::digest(format!("jyotiflow.monitor.leader.{prefix}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

impl Leader {
    pub fn new(pool: deadpool_postgres::Pool, key: i64) -> Leader {
        Leader {
            pool,
            key,
            held: None,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.held.is_some()
    }

    /// Confirms leadership (the lock's connection still answers) or tries
    /// to take it. Returns whether this instance leads now.
    pub async fn ensure(&mut self) -> bool {
        if let Some(c) = &self.held {
            if c.simple_query("SELECT 1").await.is_ok() {
                return true;
            }
            tracing::warn!("the leader's lock connection is gone: stepping down");
            self.discard();
        }
        let Ok(c) = self.pool.get().await else {
            return false;
        };
        match c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])
            .await
        {
            Ok(row) if row.get::<_, bool>(0) => {
                tracing::info!("this monitor instance is the leader");
                self.held = Some(c);
                true
            }
            _ => false,
        }
    }

    /// Gives leadership up (at shutdown), so a standby takes over at once.
    pub async fn release(&mut self) {
        if let Some(c) = &self.held {
            let _ = c
                .query_one("SELECT pg_advisory_unlock($1)", &[&self.key])
                .await;
        }
        self.discard();
    }

    /// Drops the lock's connection without returning it to the pool (a
    /// pooled connection would keep the session lock).
    fn discard(&mut self) {
        if let Some(c) = self.held.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}
