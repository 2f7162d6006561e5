//! NATS request/reply: `charts.chart.get`, `charts.profile.get` and
//! `charts.panchang.get`.

use crate::engine::{self, BirthInput, OptionsInput};
use crate::input::{Choice, Choices};
use crate::state::AppState;
use common::subjects::charts as subj;
use platform::nats::{RpcRequest, RpcServer};
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// `charts.chart.get`: a chart by birth details or by profile, for its owner.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChartGet {
    /// Another user than the token's (admins only); normally omitted.
    /// Without `profile_id` and `birth`, the user's first profile is used.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub profile_id: Option<Uuid>,
    #[serde(default)]
    pub birth: Option<BirthInput>,
    #[serde(default)]
    pub options: Option<OptionsInput>,
    /// `full` (default) or `summary` (compact, for guidance prompts).
    #[serde(default)]
    pub format: Option<Choice<Format>>,
}

/// What `charts.chart.get` answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Full,
    Summary,
}

impl Choices for Format {
    const WHAT: &'static str = "format";
    const NAMES: &'static [(&'static str, Self)] =
        &[("full", Format::Full), ("summary", Format::Summary)];
}

/// `charts.profile.get`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileGet {
    #[serde(default)]
    pub user_id: Option<Uuid>,
    pub profile_id: Uuid,
}

/// Services that may ask for charts and profiles, always for a named user.
pub const CHART_CALLERS: &[&str] = &["guidance", "media", "social"];

/// `charts.panchang.get`: the day's panchang at a place, exactly as
/// `GET /api/v1/panchang` answers it (`date`, then `place_id` or `lat` and
/// `lon`, and `tz` optionally).
pub type PanchangGet = crate::api::PanchangRequest;

/// Services that may ask for the panchang. It is public data, so the
/// caller's token need not name a user.
pub const PANCHANG_CALLERS: &[&str] = &["social"];

/// The owner a request acts for: the user named in the caller's signed
/// token (a body `user_id` only when that user is an admin or the same one).
fn owner(req: &RpcRequest, user_id: Option<Uuid>) -> Result<Uuid, AppError> {
    req.acting_user(user_id.map(common::UserId))
        .map(|u| u.as_uuid())
}

async fn chart_get(
    state: &AppState,
    req: RpcRequest,
    body: ChartGet,
) -> Result<serde_json::Value, AppError> {
    let user = owner(&req, body.user_id)?;
    let summary = body.format.map(|c| c.0) == Some(Format::Summary);
    let (birth, options, profile_id) = match (body.profile_id, body.birth) {
        (Some(pid), None) => {
            let p = crate::profiles::load(state, user, pid).await?;
            let (b, o) = p.inputs()?;
            (b, body.options.unwrap_or(o), Some(pid))
        }
        (None, Some(b)) => (b, body.options.unwrap_or_default(), None),
        // Neither: the user's first profile (404 when they have none).
        (None, None) => {
            let p = crate::profiles::first(state, user)
                .await?
                .ok_or_else(|| AppError::not_found("profile"))?;
            let (b, o) = p.inputs()?;
            (b, body.options.unwrap_or(o), Some(p.id))
        }
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "birth",
                "give birth or profile_id, not both",
            ))
        }
    };
    let r = state.chart_for(user, &birth, &options).await?;
    let input = serde_json::to_value(&r.input).map_err(AppError::internal)?;
    let chart: serde_json::Value = serde_json::from_str(&r.chart).map_err(AppError::internal)?;
    let mut reply = json!({
        "chart_id": r.chart_id,
        "cached": r.cached,
        "input": input,
        "profile_id": profile_id,
    });
    if summary {
        reply["summary"] = engine::summary(&chart, chrono::Utc::now());
    } else {
        reply["chart"] = chart;
    }
    Ok(reply)
}

async fn profile_get(
    state: &AppState,
    req: RpcRequest,
    body: ProfileGet,
) -> Result<serde_json::Value, AppError> {
    let user = owner(&req, body.user_id)?;
    let p = crate::profiles::load(state, user, body.profile_id).await?;
    serde_json::to_value(p).map_err(AppError::internal)
}

async fn panchang_get(
    state: &AppState,
    body: PanchangGet,
) -> Result<crate::panchang::Panchang, AppError> {
    crate::api::panchang_for(state, body).await
}

pub async fn register(rpc: &mut RpcServer, state: Arc<AppState>) -> anyhow::Result<()> {
    let st = state.clone();
    rpc.endpoint(
        subj::CHART_GET,
        CHART_CALLERS,
        move |req: RpcRequest, body: ChartGet| {
            let st = st.clone();
            async move { chart_get(&st, req, body).await }
        },
    )
    .await?;
    let st = state.clone();
    rpc.endpoint(
        subj::PROFILE_GET,
        CHART_CALLERS,
        move |req: RpcRequest, body: ProfileGet| {
            let st = st.clone();
            async move { profile_get(&st, req, body).await }
        },
    )
    .await?;
    // No user: the panchang belongs to nobody, so `acting_user` is not asked.
    let st = state;
    rpc.endpoint(
        subj::PANCHANG_GET,
        PANCHANG_CALLERS,
        move |_req: RpcRequest, body: PanchangGet| {
            let st = st.clone();
            async move { panchang_get(&st, body).await }
        },
    )
    .await?;
    Ok(())
}
