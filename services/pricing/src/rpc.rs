//! NATS request/reply endpoints (queue group `pricing`). The caller forwards
//! the user's internal token; requests that move credits carry an
//! `Idempotency-Key` header. Requests are JSON objects checked with the same
//! rules as HTTP bodies (`crate::input`): a refusal names the field.

use crate::catalog::{self, QuoteRequest};
use crate::input::{Object, ServiceCode};
use crate::ledger::{self, CaptureRequest, HoldRequest, ReleaseRequest};
use crate::limits::QuoteUnits;
use crate::AppState;
use common::subjects::pricing as s;
use common::UserId;
use platform::nats::{CallContext, RpcRequest, RpcServer};
use serde::{Deserialize, Serialize};

/// Services that move credits for a user (the allow-list: only
/// guidance and media spend credits).
pub const SPENDERS: &[&str] = &["guidance", "media"];

fn ctx(r: &RpcRequest) -> CallContext {
    r.context()
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct BalanceRequest {
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// `pricing.quote.create`: a [`QuoteRequest`], for the caller's user or
/// (admins) another. Spelled out rather than flattened, so that a refused
/// field is named.
#[derive(Debug, Deserialize, Serialize)]
pub struct QuoteCreate {
    #[serde(default)]
    pub user_id: Option<UserId>,
    pub service_code: ServiceCode,
    #[serde(default = "one")]
    pub units: QuoteUnits,
}

fn one() -> QuoteUnits {
    platform::input::Int(1)
}

pub async fn register(rpc: &mut RpcServer, st: AppState) -> anyhow::Result<()> {
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_HOLD,
        SPENDERS,
        move |r: RpcRequest, Object(req): Object<HoldRequest>| {
            let st = a.clone();
            async move {
                let p = r.principal()?;
                let key = ledger::require_key(r.idempotency_key.as_deref())?;
                ledger::hold(&st, &ctx(&r), p, key, req).await
            }
        },
    )
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_CAPTURE,
        SPENDERS,
        move |r: RpcRequest, Object(req): Object<CaptureRequest>| {
            let st = a.clone();
            async move {
                let p = r.principal()?;
                let key = ledger::require_key(r.idempotency_key.as_deref())?;
                ledger::capture(&st, &ctx(&r), p, key, req).await
            }
        },
    )
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_RELEASE,
        SPENDERS,
        move |r: RpcRequest, Object(req): Object<ReleaseRequest>| {
            let st = a.clone();
            async move {
                let p = r.principal()?;
                let key = ledger::require_key(r.idempotency_key.as_deref())?;
                ledger::release(&st, p, key, req).await
            }
        },
    )
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_BALANCE,
        SPENDERS,
        move |r: RpcRequest, Object(req): Object<BalanceRequest>| {
            let st = a.clone();
            async move {
                let user = r.acting_user(req.user_id)?;
                let c = platform::db::conn(&st.pool).await?;
                ledger::balance_of(&c, user).await
            }
        },
    )
    .await?;
    let a = st;
    rpc.endpoint(
        s::QUOTE_CREATE,
        SPENDERS,
        move |r: RpcRequest, Object(req): Object<QuoteCreate>| {
            let st = a.clone();
            async move {
                let user = r.acting_user(req.user_id)?;
                let quote = QuoteRequest {
                    service_code: req.service_code,
                    units: req.units,
                };
                catalog::create_quote(&st, user, &quote).await
            }
        },
    )
    .await?;
    Ok(())
}
