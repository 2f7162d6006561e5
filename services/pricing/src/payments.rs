//! Stripe payments after checkout: what a verified webhook event does to a
//! `payments` row and to the ledger.
//!
//! * A paid Checkout Session buys credits only when it is one our checkout
//!   created and Stripe's `amount_total` and `currency` equal the package
//!   price recorded then. Otherwise the row becomes `mismatch` (what Stripe
//!   reported is kept beside what we expected), an admin event
//!   `evt.pricing.payment.mismatch` goes through the outbox and nothing is
//!   granted. A session we never created is recorded as `mismatch` with
//!   reason `unknown_session`; its metadata is never trusted.
//! * Only `open`/`processing` payments become `paid` (or `mismatch`): a
//!   late or repeated event never grants twice and never sets a refunded
//!   payment back to `paid`, even once its event id has been cleaned up.
//! * `charge.refunded` is stored per charge (`stripe_refunds`; the
//!   cumulative `amount_refunded`, largest value wins) and applied to the
//!   payment once it is paid, whichever arrives first. Applying brings the
//!   credits accounted for (`credits_reversed + credits_owed +
//!   credits_collected`) up to the refunded share of the credits: what the
//!   wallet holds is taken back, the rest is owed and collected from the
//!   user's next grants (`ledger::grant_in`).
//! * A paid session whose credits would take the user's balance past
//!   `limits::MAX_BALANCE` grants nothing either: it becomes `mismatch`
//!   with reason `balance_limit` (an admin settles it), and the webhook
//!   answers 200 so that Stripe does not retry forever.
//! * Events about one payment intent are serialized with a transaction-level
//!   advisory lock taken before any row lock (then the payment row, then
//!   the accounts), so a refund and its payment arriving together cannot
//!   miss each other.

