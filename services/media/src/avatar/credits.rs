//! Pricing's credit holds for a job, over NATS as guidance uses them
//! (`pricing.quote.create`, `pricing.credits.hold|capture|release`), acting
//! for the job's owner. Every request that moves credits carries an
//! idempotency key derived from the job id, so a repeat (a retried submit,
//! a second settlement pass, another instance) moves nothing twice.

use common::subjects::pricing;
use common::{ErrorCode, HoldId, Principal, Role, UserId};
use platform::nats::{Bus, CallContext};
use platform::AppError;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
struct QuoteReply {
    id: Uuid,
}

#[derive(Debug, Deserialize)]
struct HoldReply {
    hold_id: HoldId,
    amount: i64,
}

/// The job's owner, as the principal media acts for.
pub fn owner(user: Uuid) -> Principal {
    Principal {
        user_id: UserId(user),
        roles: vec![Role::User],
    }
}

/// An upstream that could not be reached is 503 naming it; its own answers
/// (402 insufficient_credits, 409, 422) pass through.
fn upstream(e: AppError) -> AppError {
    match e.code {
        ErrorCode::Timeout
        | ErrorCode::ServiceUnavailable
        | ErrorCode::MessagingUnavailable
        | ErrorCode::BadGateway => AppError::new(
            ErrorCode::ServiceUnavailable,
            "pricing is unavailable; try again (the same Idempotency-Key is safe to repeat)",
        )
        .with_cause(e)
        .with_retry_after(2),
        _ => e,
    }
}

/// Whether the outcome of a failed request is unknown (pricing may have
/// acted): the job is kept so that a repeat uses the same keys.
pub fn outcome_unknown(e: &AppError) -> bool {
    e.code.is_server_error()
}

/// A quote for `service_code`.
pub async fn quote(bus: &Bus, p: &Principal, service_code: &str) -> Result<Uuid, AppError> {
    let q: QuoteReply = bus
        .request(
            pricing::QUOTE_CREATE,
            Some(p),
            &CallContext::current(),
            &json!({ "service_code": service_code }),
        )
        .await
        .map_err(upstream)?;
    Ok(q.id)
}

/// Holds the quoted credits for `job` (the same hold for every repeat).
pub async fn hold(
    bus: &Bus,
    p: &Principal,
    job: Uuid,
    quote_id: Uuid,
    ttl_secs: i64,
) -> Result<(HoldId, i64), AppError> {
    let ctx = CallContext::current().with_idempotency_key(format!("media-avatar-hold:{job}"));
    let h: HoldReply = bus
        .request(
            pricing::CREDITS_HOLD,
            Some(p),
            &ctx,
            &json!({ "quote_id": quote_id, "reference": format!("avatar:{job}"), "ttl_secs": ttl_secs }),
        )
        .await
        .map_err(upstream)?;
    Ok((h.hold_id, h.amount))
}

/// How a hold ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Captured this many credits.
    Captured(i64),
    /// Released (or it had already expired: nothing charged).
    Released,
}

/// Captures the whole hold of a succeeded job. An expired hold charges
/// nothing (pricing already released it).
pub async fn capture(
    bus: &Bus,
    p: &Principal,
    job: Uuid,
    hold: Uuid,
    amount: i64,
) -> Result<Settled, AppError> {
    let ctx = CallContext::current().with_idempotency_key(format!("media-avatar-capture:{job}"));
    let r = bus
        .request::<_, serde_json::Value>(
            pricing::CREDITS_CAPTURE,
            Some(p),
            &ctx,
            &json!({ "hold_id": hold, "amount": amount }),
        )
        .await;
    match r {
        Ok(_) => Ok(Settled::Captured(amount)),
        Err(e) if matches!(e.code, ErrorCode::HoldExpired | ErrorCode::HoldNotFound) => {
            tracing::warn!(%job, %hold, code = %e.code, "the hold of a succeeded job could not be captured; nothing is charged");
            Ok(Settled::Released)
        }
        Err(e) => Err(e),
    }
}

/// Releases the hold of a failed or cancelled job. An expired or missing
/// hold is already released.
pub async fn release(bus: &Bus, p: &Principal, job: Uuid, hold: Uuid) -> Result<Settled, AppError> {
    let ctx = CallContext::current().with_idempotency_key(format!("media-avatar-release:{job}"));
    let r = bus
        .request::<_, serde_json::Value>(
            pricing::CREDITS_RELEASE,
            Some(p),
            &ctx,
            &json!({ "hold_id": hold }),
        )
        .await;
    match r {
        Ok(_) => Ok(Settled::Released),
        Err(e) if matches!(e.code, ErrorCode::HoldExpired | ErrorCode::HoldNotFound) => {
            Ok(Settled::Released)
        }
        Err(e) => Err(e),
    }
}
