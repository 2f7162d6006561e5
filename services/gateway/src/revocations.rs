//! Access tokens revoked before they expire: one token at logout, every
//! token of a user issued before a password change.
//!
//! Revocations are written to `access_revocations` (kept until the tokens
//! they cover have expired anyway) and announced to every gateway replica
//! over NATS (`gateway.tokens.revoked`, signed by the gateway). Each
//! replica checks tokens against its in-memory copy (no database round trip
//! on the hot path), and reloads the table every `revocation_sync_ms`, so a
//! replica that missed an announcement (or just started) catches up within
//! that interval.

use chrono::{DateTime, Utc};
use common::UserId;
use deadpool_postgres::GenericClient;
use platform::db::q;
use platform::nats::Bus;
use platform::AppError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The NATS subject replicas announce revocations on.
pub const SUBJECT: &str = "gateway.tokens.revoked";

/// One revocation: a token id, or a user's tokens issued before a time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Revocation {
    pub jti: Option<Uuid>,
    pub user_id: Option<UserId>,
    /// Tokens of `user_id` issued before this instant (Unix ms) are revoked.
    pub not_before_ms: Option<i64>,
    /// When every token it covers has expired (Unix seconds).
    pub expires_at: i64,
}

#[derive(Default)]
struct State {
    tokens: HashMap<Uuid, i64>,
    users: HashMap<UserId, (i64, i64)>,
}

/// The replica's copy of the revocations.
#[derive(Clone, Default)]
pub struct Revocations(Arc<RwLock<State>>);

impl Revocations {
    /// Whether a token (by id, user and issue time) has been revoked.
    pub fn is_revoked(&self, user: UserId, jti: Option<Uuid>, issued_ms: i64) -> bool {
        let Ok(s) = self.0.read() else {
            return true; // fail closed on a poisoned lock
        };
        if jti.is_some_and(|j| s.tokens.contains_key(&j)) {
            return true;
        }
        s.users
            .get(&user)
            .is_some_and(|(not_before, _)| issued_ms < *not_before)
    }

    pub fn apply(&self, r: &Revocation) {
        let Ok(mut s) = self.0.write() else { return };
        if let Some(j) = r.jti {
            s.tokens.insert(j, r.expires_at);
        }
        if let (Some(u), Some(nb)) = (r.user_id, r.not_before_ms) {
            let e = s.users.entry(u).or_insert((nb, r.expires_at));
            if nb >= e.0 {
                *e = (nb, r.expires_at.max(e.1));
            }
        }
    }

    /// Replaces the copy with the table's unexpired rows.
    pub async fn reload<C: GenericClient>(&self, db: &C) -> Result<usize, AppError> {
        let rows = db
            .query(
                "SELECT jti, user_id, not_before, expires_at FROM access_revocations WHERE expires_at > now()",
                &[],
            )
            .await
            .map_err(q)?;
        let mut fresh = State::default();
        for r in &rows {
            let jti: Option<Uuid> = r.get(0);
            let user: Option<Uuid> = r.get(1);
            let not_before: Option<DateTime<Utc>> = r.get(2);
            let exp: DateTime<Utc> = r.get(3);
            if let Some(j) = jti {
                fresh.tokens.insert(j, exp.timestamp());
            }
            if let (Some(u), Some(nb)) = (user, not_before) {
                let e = fresh
                    .users
                    .entry(UserId(u))
                    .or_insert((nb.timestamp_millis(), exp.timestamp()));
                if nb.timestamp_millis() >= e.0 {
                    *e = (nb.timestamp_millis(), exp.timestamp().max(e.1));
                }
            }
        }
        let n = rows.len();
        if let Ok(mut s) = self.0.write() {
            *s = fresh;
        }
        Ok(n)
    }
}

/// Records a revocation inside the caller's transaction.
pub async fn record<C: GenericClient>(db: &C, r: &Revocation) -> Result<(), AppError> {
    let not_before = r
        .not_before_ms
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    let expires = DateTime::<Utc>::from_timestamp(r.expires_at, 0)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("bad expiry")))?;
    db.execute(
        "INSERT INTO access_revocations (jti, user_id, not_before, expires_at) VALUES ($1, $2, $3, $4)",
        &[&r.jti, &r.user_id.map(|u| u.as_uuid()), &not_before, &expires],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// After the commit: applies locally and tells the other replicas.
pub async fn announce(revocations: &Revocations, bus: Option<&Bus>, r: &Revocation) {
    revocations.apply(r);
    if let Some(bus) = bus {
        match serde_json::to_vec(r) {
            Ok(body) => {
                if let Err(e) = bus.broadcast(SUBJECT, body.into()).await {
                    // The periodic reload covers a lost announcement.
                    tracing::warn!(error = %e, "revocation not announced; replicas reload it shortly");
                }
            }
            Err(e) => tracing::warn!(error = %e, "revocation not announced"),
        }
    }
}

/// Keeps the copy current: announcements as they come, and a full reload
/// every `every`.
pub async fn sync_loop(
    revocations: Revocations,
    pool: deadpool_postgres::Pool,
    bus: Bus,
    every: Duration,
    token: CancellationToken,
) {
    use futures_util::StreamExt;
    let mut sub = None;
    let mut tick = tokio::time::interval(every);
    loop {
        if sub.is_none() {
            sub = bus.subscribe(SUBJECT).await.ok();
        }
        let next = async {
            match sub.as_mut() {
                Some(s) => s.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {
                match platform::db::conn(&pool).await {
                    Ok(c) => {
                        if let Err(e) = revocations.reload(&c).await {
                            tracing::debug!(error = %e, "revocation reload failed");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "revocation reload failed"),
                }
            }
            m = next => match m {
                Some(msg) => {
                    if bus.verify_broadcast(&msg, &[crate::config::SERVICE]).is_ok() {
                        if let Ok(r) = serde_json::from_slice::<Revocation>(&msg.payload) {
                            revocations.apply(&r);
                        }
                    } else {
                        tracing::warn!("unsigned revocation announcement ignored");
                    }
                }
                None => sub = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_users_are_revoked() {
        let r = Revocations::default();
        let (u, other) = (UserId::new(), UserId::new());
        let jti = Uuid::now_v7();
        assert!(!r.is_revoked(u, Some(jti), 1000));
        r.apply(&Revocation {
            jti: Some(jti),
            user_id: None,
            not_before_ms: None,
            expires_at: 0,
        });
        assert!(r.is_revoked(u, Some(jti), 1000));
        assert!(!r.is_revoked(u, Some(Uuid::now_v7()), 1000));
        r.apply(&Revocation {
            jti: None,
            user_id: Some(u),
            not_before_ms: Some(5000),
            expires_at: 0,
        });
        assert!(r.is_revoked(u, None, 4999));
        assert!(!r.is_revoked(u, None, 5000));
        assert!(!r.is_revoked(other, None, 4999));
    }
}