use crate::events::{self, PaymentMismatch};
use crate::input::{encode_payment_cursor, PaymentCursor, PaymentStatus, Query};
use crate::ledger::{self, Kind};
use crate::limits::PageLimit;
use crate::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use common::{EventEnvelope, UserId};
use deadpool_postgres::Transaction;
use platform::auth::Admin;
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Every status a payment can have.
pub const STATUSES: &[&str] = PaymentStatus::ALL;

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// A string of a signed event that we store: one line (Stripe's ids and
/// codes are); anything else is refused before the database sees it.
fn stored_str<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, AppError> {
    match str_at(v, &[key]) {
        Some(s) => {
            platform::input::check_line(&format!("data.object.{key}"), s, 255)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

/// Stripe's metadata as reported, for admins: NUL (which `jsonb` refuses)
/// becomes U+FFFD; nothing in it is trusted or acted upon.
fn without_nul(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{FFFD}")),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Records a Stripe event id; false when it was applied before.
async fn record_event(
    tx: &Transaction<'_>,
    event_id: &str,
    event_type: &str,
) -> Result<bool, AppError> {
    let n = tx
        .execute(
            "INSERT INTO stripe_events (id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&event_id, &event_type],
        )
        .await
        .map_err(q)?;
    Ok(n == 1)
}

/// Serializes the events of one payment intent (until the transaction ends).
async fn lock_intent(tx: &Transaction<'_>, intent: &str) -> Result<(), AppError> {
    let key = format!("pricing.stripe.intent:{intent}");
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// What Stripe reported about a session.
struct Reported {
    amount: Option<i64>,
    currency: Option<String>,
    metadata: Value,
}

fn mismatch_reason(
    expected_amount: Option<i64>,
    expected_currency: Option<&str>,
    r: &Reported,
) -> Option<&'static str> {
    let amount_ok = expected_amount.is_some() && r.amount == expected_amount;
    let currency_ok = expected_currency.is_some() && r.currency.as_deref() == expected_currency;
    match (amount_ok, currency_ok) {
        (true, true) => None,
        (false, true) => Some("amount_mismatch"),
        (true, false) => Some("currency_mismatch"),
        (false, false) => Some("amount_and_currency_mismatch"),
    }
}

/// `checkout.session.completed` / `checkout.session.async_payment_succeeded`.
#[tracing::instrument(skip_all, fields(event = %event_id))]
pub async fn session_paid(
    st: &AppState,
    event_id: &str,
    event_type: &str,
    o: &Value,
) -> Result<(), AppError> {
    let session_id = stored_str(o, "id")?
        .ok_or_else(|| AppError::validation("data.object.id", "missing"))?
        .to_owned();
    let paid = str_at(o, &["payment_status"]) == Some("paid");
    let intent = stored_str(o, "payment_intent")?.map(str::to_owned);
    let currency = stored_str(o, "currency")?.map(str::to_ascii_uppercase);
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if !paid {
        tx.execute(
            "UPDATE payments SET status = 'processing', payment_intent = COALESCE($2, payment_intent), updated_at = now()
             WHERE session_id = $1 AND status = 'open'",
            &[&session_id, &intent],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
        return Ok(());
    }
    if !record_event(&tx, event_id, event_type).await? {
        return Ok(()); // this delivery was applied before
    }
    if let Some(pi) = &intent {
        lock_intent(&tx, pi).await?;
    }
    let reported = Reported {
        amount: o.get("amount_total").and_then(Value::as_i64),
        currency,
        metadata: without_nul(serde_json::json!({
            "metadata": o.get("metadata"),
            "client_reference_id": o.get("client_reference_id"),
        })),
    };
    let row = tx
        .query_opt(
            "SELECT user_id, package_id, amount_minor, currency, credits, status
             FROM payments WHERE session_id = $1 FOR UPDATE",
            &[&session_id],
        )
        .await
        .map_err(q)?;
    let Some(row) = row else {
        // Not a session our checkout created: nothing in it is trusted.
        let n = tx
            .execute(
                "INSERT INTO payments (session_id, payment_intent, status, mismatch_reason,
                    reported_amount_minor, reported_currency, reported_metadata)
                 VALUES ($1, $2, 'mismatch', 'unknown_session', $3, $4, $5)
                 ON CONFLICT (session_id) DO NOTHING",
                &[
                    &session_id,
                    &intent,
                    &reported.amount,
                    &reported.currency,
                    &reported.metadata,
                ],
            )
            .await
            .map_err(q)?;
        if n == 1 {
            let m = PaymentMismatch {
                session_id: session_id.clone(),
                reason: "unknown_session".into(),
                stripe_event_id: event_id.to_owned(),
                stripe_event_type: event_type.to_owned(),
                payment_intent: intent.clone(),
                user_id: None,
                package_id: None,
                expected_amount_minor: None,
                expected_currency: None,
                reported_amount_minor: reported.amount,
                reported_currency: reported.currency.clone(),
            };
            mismatch_event(&tx, m).await?;
        }
        tx.commit().await.map_err(q)?;
        st.outbox.notify();
        return Ok(());
    };
    let user: Option<Uuid> = row.get(0);
    let package_id: Option<Uuid> = row.get(1);
    let expected_amount: Option<i64> = row.get(2);
    let expected_currency: Option<String> = row.get(3);
    let credits: Option<i64> = row.get(4);
    let status: String = row.get(5);
    if !matches!(status.as_str(), "open" | "processing") {
        // Paid, refunded or mismatched already: a late or repeated event
        // grants nothing and never turns a refund back into `paid`.
        tracing::info!(session = %session_id, %status, "payment already settled; event recorded only");
        tx.commit().await.map_err(q)?;
        return Ok(());
    }
    let mut reason = mismatch_reason(expected_amount, expected_currency.as_deref(), &reported);
    if reason.is_none() {
        if let (Some(u), Some(c)) = (user, credits) {
            // Checked without locks (the grant checks again under them): a
            // grant the balance cannot take is a payment an admin settles,
            // not an error Stripe would retry for days.
            if c > ledger::room(&tx, UserId(u)).await? {
                reason = Some("balance_limit");
            }
        }
    }
    if let Some(reason) = reason {
        tx.execute(
            "UPDATE payments SET status = 'mismatch', mismatch_reason = $2,
                reported_amount_minor = $3, reported_currency = $4, reported_metadata = $5,
                payment_intent = COALESCE($6, payment_intent), updated_at = now()
             WHERE session_id = $1",
            &[
                &session_id,
                &reason,
                &reported.amount,
                &reported.currency,
                &reported.metadata,
                &intent,
            ],
        )
        .await
        .map_err(q)?;
        let m = PaymentMismatch {
            session_id: session_id.clone(),
            reason: reason.into(),
            stripe_event_id: event_id.to_owned(),
            stripe_event_type: event_type.to_owned(),
            payment_intent: intent.clone(),
            user_id: user.map(UserId),
            package_id,
            expected_amount_minor: expected_amount,
            expected_currency,
            reported_amount_minor: reported.amount,
            reported_currency: reported.currency.clone(),
        };
        mismatch_event(&tx, m).await?;
        tx.commit().await.map_err(q)?;
        st.outbox.notify();
        return Ok(());
    }
    let (Some(user), Some(credits)) = (user, credits) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "payment {session_id} has no user or credits"
        )));
    };
    let key = format!("stripe:session:{session_id}");
    let ctx = CallContext::current().with_idempotency_key(key.clone());
    ledger::grant_in(
        st,
        &tx,
        &ctx,
        &key,
        "purchase",
        UserId(user),
        credits,
        Kind::Purchases,
        Some(&format!("stripe checkout {session_id}")),
        &key,
    )
    .await?;
    tx.execute(
        "UPDATE payments SET status = 'paid', payment_intent = COALESCE($2, payment_intent),
            reported_amount_minor = $3, reported_currency = $4, updated_at = now()
         WHERE session_id = $1",
        &[&session_id, &intent, &reported.amount, &reported.currency],
    )
    .await
    .map_err(q)?;
    // A refund that arrived first is applied now.
    apply_refunds(st, &tx, &session_id).await?;
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(())
}

