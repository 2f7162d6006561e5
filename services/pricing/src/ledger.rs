//! The double-entry credit ledger.
//!
//! * Accounts: per user a `wallet` (available credits) and a `held` account
//!   (credits reserved by active holds); system accounts `revenue`,
//!   `promotions`, `purchases`, `refunds`, `adjustments`.
//! * A movement is one `transactions` row (unique idempotency key, hash of
//!   the request, the serialized first result) and a set of `entries` whose
//!   amounts sum to zero (a deferred constraint trigger checks it at commit).
//! * User balances are materialized with a conditional
//!   `UPDATE ... SET balance = balance + d WHERE balance + d >= 0`; a failed
//!   update aborts the movement with `insufficient_credits`, so concurrent
//!   holds serialize on the wallet row and a wallet never goes negative.
//! * A hold moves credits wallet -> held; capture moves the captured part
//!   held -> revenue and the rest held -> wallet; release and expiry move it
//!   all back. So balance = wallet + held, available = wallet.
//! * Every amount is at most [`MAX_BALANCE`] and so is every user's balance
//!   (wallet + held): a grant past it is refused before anything is written
//!   ([`balance_limit`]), so no sum here or in the database can overflow.

use crate::events;
use crate::input::LedgerCursor;
use crate::limits::{Credits, CreditsOrZero, HoldTtl, MAX_BALANCE, MAX_IDEMPOTENCY_KEY};
use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use common::{ErrorCode, EventEnvelope, HoldId, QuoteId, UserId};
use deadpool_postgres::Transaction;
use platform::db::q;
use platform::input::Line;
use platform::nats::CallContext;
use platform::AppError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Wallet,
    Held,
    Revenue,
    Promotions,
    Purchases,
    Refunds,
    Adjustments,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Wallet => "wallet",
            Kind::Held => "held",
            Kind::Revenue => "revenue",
            Kind::Promotions => "promotions",
            Kind::Purchases => "purchases",
            Kind::Refunds => "refunds",
            Kind::Adjustments => "adjustments",
        }
    }
    fn is_user(self) -> bool {
        matches!(self, Kind::Wallet | Kind::Held)
    }
}

/// One side of a movement.
#[derive(Clone, Copy, Debug)]
pub struct Leg {
    pub account: i64,
    pub materialized: bool,
    pub amount: i64,
}

/// The account id of a user's wallet or held account (created on first use).
pub async fn user_account(tx: &Transaction<'_>, user: UserId, kind: Kind) -> Result<i64, AppError> {
    let sel = "SELECT id FROM accounts WHERE user_id = $1 AND kind = $2";
    if let Some(r) = tx
        .query_opt(sel, &[&user.as_uuid(), &kind.as_str()])
        .await
        .map_err(q)?
    {
        return Ok(r.get(0));
    }
    tx.execute(
        "INSERT INTO accounts (kind, user_id) VALUES ($1, $2)
         ON CONFLICT (user_id, kind) WHERE user_id IS NOT NULL DO NOTHING",
        &[&kind.as_str(), &user.as_uuid()],
    )
    .await
    .map_err(q)?;
    let r = tx
        .query_one(sel, &[&user.as_uuid(), &kind.as_str()])
        .await
        .map_err(q)?;
    Ok(r.get(0))
}

pub async fn system_account(tx: &Transaction<'_>, kind: Kind) -> Result<i64, AppError> {
    let r = tx
        .query_one(
            "SELECT id FROM accounts WHERE user_id IS NULL AND kind = $1",
            &[&kind.as_str()],
        )
        .await
        .map_err(q)?;
    Ok(r.get(0))
}

pub async fn leg(
    tx: &Transaction<'_>,
    user: Option<UserId>,
    kind: Kind,
    amount: i64,
) -> Result<Leg, AppError> {
    let account = match (kind.is_user(), user) {
        (true, Some(u)) => user_account(tx, u, kind).await?,
        (true, None) => {
            return Err(AppError::internal(anyhow::anyhow!(
                "a user account needs a user"
            )))
        }
        (false, _) => system_account(tx, kind).await?,
    };
    Ok(Leg {
        account,
        materialized: kind.is_user(),
        amount,
    })
}

