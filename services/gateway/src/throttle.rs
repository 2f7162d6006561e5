//! Login throttling per account and per client address, in the database so
//! every gateway replica sees the same counters. After `max` failures in the
//! window a key is locked for the lockout period: 429 with `Retry-After`.

use crate::config::ThrottleConfig;
use common::ErrorCode;
use deadpool_postgres::GenericClient;
use platform::db::q;
use platform::AppError;

pub fn account_key(email_normalized: &str) -> String {
    format!("acct:{email_normalized}")
}

pub fn address_key(addr: &str) -> String {
    format!("addr:{addr}")
}

/// Fails with 429 when any key is locked.
pub async fn check<C: GenericClient>(db: &C, keys: &[String]) -> Result<(), AppError> {
    let row = db
        .query_one(
            "SELECT COALESCE(CEIL(EXTRACT(EPOCH FROM max(locked_until) - now())), 0)::bigint
             FROM login_throttle WHERE key = ANY($1) AND locked_until > now()",
            &[&keys],
        )
        .await
        .map_err(q)?;
    let wait: i64 = row.get(0);
    if wait > 0 {
        return Err(AppError::new(
            ErrorCode::TooManyRequests,
            "too many failed logins; try again later",
        )
        .with_retry_after(u64::try_from(wait).unwrap_or(1)));
    }
    Ok(())
}

/// Counts a failure against `key`, locking it when it reaches `max`.
pub async fn record_failure<C: GenericClient>(
    db: &C,
    cfg: &ThrottleConfig,
    key: &str,
    max: i32,
) -> Result<(), AppError> {
    db.execute(
        "INSERT INTO login_throttle AS t (key, window_start, failures)
         VALUES ($1, now(), 1)
         ON CONFLICT (key) DO UPDATE SET
           window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2::float8)
                               THEN now() ELSE t.window_start END,
           failures = CASE WHEN t.window_start < now() - make_interval(secs => $2::float8)
                           THEN 1 ELSE t.failures + 1 END",
        &[&key, &(cfg.window_secs as f64)],
    )
    .await
    .map_err(q)?;
    db.execute(
        "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $3::float8), failures = 0,
                window_start = now()
         WHERE key = $1 AND failures >= $2",
        &[&key, &max, &(cfg.lockout_secs as f64)],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// A successful login clears the account's counter.
pub async fn clear<C: GenericClient>(db: &C, key: &str) -> Result<(), AppError> {
    db.execute("DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())", &[&key])
        .await
        .map_err(q)?;
    Ok(())
}
