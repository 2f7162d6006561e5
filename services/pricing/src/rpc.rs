//! NATS request/reply endpoints (queue group `pricing`). The caller forwards
//! the user's internal token; requests that move credits carry an
//! `Idempotency-Key` header.

use crate::catalog::{self, QuoteRequest};
use crate::ledger::{self, CaptureRequest, HoldRequest, ReleaseRequest};
use crate::AppState;
use common::subjects::pricing as s;
use common::{Principal, UserId};
use platform::nats::{CallContext, RpcRequest, RpcServer};
use platform::AppError;
use serde::{Deserialize, Serialize};

fn principal(r: &RpcRequest) -> Result<&Principal, AppError> {
    r.principal
        .as_ref()
        .ok_or_else(|| AppError::unauthorized("an internal token naming the user is required"))
}

fn ctx(r: &RpcRequest) -> CallContext {
    CallContext {
        request_id: r.request_id.clone(),
        idempotency_key: r.idempotency_key.clone(),
        internal_token: None,
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct BalanceRequest {
    #[serde(default)]
    pub user_id: Option<UserId>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct QuoteCreate {
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(flatten)]
    pub quote: QuoteRequest,
}

pub async fn register(rpc: &mut RpcServer, st: AppState) -> anyhow::Result<()> {
    let a = st.clone();
    rpc.endpoint(s::CREDITS_HOLD, move |r: RpcRequest, req: HoldRequest| {
        let st = a.clone();
        async move {
            let p = principal(&r)?;
            let key = ledger::require_key(r.idempotency_key.as_deref())?;
            ledger::hold(&st, &ctx(&r), p, key, req).await
        }
    })
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_CAPTURE,
        move |r: RpcRequest, req: CaptureRequest| {
            let st = a.clone();
            async move {
                let p = principal(&r)?;
                let key = ledger::require_key(r.idempotency_key.as_deref())?;
                ledger::capture(&st, &ctx(&r), p, key, req).await
            }
        },
    )
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_RELEASE,
        move |r: RpcRequest, req: ReleaseRequest| {
            let st = a.clone();
            async move {
                let p = principal(&r)?;
                let key = ledger::require_key(r.idempotency_key.as_deref())?;
                ledger::release(&st, p, key, req).await
            }
        },
    )
    .await?;
    let a = st.clone();
    rpc.endpoint(
        s::CREDITS_BALANCE,
        move |r: RpcRequest, req: BalanceRequest| {
            let st = a.clone();
            async move {
                let user = ledger::acting_user(principal(&r)?, req.user_id)?;
                let c = platform::db::conn(&st.pool).await?;
                ledger::balance_of(&c, user).await
            }
        },
    )
    .await?;
    let a = st;
    rpc.endpoint(s::QUOTE_CREATE, move |r: RpcRequest, req: QuoteCreate| {
        let st = a.clone();
        async move {
            let user = ledger::acting_user(principal(&r)?, req.user_id)?;
            catalog::create_quote(&st, user, &req.quote).await
        }
    })
    .await?;
    Ok(())
}