async fn mismatch_event(tx: &Transaction<'_>, m: PaymentMismatch) -> Result<(), AppError> {
    tracing::warn!(
        session = %m.session_id,
        reason = %m.reason,
        expected_amount = ?m.expected_amount_minor,
        reported_amount = ?m.reported_amount_minor,
        expected_currency = ?m.expected_currency,
        reported_currency = ?m.reported_currency,
        "stripe payment does not match what we sold; no credits granted"
    );
    let key = format!("stripe:mismatch:{}", m.session_id);
    let e = EventEnvelope::new(crate::config::SERVICE, events::EVT_PAYMENT_MISMATCH, 1, m);
    platform::outbox::enqueue(tx, &e, &CallContext::current().with_idempotency_key(key)).await
}

/// `charge.refunded`: stores the charge's cumulative refund, then applies
/// it if the payment is paid (otherwise when it is).
#[tracing::instrument(skip_all, fields(event = %event_id))]
pub async fn charge_refunded(
    st: &AppState,
    event_id: &str,
    event_type: &str,
    o: &Value,
) -> Result<(), AppError> {
    let Some(intent) = stored_str(o, "payment_intent")? else {
        return Ok(()); // not a payment we can match
    };
    let charge = stored_str(o, "id")?.unwrap_or(intent);
    let refunded = o
        .get("amount_refunded")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    let currency = stored_str(o, "currency")?.map(str::to_ascii_uppercase);
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if !record_event(&tx, event_id, event_type).await? {
        return Ok(());
    }
    lock_intent(&tx, intent).await?;
    tx.execute(
        "INSERT INTO stripe_refunds (charge_id, payment_intent, amount_refunded, currency)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (charge_id) DO UPDATE SET
            amount_refunded = GREATEST(stripe_refunds.amount_refunded, EXCLUDED.amount_refunded),
            updated_at = now()",
        &[&charge, &intent, &refunded, &currency],
    )
    .await
    .map_err(q)?;
    let session = tx
        .query_opt(
            "SELECT session_id FROM payments WHERE payment_intent = $1
             ORDER BY (status IN ('paid', 'partially_refunded', 'refunded')) DESC, created_at
             LIMIT 1",
            &[&intent],
        )
        .await
        .map_err(q)?;
    match session {
        Some(r) => apply_refunds(st, &tx, &r.get::<_, String>(0)).await?,
        None => tracing::info!(
            intent,
            refunded,
            "refund for a payment not seen yet; stored until it arrives"
        ),
    }
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(())
}