/// Writes the entries of a movement and updates the materialized balances.
/// Fails with `insufficient_credits` (and the caller rolls back) when a user
/// account would go below zero.
#[tracing::instrument(skip_all, fields(txn = %txn))]
pub async fn post(tx: &Transaction<'_>, txn: Uuid, legs: &[Leg]) -> Result<(), AppError> {
    if legs
        .iter()
        .any(|l| l.amount.unsigned_abs() > MAX_BALANCE.unsigned_abs())
    {
        return Err(AppError::validation(
            "amount",
            format!("must be at most {MAX_BALANCE} credits"),
        ));
    }
    let sum: i128 = legs.iter().map(|l| i128::from(l.amount)).sum();
    if sum != 0 {
        return Err(AppError::internal(anyhow::anyhow!(
            "unbalanced movement {txn}: {legs:?}"
        )));
    }
    let mut legs: Vec<Leg> = legs.iter().copied().filter(|l| l.amount != 0).collect();
    // A consistent lock order across movements: no deadlocks.
    legs.sort_by_key(|l| l.account);
    for l in legs.iter().filter(|l| l.materialized) {
        // Written so that neither side can overflow: |amount| <= MAX_BALANCE.
        let n = tx
            .execute(
                "UPDATE accounts SET balance = balance + $2::bigint
                 WHERE id = $1 AND balance >= -$2::bigint AND ($2::bigint < 0 OR balance <= $3::bigint - $2::bigint)",
                &[&l.account, &l.amount, &MAX_BALANCE],
            )
            .await
            .map_err(q)?;
        if n != 1 {
            return Err(if l.amount > 0 {
                balance_limit()
            } else {
                AppError::new(ErrorCode::InsufficientCredits, "not enough credits")
            });
        }
    }
    if legs.is_empty() {
        return Ok(());
    }
    let accounts: Vec<i64> = legs.iter().map(|l| l.account).collect();
    let amounts: Vec<i64> = legs.iter().map(|l| l.amount).collect();
    tx.execute(
        "INSERT INTO entries (transaction_id, account_id, amount)
         SELECT $1, a, m FROM unnest($2::bigint[], $3::bigint[]) AS t(a, m)",
        &[&txn, &accounts, &amounts],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// The outcome of claiming an idempotency key.
pub enum Claim<T> {
    /// First use: do the work under this transaction id, then [`finish`].
    New(Uuid),
    /// Already done: the first result.
    Done(T),
}

pub fn request_hash<T: Serialize>(req: &T) -> String {
    let bytes = serde_json::to_vec(req).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Claims `key` inside `tx`. A concurrent claim of the same key waits for
/// the first to commit (or roll back) on the unique index.
pub async fn claim<T: DeserializeOwned>(
    tx: &Transaction<'_>,
    key: &str,
    kind: &str,
    user: Option<UserId>,
    hash: &str,
    memo: Option<&str>,
) -> Result<Claim<T>, AppError> {
    let id = Uuid::now_v7();
    let user = user.map(|u| u.as_uuid());
    let inserted = tx
        .query_opt(
            "INSERT INTO transactions (id, idempotency_key, kind, user_id, request_hash, memo)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            &[&id, &key, &kind, &user, &hash, &memo],
        )
        .await
        .map_err(q)?;
    if inserted.is_some() {
        return Ok(Claim::New(id));
    }
    let row = tx
        .query_one(
            "SELECT request_hash, result FROM transactions WHERE idempotency_key = $1",
            &[&key],
        )
        .await
        .map_err(q)?;
    let stored_hash: String = row.get(0);
    if stored_hash != hash {
        return Err(AppError::new(
            ErrorCode::IdempotencyConflict,
            "this idempotency key was used for a different request",
        ));
    }
    let result: Option<serde_json::Value> = row.get(1);
    let result = result.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("transaction {key} has no stored result"))
    })?;
    serde_json::from_value(result)
        .map(Claim::Done)
        .map_err(AppError::internal)
}

