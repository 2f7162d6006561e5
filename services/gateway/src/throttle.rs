//! Throttling of password guesses and sign-ups, in the database so every
//! gateway replica sees the same counters.
//!
//! An attempt is counted *before* the password is checked, in one atomic
//! upsert per key: concurrent guesses serialise on the key's row, so with a
//! limit of 5 the sixth concurrent guess is refused without any hashing.
//! Exceeding the limit locks the key for the lockout period: 429 with
//! `Retry-After`. A successful login clears the account's counter and gives
//! the address its attempt back, so only failures count against addresses.

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

pub fn register_account_key(email_normalized: &str) -> String {
    format!("reg-acct:{email_normalized}")
}

pub fn register_address_key(addr: &str) -> String {
    format!("reg-addr:{addr}")
}

pub fn password_change_key(user: &common::UserId) -> String {
    format!("pwd:{user}")
}

/// A counter: its key and how many attempts its window allows.
pub struct Limit {
    pub key: String,
    pub max: i32,
}

/// The window and lockout a group of limits shares.
pub struct Window {
    pub window_secs: i64,
    pub lockout_secs: i64,
    pub message: &'static str,
}

fn refused(wait_secs: i64, message: &str) -> AppError {
    AppError::new(ErrorCode::TooManyRequests, message.to_owned())
        .with_retry_after(u64::try_from(wait_secs.max(1)).unwrap_or(1))
}

/// Takes one attempt from every limit, atomically; 429 when any is locked
/// or over its limit (which then locks it).
pub async fn take_attempt<C: GenericClient>(
    db: &C,
    window: &Window,
    limits: &[Limit],
) -> Result<(), AppError> {
    // One statement, keys in a fixed order (no deadlock between two
    // statements taking the same keys).
    let mut limits: Vec<&Limit> = limits.iter().collect();
    limits.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    let rows = db
        .query(
            "INSERT INTO login_throttle AS t (key, window_start, failures)
             SELECT k, now(), 1 FROM unnest($1::text[]) AS k ORDER BY k
             ON CONFLICT (key) DO UPDATE SET
               window_start = CASE
                   WHEN t.locked_until > now() THEN t.window_start
                   WHEN t.window_start < now() - make_interval(secs => $2::float8) THEN now()
                   ELSE t.window_start END,
               failures = CASE
                   WHEN t.locked_until > now() THEN t.failures
                   WHEN t.window_start < now() - make_interval(secs => $2::float8) THEN 1
                   ELSE t.failures + 1 END
             RETURNING key, failures,
               COALESCE(CEIL(EXTRACT(EPOCH FROM locked_until - now())), 0)::bigint AS locked_for",
            &[&keys, &(window.window_secs as f64)],
        )
        .await
        .map_err(q)?;
    let mut over: Vec<&str> = Vec::new();
    for row in &rows {
        let key: &str = row.get(0);
        let failures: i32 = row.get(1);
        let locked_for: i64 = row.get(2);
        if locked_for > 0 {
            return Err(refused(locked_for, window.message));
        }
        let max = limits
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.max)
            .unwrap_or(i32::MAX);
        if failures > max {
            over.push(key);
        }
    }
    if !over.is_empty() {
        db.execute(
            "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2::float8)
             WHERE key = ANY($1)",
            &[&over, &(window.lockout_secs as f64)],
        )
        .await
        .map_err(q)?;
        return Err(refused(window.lockout_secs, window.message));
    }
    Ok(())
}

/// A successful login clears the account's counter.
pub async fn clear<C: GenericClient>(db: &C, key: &str) -> Result<(), AppError> {
    db.execute(
        "DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())",
        &[&key],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// Gives back one attempt taken from `key` (a guess that turned out right).
pub async fn give_back<C: GenericClient>(db: &C, key: &str) -> Result<(), AppError> {
    db.execute(
        "UPDATE login_throttle SET failures = greatest(failures - 1, 0)
         WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())",
        &[&key],
    )
    .await
    .map_err(q)?;
    Ok(())
}