/// Brings a paid payment in line with the refunds stored for its payment
/// intent. Idempotent: with nothing new refunded it changes nothing.
async fn apply_refunds(
    st: &AppState,
    tx: &Transaction<'_>,
    session_id: &str,
) -> Result<(), AppError> {
    let Some(p) = tx
        .query_opt(
            "SELECT user_id, amount_minor, credits, credits_reversed, credits_owed, credits_collected,
                    status, payment_intent, amount_refunded
             FROM payments WHERE session_id = $1 FOR UPDATE",
            &[&session_id],
        )
        .await
        .map_err(q)?
    else {
        return Ok(());
    };
    let status: String = p.get(6);
    if !matches!(status.as_str(), "paid" | "partially_refunded" | "refunded") {
        return Ok(()); // not paid (yet), or never granted: the refund waits
    }
    let (Some(user), Some(amount), Some(credits), Some(intent)) = (
        p.get::<_, Option<Uuid>>(0).map(UserId),
        p.get::<_, Option<i64>>(1),
        p.get::<_, Option<i64>>(2),
        p.get::<_, Option<String>>(7),
    ) else {
        return Ok(());
    };
    let reversed: i64 = p.get(3);
    let owed: i64 = p.get(4);
    let collected: i64 = p.get(5);
    let applied: i64 = p.get(8);
    let refunded: i64 = tx
        .query_one(
            "SELECT LEAST(COALESCE(sum(amount_refunded), 0), 9223372036854775807)::bigint
             FROM stripe_refunds WHERE payment_intent = $1",
            &[&intent],
        )
        .await
        .map_err(q)?
        .get(0);
    let refunded = refunded.clamp(0, amount.max(0));
    if refunded == 0 {
        return Ok(());
    }
    // Credits due back: the refunded share, rounded down.
    let due = if amount > 0 {
        i64::try_from(i128::from(credits) * i128::from(refunded) / i128::from(amount))
            .unwrap_or(credits)
    } else {
        credits
    };
    let accounted = reversed + owed + collected;
    let outstanding = (due - accounted).max(0);
    let (mut take, mut rest) = (0i64, 0i64);
    if outstanding > 0 {
        let wallet = ledger::user_account(tx, user, Kind::Wallet).await?;
        let available: i64 = tx
            .query_one(
                "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE",
                &[&wallet],
            )
            .await
            .map_err(q)?
            .get(0);
        take = outstanding.min(available.max(0));
        rest = outstanding - take;
        if take > 0 {
            // Unique per step: the row lock makes (accounted, due) advance.
            let key = format!("stripe:refund:{session_id}:{accounted}:{due}");
            let ctx = CallContext::current().with_idempotency_key(key.clone());
            ledger::move_credits(
                st,
                tx,
                &ctx,
                &key,
                "refund_reversal",
                user,
                -take,
                Kind::Refunds,
                Some(&format!("stripe refund of {session_id}")),
                &key,
            )
            .await?;
        }
    }
    if take == 0 && rest == 0 && refunded <= applied {
        return Ok(()); // nothing new
    }
    let new_status = if refunded >= amount {
        "refunded"
    } else {
        "partially_refunded"
    };
    tx.execute(
        "UPDATE payments SET credits_reversed = credits_reversed + $2, credits_owed = credits_owed + $3,
            amount_refunded = GREATEST(amount_refunded, $4),
            status = CASE WHEN status = 'refunded' THEN status ELSE $5 END,
            updated_at = now()
         WHERE session_id = $1",
        &[&session_id, &take, &rest, &refunded, &new_status],
    )
    .await
    .map_err(q)?;
    if take > 0 || rest > 0 {
        tracing::info!(session = session_id, %user, refunded, taken = take, owed = rest, "stripe refund applied");
    }
    Ok(())
}

// ---------------------------------------------------------------- admin

/// A payment as admins see it: what we expected beside what Stripe reported.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub session_id: String,
    /// open, processing, paid, partially_refunded, refunded, mismatch
    pub status: String,
    /// unknown_session, amount_mismatch, currency_mismatch,
    /// amount_and_currency_mismatch, balance_limit
    pub mismatch_reason: Option<String>,
    /// None for an unknown session (its metadata is not trusted).
    pub user_id: Option<UserId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub package_id: Option<Uuid>,
    pub payment_intent: Option<String>,
    /// The package price recorded at checkout, minor units.
    pub expected_amount_minor: Option<i64>,
    pub expected_currency: Option<String>,
    /// Credits the payment buys (package credits + bonus at checkout).
    pub credits: Option<i64>,
    /// Stripe's `amount_total` and `currency` when the session completed.
    pub reported_amount_minor: Option<i64>,
    pub reported_currency: Option<String>,
    /// Stripe's `metadata` and `client_reference_id`, as reported (untrusted).
    #[schema(value_type = Option<Object>)]
    pub reported_metadata: Option<Value>,
    /// Cumulative refunded amount, minor units.
    pub amount_refunded: i64,
    /// Credits taken back at refund time, still owed, and collected since.
    pub credits_reversed: i64,
    pub credits_owed: i64,
    pub credits_collected: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentPage {
    pub items: Vec<PaymentView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// Only payments with this status.
    pub status: Option<PaymentStatus>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<PaymentCursor>,
    /// Payments per page, 1 to 200 (default 50).
    #[param(inline)]
    pub limit: Option<PageLimit>,
}