pub async fn finish<T: Serialize>(
    tx: &Transaction<'_>,
    txn: Uuid,
    result: &T,
) -> Result<(), AppError> {
    let v = serde_json::to_value(result).map_err(AppError::internal)?;
    tx.execute(
        "UPDATE transactions SET result = $2 WHERE id = $1",
        &[&txn, &v],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// JSON Schema pattern of an idempotency key: printable ASCII (what an
/// HTTP header carries as text), not blank.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[ -~]*[!-~][ -~]*$";

/// The `Idempotency-Key` of a request that moves credits: 1 to 200
/// printable ASCII characters, not blank (trimmed). Missing: 400; invalid:
/// 422 naming `Idempotency-Key`.
pub fn require_key(key: Option<&str>) -> Result<&str, AppError> {
    const FIELD: &str = common::subjects::headers::IDEMPOTENCY_KEY;
    match key.map(str::trim) {
        Some(k) => {
            platform::input::check_line(FIELD, k, MAX_IDEMPOTENCY_KEY)?;
            if k.is_empty() || !k.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return Err(AppError::validation(
                    FIELD,
                    format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
                ));
            }
            Ok(k)
        }
        None => Err(AppError::new(
            ErrorCode::BadRequest,
            "an Idempotency-Key is required for requests that move credits",
        )
        .with_field(FIELD)),
    }
}

/// The refusal of a grant that would take a balance past [`MAX_BALANCE`].
pub fn balance_limit() -> AppError {
    AppError::validation(
        "amount",
        format!("would take the balance past the maximum of {MAX_BALANCE} credits"),
    )
}

/// How many credits the user may still receive (`MAX_BALANCE` - wallet -
/// held), read without locking.
pub async fn room<C: deadpool_postgres::GenericClient>(
    c: &C,
    user: UserId,
) -> Result<i64, AppError> {
    let total: i64 = c
        .query_one(
            "SELECT LEAST(COALESCE(sum(balance), 0), 9223372036854775807)::bigint
             FROM accounts WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await
        .map_err(q)?
        .get(0);
    Ok(MAX_BALANCE.saturating_sub(total).max(0))
}

/// [`room`] with the wallet locked: while it is, the user's total can only
/// go down (every movement that adds to the wallet or to held touches the
/// wallet), so a grant checked here cannot race past the maximum.
async fn room_locked(tx: &Transaction<'_>, user: UserId) -> Result<i64, AppError> {
    let wallet = user_account(tx, user, Kind::Wallet).await?;
    tx.execute(
        "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
        &[&wallet],
    )
    .await
    .map_err(q)?;
    room(tx, user).await
}

// ---------------------------------------------------------------- balances

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Balance {
    /// wallet + held
    pub balance: i64,
    pub held: i64,
    pub available: i64,
    /// Credits still owed for refunded payments whose credits had been
    /// spent; taken from the user's next grants (see [`grant_in`]).
    #[serde(default)]
    pub owed: i64,
}

pub async fn balance_of<C: deadpool_postgres::GenericClient>(
    c: &C,
    user: UserId,
) -> Result<Balance, AppError> {
    let rows = c
        .query(
            "SELECT kind, balance FROM accounts WHERE user_id = $1
             UNION ALL
             SELECT 'owed', COALESCE(sum(credits_owed), 0)::bigint FROM payments
             WHERE user_id = $1 AND credits_owed > 0",
            &[&user.as_uuid()],
        )
        .await
        .map_err(q)?;
    let mut b = Balance::default();
    for r in rows {
        let kind: String = r.get(0);
        let v: i64 = r.get(1);
        match kind.as_str() {
            "wallet" => b.available = v,
            "held" => b.held = v,
            "owed" => b.owed = v,
            _ => {}
        }
    }
    b.balance = b.available.saturating_add(b.held);
    Ok(b)
}

/// Enqueues `credits.low` when a movement took the wallet from at or above
/// the threshold to below it.
async fn low_balance_event(
    st: &AppState,
    tx: &Transaction<'_>,
    ctx: &CallContext,
    user: UserId,
    before: i64,
    after: i64,
) -> Result<(), AppError> {
    let threshold = st.cfg.credits.low_balance_threshold;
    if before >= threshold && after < threshold {
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_CREDITS_LOW,
            1,
            events::CreditsLow {
                user_id: user,
                available: after,
                threshold,
            },
        );
        platform::outbox::enqueue(tx, &e, ctx).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- grants

/// A grant or debit result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Movement {
    #[schema(value_type = String, format = Uuid)]
    pub transaction_id: Uuid,
    pub user_id: UserId,
    pub amount: i64,
    pub kind: String,
    /// The wallet right after this operation (after any debt collection).
    pub available: i64,
    /// Of `amount`, what went straight to credits the user owed
    /// (`debt_collection` movements of their own).
    #[serde(default)]
    pub collected: i64,
}

/// Moves `amount` (> 0) from the system account `source` into the user's
/// wallet (or, with a negative amount, from the wallet to `source`), under
/// `key`, inside the caller's transaction. Returns the first result when
/// the key was used before (and `false`).
///
/// A grant (amount > 0) first pays what the user owes for refunded
/// payments (`payments.credits_owed`, oldest first): one `debt_collection`
/// movement per payment, keyed `collect:<key>:<session>`, never more than
/// `amount` in total, in the same transaction. Lock order: the owed
/// `payments` rows, then the accounts (as the refund path).
#[allow(clippy::too_many_arguments)]
pub async fn grant_in(
    st: &AppState,
    tx: &Transaction<'_>,
    ctx: &CallContext,
    key: &str,
    kind: &str,
    user: UserId,
    amount: i64,
    source: Kind,
    memo: Option<&str>,
    hash: &str,
) -> Result<(Movement, bool), AppError> {
    if amount <= 0 {
        return move_credits(st, tx, ctx, key, kind, user, amount, source, memo, hash).await;
    }
    let txn = match claim::<Movement>(tx, key, kind, Some(user), hash, memo).await? {
        Claim::Done(m) => return Ok((m, false)),
        Claim::New(id) => id,
    };
    let debts = lock_debts(tx, user).await?;
    if amount > room_locked(tx, user).await? {
        return Err(balance_limit());
    }
    let before = balance_of(tx, user).await?.available;
    let legs = [
        leg(tx, None, source, -amount).await?,
        leg(tx, Some(user), Kind::Wallet, amount).await?,
    ];
    post(tx, txn, &legs).await?;
    let collected = collect_debts(st, tx, ctx, user, key, amount, &debts).await?;
    let m = Movement {
        transaction_id: txn,
        user_id: user,
        amount,
        kind: kind.to_owned(),
        available: before + amount - collected,
        collected,
    };
    finish(tx, txn, &m).await?;
    let e = EventEnvelope::new(
        crate::config::SERVICE,
        common::subjects::pricing::EVT_CREDITS_GRANTED,
        1,
        events::CreditsGranted {
            user_id: user,
            amount,
            reason: kind.to_owned(),
            transaction_id: txn,
            available: m.available,
        },
    );
    platform::outbox::enqueue(tx, &e, ctx).await?;
    Ok((m, true))
}

/// One movement between a system account and the user's wallet, with no
/// debt collection (a debit, a refund reversal, a collection itself).
#[allow(clippy::too_many_arguments)]
pub async fn move_credits(
    st: &AppState,
    tx: &Transaction<'_>,
    ctx: &CallContext,
    key: &str,
    kind: &str,
    user: UserId,
    amount: i64,
    source: Kind,
    memo: Option<&str>,
    hash: &str,
) -> Result<(Movement, bool), AppError> {
    let txn = match claim::<Movement>(tx, key, kind, Some(user), hash, memo).await? {
        Claim::Done(m) => return Ok((m, false)),
        Claim::New(id) => id,
    };
    let before = balance_of(tx, user).await?.available;
    let counter = amount
        .checked_neg()
        .ok_or_else(|| AppError::validation("amount", "is out of range"))?;
    let legs = [
        leg(tx, None, source, counter).await?,
        leg(tx, Some(user), Kind::Wallet, amount).await?,
    ];
    post(tx, txn, &legs).await?;
    let m = Movement {
        transaction_id: txn,
        user_id: user,
        amount,
        kind: kind.to_owned(),
        available: before + amount,
        collected: 0,
    };
    finish(tx, txn, &m).await?;
    if amount > 0 {
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_CREDITS_GRANTED,
            1,
            events::CreditsGranted {
                user_id: user,
                amount,
                reason: kind.to_owned(),
                transaction_id: txn,
                available: m.available,
            },
        );
        platform::outbox::enqueue(tx, &e, ctx).await?;
    } else {
        low_balance_event(st, tx, ctx, user, before, m.available).await?;
    }
    Ok((m, true))
}

/// The user's payments with credits owed, oldest first, locked.
async fn lock_debts(tx: &Transaction<'_>, user: UserId) -> Result<Vec<(String, i64)>, AppError> {
    let rows = tx
        .query(
            "SELECT session_id, credits_owed FROM payments
             WHERE user_id = $1 AND credits_owed > 0
             ORDER BY created_at, session_id FOR UPDATE",
            &[&user.as_uuid()],
        )
        .await
        .map_err(q)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Takes up to `granted` credits (just put in the wallet) back for what the
/// user owes, one `debt_collection` movement per payment. Returns the total.
async fn collect_debts(
    st: &AppState,
    tx: &Transaction<'_>,
    ctx: &CallContext,
    user: UserId,
    grant_key: &str,
    granted: i64,
    debts: &[(String, i64)],
) -> Result<i64, AppError> {
    let mut collected = 0i64;
    for (session, owed) in debts {
        let x = (*owed).min(granted - collected);
        if x <= 0 {
            break;
        }
        let key = format!("collect:{grant_key}:{session}");
        let memo = format!("credits owed for refunded Stripe payment {session}");
        let (_, fresh) = move_credits(
            st,
            tx,
            ctx,
            &key,
            "debt_collection",
            user,
            -x,
            Kind::Refunds,
            Some(&memo),
            &key,
        )
        .await?;
        if !fresh {
            continue;
        }
        tx.execute(
            "UPDATE payments SET credits_owed = credits_owed - $2,
                credits_collected = credits_collected + $2, updated_at = now()
             WHERE session_id = $1",
            &[session, &x],
        )
        .await
        .map_err(q)?;
        collected += x;
    }
    if collected > 0 {
        tracing::info!(%user, collected, grant = grant_key, "owed credits collected from a grant");
    }
    Ok(collected)
}

// ---------------------------------------------------------------- holds

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HoldRequest {
    /// Only an admin caller may name another user; default: the caller.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Credits to reserve; with a quote, defaults to (and must equal) the quote's total.
    #[serde(default)]
    #[schema(inline)]
    pub amount: Option<Credits>,
    #[serde(default)]
    pub quote_id: Option<QuoteId>,
    /// What the credits are for, e.g. a session id.
    #[serde(default)]
    #[schema(inline)]
    pub reference: Option<Line<200>>,
    /// Seconds until the hold expires (at most `credits.max_hold_ttl_secs`).
    #[serde(default)]
    #[schema(inline)]
    pub ttl_secs: Option<HoldTtl>,
    /// The catalog service a hold without a quote pays for (reports count
    /// it there), e.g. a live session's later minutes at the price quoted
    /// when it began. With a quote it must be the quote's service.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub service_code: Option<crate::input::ServiceCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HoldView {
    pub hold_id: HoldId,
    pub user_id: UserId,
    pub amount: i64,
    pub captured: i64,
    pub status: String,
    pub reference: Option<String>,
    pub quote_id: Option<QuoteId>,
    pub service_code: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The user's balance right after this operation.
    pub balance: Balance,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaptureRequest {
    pub hold_id: HoldId,
    /// Credits to capture (at most the held amount); the rest is released.
    #[schema(inline)]
    pub amount: CreditsOrZero,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseRequest {
    pub hold_id: HoldId,
}

pub use platform::auth::acting_user;

#[tracing::instrument(skip_all, fields(user = %principal.user_id))]
pub async fn hold(
    st: &AppState,
    ctx: &CallContext,
    principal: &common::Principal,
    key: &str,
    req: HoldRequest,
) -> Result<HoldView, AppError> {
    let user = acting_user(principal, req.user_id)?;
    let reference: Option<String> = req.reference.as_ref().map(|r| r.as_str().to_owned());
    let ttl = req
        .ttl_secs
        .map(HoldTtl::get)
        .unwrap_or(st.cfg.credits.default_hold_ttl_secs);
    if ttl <= 0 || ttl > st.cfg.credits.max_hold_ttl_secs {
        return Err(AppError::validation(
            "ttl_secs",
            format!("must be between 1 and {}", st.cfg.credits.max_hold_ttl_secs),
        ));
    }
    let hash = request_hash(&(&req, user));
    let idem = format!("hold:{user}:{key}");
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    let (amount, service_code) = match req.quote_id {
        Some(qid) => {
            let row = tx
                .query_opt(
                    "SELECT total, service_code, expires_at > now() FROM quotes WHERE id = $1 AND user_id = $2",
                    &[&qid.as_uuid(), &user.as_uuid()],
                )
                .await
                .map_err(q)?
                .ok_or_else(|| AppError::not_found("quote"))?;
            let total: i64 = row.get(0);
            let live: bool = row.get(2);
            if !live {
                return Err(AppError::new(
                    ErrorCode::QuoteExpired,
                    "the quote has expired; ask for a new one",
                ));
            }
            if !(1..=MAX_BALANCE).contains(&total) {
                // Only a quote made before prices had a maximum can be this large.
                return Err(AppError::validation(
                    "quote_id",
                    format!("the quoted total must be between 1 and {MAX_BALANCE} credits"),
                ));
            }
            if req.amount.is_some_and(|a| a.get() != total) {
                return Err(AppError::validation(
                    "amount",
                    "must equal the quoted total",
                ));
            }
            let code: String = row.get(1);
            if req
                .service_code
                .as_ref()
                .is_some_and(|c| c.as_str() != code)
            {
                return Err(AppError::validation(
                    "service_code",
                    "must be the quote's service",
                ));
            }
            (total, Some(code))
        }
        None => {
            let amount = req
                .amount
                .map(Credits::get)
                .ok_or_else(|| AppError::validation("amount", "amount or quote_id is required"))?;
            let code = match &req.service_code {
                None => None,
                Some(c) => {
                    tx.query_opt("SELECT 1 FROM services WHERE code = $1", &[&c.as_str()])
                        .await
                        .map_err(q)?
                        .ok_or_else(|| {
                            AppError::validation("service_code", "is not a catalog service")
                        })?;
                    Some(c.as_str().to_owned())
                }
            };
            (amount, code)
        }
    };
    if amount <= 0 {
        return Err(AppError::validation("amount", "must be greater than 0"));
    }
    let txn = match claim::<HoldView>(&tx, &idem, "hold", Some(user), &hash, reference.as_deref())
        .await?
    {
        Claim::Done(v) => return Ok(v),
        Claim::New(id) => id,
    };
    let legs = [
        leg(&tx, Some(user), Kind::Wallet, -amount).await?,
        leg(&tx, Some(user), Kind::Held, amount).await?,
    ];
    post(&tx, txn, &legs).await?;
    let hold_id = HoldId::new();
    let expires_at = Utc::now() + Duration::seconds(ttl);
    tx.execute(
        "INSERT INTO holds (id, user_id, amount, status, reference, quote_id, service_code, expires_at)
         VALUES ($1, $2, $3, 'active', $4, $5, $6, $7)",
        &[
            &hold_id.as_uuid(),
            &user.as_uuid(),
            &amount,
            &reference,
            &req.quote_id.map(|x| x.as_uuid()),
            &service_code,
            &expires_at,
        ],
    )
    .await
    .map_err(q)?;
    let balance = balance_of(&tx, user).await?;
    low_balance_event(
        st,
        &tx,
        ctx,
        user,
        balance.available + amount,
        balance.available,
    )
    .await?;
    let view = HoldView {
        hold_id,
        user_id: user,
        amount,
        captured: 0,
        status: "active".into(),
        reference,
        quote_id: req.quote_id,
        service_code,
        expires_at,
        balance,
    };
    finish(&tx, txn, &view).await?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(view)
}

struct HoldRow {
    id: HoldId,
    user: UserId,
    amount: i64,
    status: String,
    expired: bool,
    reference: Option<String>,
    quote_id: Option<QuoteId>,
    service_code: Option<String>,
    expires_at: DateTime<Utc>,
}

async fn lock_hold(
    tx: &Transaction<'_>,
    principal: &common::Principal,
    id: HoldId,
) -> Result<HoldRow, AppError> {
    let row = tx
        .query_opt(
            "SELECT user_id, amount, status, expires_at <= now(), reference, quote_id, service_code, expires_at
             FROM holds WHERE id = $1 FOR UPDATE",
            &[&id.as_uuid()],
        )
        .await
        .map_err(q)?;
    let not_found = || AppError::new(ErrorCode::HoldNotFound, "no such hold");
    let row = row.ok_or_else(not_found)?;
    let user = UserId(row.get(0));
    if user != principal.user_id && !principal.is_admin() {
        return Err(not_found());
    }
    Ok(HoldRow {
        id,
        user,
        amount: row.get(1),
        status: row.get(2),
        expired: row.get(3),
        reference: row.get(4),
        quote_id: row.get::<_, Option<Uuid>>(5).map(QuoteId),
        service_code: row.get(6),
        expires_at: row.get(7),
    })
}

fn check_active(h: &HoldRow) -> Result<(), AppError> {
    match h.status.as_str() {
        "active" if !h.expired => Ok(()),
        "active" | "expired" => Err(AppError::new(
            ErrorCode::HoldExpired,
            "the hold has expired and its credits were released",
        )),
        other => Err(AppError::new(
            ErrorCode::Conflict,
            format!("the hold is already {other}"),
        )),
    }
}

#[tracing::instrument(skip_all, fields(user = %principal.user_id, hold = %req.hold_id))]
pub async fn capture(
    st: &AppState,
    ctx: &CallContext,
    principal: &common::Principal,
    key: &str,
    req: CaptureRequest,
) -> Result<HoldView, AppError> {
    let hash = request_hash(&req);
    let idem = format!("capture:{}:{key}", principal.user_id);
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    let txn = match claim::<HoldView>(&tx, &idem, "capture", Some(principal.user_id), &hash, None)
        .await?
    {
        Claim::Done(v) => return Ok(v),
        Claim::New(id) => id,
    };
    let h = lock_hold(&tx, principal, req.hold_id).await?;
    check_active(&h)?;
    let amount = req.amount.get();
    if amount > h.amount {
        return Err(AppError::new(
            ErrorCode::AmountExceedsHold,
            format!("at most {} credits are held", h.amount),
        ));
    }
    let before = balance_of(&tx, h.user).await?.available;
    let legs = [
        leg(&tx, Some(h.user), Kind::Held, -h.amount).await?,
        leg(&tx, None, Kind::Revenue, amount).await?,
        leg(&tx, Some(h.user), Kind::Wallet, h.amount - amount).await?,
    ];
    post(&tx, txn, &legs).await?;
    tx.execute(
        "UPDATE holds SET status = 'captured', captured = $2, settled_at = now() WHERE id = $1",
        &[&h.id.as_uuid(), &amount],
    )
    .await
    .map_err(q)?;
    tx.execute(
        "UPDATE transactions SET user_id = $2 WHERE id = $1",
        &[&txn, &h.user.as_uuid()],
    )
    .await
    .map_err(q)?;
    let balance = balance_of(&tx, h.user).await?;
    if amount > 0 {
        let e = EventEnvelope::new(
            crate::config::SERVICE,
            common::subjects::pricing::EVT_CREDITS_SPENT,
            1,
            events::CreditsSpent {
                user_id: h.user,
                amount,
                hold_id: h.id,
                reference: h.reference.clone(),
                service_code: h.service_code.clone(),
                transaction_id: txn,
                available: balance.available,
            },
        );
        platform::outbox::enqueue(&tx, &e, ctx).await?;
    }
    low_balance_event(st, &tx, ctx, h.user, before, balance.available).await?;
    let view = HoldView {
        hold_id: h.id,
        user_id: h.user,
        amount: h.amount,
        captured: amount,
        status: "captured".into(),
        reference: h.reference,
        quote_id: h.quote_id,
        service_code: h.service_code,
        expires_at: h.expires_at,
        balance,
    };
    finish(&tx, txn, &view).await?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(view)
}

#[tracing::instrument(skip_all, fields(user = %principal.user_id, hold = %req.hold_id))]
pub async fn release(
    st: &AppState,
    principal: &common::Principal,
    key: &str,
    req: ReleaseRequest,
) -> Result<HoldView, AppError> {
    let hash = request_hash(&req);
    let idem = format!("release:{}:{key}", principal.user_id);
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    let txn = match claim::<HoldView>(&tx, &idem, "release", Some(principal.user_id), &hash, None)
        .await?
    {
        Claim::Done(v) => return Ok(v),
        Claim::New(id) => id,
    };
    let h = lock_hold(&tx, principal, req.hold_id).await?;
    check_active(&h)?;
    let view = release_locked(&tx, txn, h, "released").await?;
    finish(&tx, txn, &view).await?;
    tx.commit().await.map_err(q)?;
    Ok(view)
}

async fn release_locked(
    tx: &Transaction<'_>,
    txn: Uuid,
    h: HoldRow,
    status: &str,
) -> Result<HoldView, AppError> {
    let legs = [
        leg(tx, Some(h.user), Kind::Held, -h.amount).await?,
        leg(tx, Some(h.user), Kind::Wallet, h.amount).await?,
    ];
    post(tx, txn, &legs).await?;
    tx.execute(
        "UPDATE holds SET status = $2, settled_at = now() WHERE id = $1",
        &[&h.id.as_uuid(), &status],
    )
    .await
    .map_err(q)?;
    tx.execute(
        "UPDATE transactions SET user_id = $2 WHERE id = $1",
        &[&txn, &h.user.as_uuid()],
    )
    .await
    .map_err(q)?;
    let balance = balance_of(tx, h.user).await?;
    Ok(HoldView {
        hold_id: h.id,
        user_id: h.user,
        amount: h.amount,
        captured: 0,
        status: status.to_owned(),
        reference: h.reference,
        quote_id: h.quote_id,
        service_code: h.service_code,
        expires_at: h.expires_at,
        balance,
    })
}

/// Releases expired holds, one transaction each. Returns how many.
#[tracing::instrument(skip_all)]
pub async fn sweep_expired(st: &AppState) -> Result<usize, AppError> {
    let mut n = 0;
    loop {
        let mut client = platform::db::conn(&st.pool).await?;
        let tx = client.transaction().await.map_err(q)?;
        let row = tx
            .query_opt(
                "SELECT id, user_id FROM holds WHERE status = 'active' AND expires_at <= now()
                 ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await
            .map_err(q)?;
        let Some(row) = row else { return Ok(n) };
        let id = HoldId(row.get(0));
        let user = UserId(row.get(1));
        let system = common::Principal {
            user_id: user,
            roles: vec![common::Role::Admin],
        };
        let key = format!("expire:{id}");
        let txn = match claim::<HoldView>(&tx, &key, "expire", Some(user), &key, None).await? {
            Claim::Done(_) => return Ok(n),
            Claim::New(t) => t,
        };
        let h = lock_hold(&tx, &system, id).await?;
        let view = release_locked(&tx, txn, h, "expired").await?;
        finish(&tx, txn, &view).await?;
        tx.commit().await.map_err(q)?;
        n += 1;
    }
}

pub async fn sweeper(st: AppState, token: tokio_util::sync::CancellationToken) {
    let every = std::time::Duration::from_millis(st.cfg.credits.sweep_interval_ms);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep_expired(&st).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "expired holds released"),
            Err(e) => tracing::warn!(error = ?e, "hold sweep failed; will retry"),
        }
    }
}

// ---------------------------------------------------------------- history

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerItem {
    pub entry_id: i64,
    #[schema(value_type = String, format = Uuid)]
    pub transaction_id: Uuid,
    pub kind: String,
    /// "wallet" or "held"
    pub account: String,
    pub amount: i64,
    pub memo: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerItem>,
    pub next_cursor: Option<String>,
}

pub async fn history(
    st: &AppState,
    user: UserId,
    cursor: Option<&LedgerCursor>,
    limit: i64,
) -> Result<LedgerPage, AppError> {
    let cursor: i64 = cursor.map(LedgerCursor::entry_id).unwrap_or(i64::MAX);
    let limit = limit.clamp(1, crate::limits::MAX_PAGE);
    let client = platform::db::conn(&st.pool).await?;
    let rows = client
        .query(
            "SELECT e.id, t.id, t.kind, a.kind, e.amount, t.memo, e.created_at
             FROM entries e JOIN accounts a ON a.id = e.account_id JOIN transactions t ON t.id = e.transaction_id
             WHERE a.user_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3",
            &[&user.as_uuid(), &cursor, &(limit + 1)],
        )
        .await
        .map_err(q)?;
    let mut items: Vec<LedgerItem> = rows
        .iter()
        .map(|r| LedgerItem {
            entry_id: r.get(0),
            transaction_id: r.get(1),
            kind: r.get(2),
            account: r.get(3),
            amount: r.get(4),
            memo: r.get(5),
            created_at: r.get(6),
        })
        .collect();
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(0));
        items.last().map(|i| i.entry_id.to_string())
    } else {
        None
    };
    Ok(LedgerPage { items, next_cursor })
}