/// `GET /api/v1/admin/pricing/payments?status=&cursor=&limit=` newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/payments",
    params(PaymentQuery),
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "a page of payments, newest first", body = PaymentPage),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 422, description = "validation_failed (`field` names it): an unknown status, an invalid cursor, a limit outside 1 to 200"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn admin_payments(
    st: web::Data<AppState>,
    _a: Admin,
    Query(query): Query<PaymentQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query.status.map(PaymentStatus::as_str);
    let limit = query.limit.map(PageLimit::get).unwrap_or(50);
    let (after_at, after_id) = match &query.cursor {
        Some(c) => {
            let (at, id) = c.position()?;
            (Some(at), Some(id))
        }
        None => (None, None),
    };
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT session_id, status, mismatch_reason, user_id, package_id, payment_intent,
                    amount_minor, currency, credits, reported_amount_minor, reported_currency,
                    reported_metadata, amount_refunded, credits_reversed, credits_owed,
                    credits_collected, created_at, updated_at
             FROM payments
             WHERE ($1::text IS NULL OR status = $1)
               AND ($2::timestamptz IS NULL OR (created_at, session_id) < ($2, $3::text))
             ORDER BY created_at DESC, session_id DESC
             LIMIT $4",
            &[&status, &after_at, &after_id, &(limit + 1)],
        )
        .await
        .map_err(q)?;
    let mut items: Vec<PaymentView> = rows
        .iter()
        .map(|r| PaymentView {
            session_id: r.get(0),
            status: r.get(1),
            mismatch_reason: r.get(2),
            user_id: r.get::<_, Option<Uuid>>(3).map(UserId),
            package_id: r.get(4),
            payment_intent: r.get(5),
            expected_amount_minor: r.get(6),
            expected_currency: r.get(7),
            credits: r.get(8),
            reported_amount_minor: r.get(9),
            reported_currency: r.get(10),
            reported_metadata: r.get(11),
            amount_refunded: r.get(12),
            credits_reversed: r.get(13),
            credits_owed: r.get(14),
            credits_collected: r.get(15),
            created_at: r.get(16),
            updated_at: r.get(17),
        })
        .collect();
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(0));
        items
            .last()
            .map(|p| encode_payment_cursor(p.created_at, &p.session_id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(PaymentPage { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(amount: Option<i64>, currency: Option<&str>) -> Reported {
        Reported {
            amount,
            currency: currency.map(str::to_owned),
            metadata: Value::Null,
        }
    }

    #[test]
    fn only_the_recorded_price_matches() {
        let ok = reported(Some(49900), Some("INR"));
        assert_eq!(mismatch_reason(Some(49900), Some("INR"), &ok), None);
        assert_eq!(
            mismatch_reason(Some(49901), Some("INR"), &ok),
            Some("amount_mismatch")
        );
        assert_eq!(
            mismatch_reason(Some(49900), Some("USD"), &ok),
            Some("currency_mismatch")
        );
        assert_eq!(
            mismatch_reason(Some(1), Some("USD"), &ok),
            Some("amount_and_currency_mismatch")
        );
        assert_eq!(
            mismatch_reason(Some(49900), Some("INR"), &reported(None, Some("INR"))),
            Some("amount_mismatch")
        );
        assert_eq!(
            mismatch_reason(Some(49900), Some("INR"), &reported(Some(49900), None)),
            Some("currency_mismatch")
        );
        assert_eq!(
            mismatch_reason(None, None, &reported(None, None)),
            Some("amount_and_currency_mismatch")
        );
    }

    #[test]
    fn cursors_round_trip() {
        use crate::input::decode_payment_cursor;
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default();
        let c = encode_payment_cursor(at, "cs_test_a.b");
        assert_eq!(
            decode_payment_cursor(&c).ok(),
            Some((at, "cs_test_a.b".to_owned()))
        );
        assert!(decode_payment_cursor("x").is_err());
        assert!(decode_payment_cursor("1.zz").is_err());
    }

    #[test]
    fn reported_metadata_loses_nul_only() {
        let v = serde_json::json!({"a\0": ["x\0y", 1, null], "b": "ok"});
        assert_eq!(
            without_nul(v),
            serde_json::json!({"a\u{FFFD}": ["x\u{FFFD}y", 1, null], "b": "ok"})
        );
    }
}
