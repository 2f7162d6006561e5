//! The admin API under `/api/v1/admin/social/` and the public images
//! (`/api/v1/social/media/{id}`).

use crate::channels::{self, parse_network};
use crate::generate::{self, Generator, Params};
use crate::networks::Marker;
use crate::posts::{self, Made, Origin};
use crate::schedule::Schedule;
use crate::state::AppState;
use crate::store::{self, AttemptView, CampaignView, ChannelView, PostView, ScheduleView};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use common::{ErrorBody, ErrorCode};
use platform::auth::Admin;
use platform::db::q;
use platform::http::Json;
use platform::input::{check_line, Line, Text};
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

fn id_of(s: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found(what))
}

fn conflict(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::Conflict, message)
}

// ------------------------------------------------------------------ channels

/// A network, as channels name it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    Facebook,
    Instagram,
    X,
    Youtube,
    Telegram,
}

impl NetworkName {
    fn as_str(self) -> &'static str {
        match self {
            NetworkName::Facebook => "facebook",
            NetworkName::Instagram => "instagram",
            NetworkName::X => "x",
            NetworkName::Youtube => "youtube",
            NetworkName::Telegram => "telegram",
        }
    }
}

/// A channel's language: `en`, `ta` or `hi`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ta,
    Hi,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ta => "ta",
            Lang::Hi => "hi",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub network: NetworkName,
    pub name: Line<120>,
    /// Facebook page id, Instagram user id, X user id (numeric), Telegram
    /// `@channel` or `-100…` id; YouTube: the channel id (informational).
    pub account_id: Line<120>,
    /// The access token (Telegram: the bot token). Stored sealed, never shown.
    pub token: Line<4096>,
    #[serde(default)]
    pub language: Option<Lang>,
    /// Hashtags added to every post (without or with `#`), at most 30.
    #[serde(default)]
    pub hashtags: Option<Vec<Line<60>>>,
    #[serde(default)]
    pub auto_approve: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    #[serde(default)]
    pub name: Option<Line<120>>,
    /// A new token (reconnects a channel whose credentials expired).
    #[serde(default)]
    pub token: Option<Line<4096>>,
    #[serde(default)]
    pub language: Option<Lang>,
    #[serde(default)]
    pub hashtags: Option<Vec<Line<60>>>,
    #[serde(default)]
    pub auto_approve: Option<bool>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelView>,
}

fn hashtags(list: Option<Vec<Line<60>>>) -> Result<Option<Vec<String>>, AppError> {
    let Some(list) = list else { return Ok(None) };
    if list.len() > 30 {
        return Err(AppError::validation("hashtags", "at most 30 hashtags"));
    }
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let t = t.trim().trim_start_matches('#');
        if t.is_empty() || !t.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(AppError::validation(
                &format!("hashtags[{i}]"),
                "a hashtag is letters, digits and underscores",
            ));
        }
        out.push(format!("#{t}"));
    }
    Ok(Some(out))
}

fn token_of(t: &str) -> Result<&str, AppError> {
    let t = t.trim();
    if t.is_empty() {
        return Err(AppError::validation("token", "must not be blank"));
    }
    Ok(t)
}

/// The channels (never their tokens).
#[utoipa::path(get, path = "/api/v1/admin/social/channels",
    responses(
        (status = 200, body = ChannelList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn list_channels(
    state: web::Data<AppState>,
    _a: Admin,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {} FROM channels ORDER BY created_at",
                store::CHANNEL_COLUMNS
            ),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(ChannelList {
        channels: rows.iter().map(store::channel_view).collect(),
    }))
}

/// Connect a network account: its token is sealed (AES-256-GCM) and never shown again.
#[utoipa::path(post, path = "/api/v1/admin/social/channels", request_body = NewChannel,
    responses(
        (status = 201, body = ChannelView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (account_id for the network, token, hashtags)")),
    security(("internal_token" = [])))]
pub async fn create_channel(
    state: web::Data<AppState>,
    Admin(p): Admin,
    body: Json<NewChannel>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let network = parse_network(b.network.as_str())
        .ok_or_else(|| AppError::validation("network", "unknown network"))?;
    let name = b.name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "must not be blank"));
    }
    let account = b.account_id.trim();
    channels::check_account(network, account)?;
    let token = token_of(&b.token)?;
    let tags = hashtags(b.hashtags)?.unwrap_or_default();
    let id = Uuid::new_v4();
    let sealed = channels::seal(&state.keyring, id, token)?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO channels (id, network, name, account_id, credentials, language, hashtags, auto_approve)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
                store::CHANNEL_COLUMNS
            ),
            &[
                &id,
                &network.as_str(),
                &name,
                &account,
                &sealed.as_str(),
                &b.language.unwrap_or(Lang::En).as_str(),
                &tags,
                &b.auto_approve.unwrap_or(false),
            ],
        )
        .await
        .map_err(q)?;
    tracing::info!(channel = %id, network = %network, admin = %p.user_id.as_uuid(), "channel connected");
    Ok(HttpResponse::Created().json(store::channel_view(&row)))
}

/// Change a channel; a new token reconnects it (its status returns to `ok`).
#[utoipa::path(patch, path = "/api/v1/admin/social/channels/{id}",
    params(("id" = String, Path, format = Uuid, description = "channel id")),
    request_body = ChannelPatch,
    responses(
        (status = 200, body = ChannelView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed")),
    security(("internal_token" = [])))]
pub async fn patch_channel(
    state: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<String>,
    body: Json<ChannelPatch>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "channel")?;
    let b = body.0;
    if let Some(n) = &b.name {
        if n.trim().is_empty() {
            return Err(AppError::validation("name", "must not be blank"));
        }
    }
    let sealed = match &b.token {
        Some(t) => Some(channels::seal(&state.keyring, id, token_of(t)?)?.into_string()),
        None => None,
    };
    let tags = hashtags(b.hashtags)?;
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let was: String = tx
        .query_opt(
            "SELECT status FROM channels WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(q)?
        .map(|r| r.get(0))
        .ok_or_else(|| AppError::not_found("channel"))?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE channels SET
                    name = COALESCE($2, name),
                    credentials = COALESCE($3, credentials),
                    status = CASE WHEN $3::text IS NULL THEN status ELSE 'ok' END,
                    status_reason = CASE WHEN $3::text IS NULL THEN status_reason ELSE NULL END,
                    language = COALESCE($4, language),
                    hashtags = COALESCE($5, hashtags),
                    auto_approve = COALESCE($6, auto_approve),
                    enabled = COALESCE($7, enabled),
                    updated_at = now()
                 WHERE id = $1 RETURNING {}",
                store::CHANNEL_COLUMNS
            ),
            &[
                &id,
                &b.name.as_ref().map(|n| n.trim().to_owned()),
                &sealed,
                &b.language.map(Lang::as_str),
                &tags,
                &b.auto_approve,
                &b.enabled,
            ],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("channel"))?;
    let view = store::channel_view(&row);
    // The monitor keeps an incident open from `credentials_expired` until this.
    let reconnected = sealed.is_some() && was == "credentials_expired";
    if reconnected {
        let ev = common::EventEnvelope::new(
            common::subjects::social::SERVICE,
            common::subjects::social::EVT_CHANNEL_RECONNECTED,
            1,
            serde_json::json!({"channel_id": id, "network": view.network}),
        );
        platform::outbox::enqueue(&tx, &ev, &platform::nats::CallContext::current()).await?;
    }
    tx.commit().await.map_err(q)?;
    if reconnected {
        state.outbox.notify();
    }
    tracing::info!(channel = %id, admin = %p.user_id.as_uuid(), token_changed = sealed.is_some(), reconnected, "channel changed");
    Ok(HttpResponse::Ok().json(view))
}

// ----------------------------------------------------------------- campaigns

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: Line<120>,
    #[serde(default)]
    pub description: Option<Text<2000>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignList {
    pub campaigns: Vec<CampaignView>,
}

#[utoipa::path(get, path = "/api/v1/admin/social/campaigns",
    responses(
        (status = 200, body = CampaignList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    _a: Admin,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id, name, description, created_at FROM campaigns ORDER BY created_at",
            &[],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(CampaignList {
        campaigns: rows.iter().map(store::campaign_view).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/social/campaigns", request_body = NewCampaign,
    responses(
        (status = 201, body = CampaignView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 409, body = ErrorBody, description = "conflict (the name is taken)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed")),
    security(("internal_token" = [])))]
pub async fn create_campaign(
    state: web::Data<AppState>,
    _a: Admin,
    body: Json<NewCampaign>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let name = b.name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "must not be blank"));
    }
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            "INSERT INTO campaigns (id, name, description) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING id, name, description, created_at",
            &[
                &Uuid::new_v4(),
                &name,
                &b.description.map(|d| d.into_inner()).unwrap_or_default(),
            ],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| conflict(format!("a campaign named {name:?} exists")))?;
    Ok(HttpResponse::Created().json(store::campaign_view(&row)))
}

// ----------------------------------------------------------------- schedules

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    pub generator: Generator,
    /// Five fields (minute hour day-of-month month day-of-week) or a
    /// nickname (`@daily`), read in `tz`. A time that does not exist on a
    /// spring-forward day fires at the end of the gap; a repeated one fires
    /// once, at its first pass.
    #[schema(example = "30 5 * * *")]
    pub cron: Line<120>,
    #[schema(example = "Asia/Kolkata")]
    pub tz: Line<64>,
    /// 1 to 20 channels to post to.
    #[schema(value_type = Vec<String>)]
    pub channel_ids: Vec<Uuid>,
    #[serde(default)]
    pub params: Option<Params>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    #[serde(default)]
    pub cron: Option<Line<120>>,
    #[serde(default)]
    pub tz: Option<Line<64>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub channel_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub params: Option<Params>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}

fn parse_schedule(cron: &str, tz: &str) -> Result<Schedule, AppError> {
    Schedule::parse(cron, tz).map_err(|e| {
        let field = if e.to_string().contains("zone") {
            "tz"
        } else {
            "cron"
        };
        AppError::validation(field, e.to_string())
    })
}

async fn check_channels<C: deadpool_postgres::GenericClient>(
    c: &C,
    ids: &[Uuid],
) -> Result<(), AppError> {
    if ids.is_empty() || ids.len() > 20 {
        return Err(AppError::validation("channel_ids", "give 1 to 20 channels"));
    }
    let found: i64 = c
        .query_one("SELECT count(*) FROM channels WHERE id = ANY($1)", &[&ids])
        .await
        .map_err(q)?
        .get(0);
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    if found != distinct.len() as i64 || distinct.len() != ids.len() {
        return Err(AppError::validation(
            "channel_ids",
            "every channel must exist, once",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/admin/social/schedules",
    responses(
        (status = 200, body = ScheduleList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)")),
    security(("internal_token" = [])))]
pub async fn list_schedules(
    state: web::Data<AppState>,
    _a: Admin,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {} FROM schedules ORDER BY created_at",
                store::SCHEDULE_COLUMNS
            ),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(ScheduleList {
        schedules: rows.iter().map(store::schedule_view).collect(),
    }))
}

/// A schedule runs its generator at each time of its cron expression in its
/// zone and makes a post per channel (a draft, unless the channel approves
/// automatically).
#[utoipa::path(post, path = "/api/v1/admin/social/schedules", request_body = NewSchedule,
    responses(
        (status = 201, body = ScheduleView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (cron, tz, channel_ids, campaign_id, params.*)")),
    security(("internal_token" = [])))]
pub async fn create_schedule(
    state: web::Data<AppState>,
    _a: Admin,
    body: Json<NewSchedule>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let sched = parse_schedule(&b.cron, &b.tz)?;
    let params = b.params.unwrap_or_default();
    params.check(b.generator)?;
    let c = platform::db::conn(&state.pool).await?;
    check_channels(&c, &b.channel_ids).await?;
    if let Some(cid) = b.campaign_id {
        let n = c
            .query_opt("SELECT 1 FROM campaigns WHERE id = $1", &[&cid])
            .await
            .map_err(q)?;
        if n.is_none() {
            return Err(AppError::validation("campaign_id", "no such campaign"));
        }
    }
    let next = sched.next_after(Utc::now());
    let params = serde_json::to_value(&params).map_err(AppError::internal)?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO schedules (id, campaign_id, generator, cron, tz, channel_ids, params, enabled, next_run_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {}",
                store::SCHEDULE_COLUMNS
            ),
            &[
                &Uuid::new_v4(),
                &b.campaign_id,
                &b.generator.as_str(),
                &sched.expression(),
                &b.tz.trim(),
                &b.channel_ids,
                &params,
                &b.enabled.unwrap_or(true),
                &next,
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(store::schedule_view(&row)))
}

#[utoipa::path(patch, path = "/api/v1/admin/social/schedules/{id}",
    params(("id" = String, Path, format = Uuid, description = "schedule id")),
    request_body = SchedulePatch,
    responses(
        (status = 200, body = ScheduleView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed")),
    security(("internal_token" = [])))]
pub async fn patch_schedule(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Json<SchedulePatch>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "schedule")?;
    let b = body.0;
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let cur = tx
        .query_opt(
            &format!(
                "SELECT {} FROM schedules WHERE id = $1 FOR UPDATE",
                store::SCHEDULE_COLUMNS
            ),
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("schedule"))?;
    let cron = b
        .cron
        .map(|x| x.into_inner())
        .unwrap_or_else(|| cur.get("cron"));
    let tz =
        b.tz.map(|x| x.trim().to_owned())
            .unwrap_or_else(|| cur.get("tz"));
    let sched = parse_schedule(&cron, &tz)?;
    let generator = Generator::parse(cur.get("generator"))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown generator")))?;
    let params = match b.params {
        Some(p) => {
            p.check(generator)?;
            Some(serde_json::to_value(&p).map_err(AppError::internal)?)
        }
        None => None,
    };
    if let Some(ids) = &b.channel_ids {
        check_channels(&tx, ids).await?;
    }
    let next = sched.next_after(Utc::now());
    let row = tx
        .query_one(
            &format!(
                "UPDATE schedules SET cron = $2, tz = $3, channel_ids = COALESCE($4, channel_ids),
                    params = COALESCE($5, params), enabled = COALESCE($6, enabled), next_run_at = $7,
                    claimed_fire_at = NULL
                 WHERE id = $1 RETURNING {}",
                store::SCHEDULE_COLUMNS
            ),
            &[&id, &sched.expression(), &tz, &b.channel_ids, &params, &b.enabled, &next],
        )
        .await
        .map_err(q)?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(store::schedule_view(&row)))
}

// --------------------------------------------------------------------- posts

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// `draft`, `approved`, `scheduled`, `publishing`, `published`, `failed` or `rejected`.
    pub state: Option<String>,
    /// Posts whose date (`for_date`, else the day created) is on or after this `YYYY-MM-DD`.
    pub from: Option<String>,
    /// ... and on or before this `YYYY-MM-DD`.
    pub to: Option<String>,
    /// One channel's posts.
    #[param(format = Uuid)]
    pub channel_id: Option<String>,
    /// One campaign's posts.
    #[param(format = Uuid)]
    pub campaign_id: Option<String>,
    /// At most this many, newest first (1 to 500, default 100).
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PostList {
    pub posts: Vec<PostView>,
}

const STATES: [&str; 7] = [
    "draft",
    "approved",
    "scheduled",
    "publishing",
    "published",
    "failed",
    "rejected",
];

fn date_param(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
    v.map(|s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::validation(field, "must be a date, YYYY-MM-DD"))
    })
    .transpose()
}

fn uuid_param(field: &str, v: Option<&str>) -> Result<Option<Uuid>, AppError> {
    v.map(|s| Uuid::parse_str(s).map_err(|_| AppError::validation(field, "must be a UUID")))
        .transpose()
}

/// Posts, newest first, filtered by state, date, channel and campaign.
#[utoipa::path(get, path = "/api/v1/admin/social/posts", params(PostQuery),
    responses(
        (status = 200, body = PostList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 422, body = ErrorBody, description = "validation_failed (state, from, to, channel_id, campaign_id, limit)")),
    security(("internal_token" = [])))]
pub async fn list_posts(
    state: web::Data<AppState>,
    _a: Admin,
    query: web::Query<PostQuery>,
) -> Result<HttpResponse, AppError> {
    let qy = query.into_inner();
    let st = match qy.state.as_deref() {
        None => None,
        Some(s) if STATES.contains(&s) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::validation(
                "state",
                format!("must be one of {}", STATES.join(", ")),
            ))
        }
    };
    let from = date_param("from", qy.from.as_deref())?;
    let to = date_param("to", qy.to.as_deref())?;
    let channel = uuid_param("channel_id", qy.channel_id.as_deref())?;
    let campaign = uuid_param("campaign_id", qy.campaign_id.as_deref())?;
    let limit = match qy.limit.as_deref() {
        None => 100i64,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| AppError::validation("limit", "must be between 1 and 500"))?,
    };
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {} FROM posts p JOIN channels c ON c.id = p.channel_id
                 WHERE ($1::text IS NULL OR p.state = $1)
                   AND ($2::date IS NULL OR COALESCE(p.for_date, p.created_at::date) >= $2)
                   AND ($3::date IS NULL OR COALESCE(p.for_date, p.created_at::date) <= $3)
                   AND ($4::uuid IS NULL OR p.channel_id = $4)
                   AND ($5::uuid IS NULL OR p.campaign_id = $5)
                 ORDER BY p.created_at DESC LIMIT $6",
                store::POST_COLUMNS
            ),
            &[&st, &from, &to, &channel, &campaign, &limit],
        )
        .await
        .map_err(q)?;
    let base = &state.cfg.content.public_base_url;
    Ok(HttpResponse::Ok().json(PostList {
        posts: rows.iter().map(|r| store::post_view(r, base)).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: Uuid,
    pub text: Text<5000>,
    /// Video title (YouTube).
    #[serde(default)]
    pub title: Option<Line<100>>,
    /// A link to share (Facebook).
    #[serde(default)]
    pub link: Option<Line<2000>>,
    /// When to publish once approved (now when absent).
    #[serde(default)]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPatch {
    #[serde(default)]
    pub text: Option<Text<5000>>,
    #[serde(default)]
    pub title: Option<Line<100>>,
    #[serde(default)]
    pub link: Option<Line<2000>>,
    #[serde(default)]
    pub scheduled_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PostDetail {
    pub post: PostView,
    pub attempts: Vec<AttemptView>,
    /// What a generator made it from (charts' panchang, the observances,
    /// the knowledge entries); `{}` for a post written by hand.
    #[schema(value_type = Object)]
    pub source: Value,
}

fn check_link(link: Option<&str>) -> Result<(), AppError> {
    if let Some(l) = link {
        let ok = reqwest::Url::parse(l)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .unwrap_or(false);
        if !ok {
            return Err(AppError::validation("link", "must be an http(s) URL"));
        }
    }
    Ok(())
}

async fn load_post<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: Uuid,
    lock: bool,
) -> Result<tokio_postgres::Row, AppError> {
    c.query_opt(
        &format!(
            "SELECT {} FROM posts p JOIN channels c ON c.id = p.channel_id WHERE p.id = $1{}",
            store::POST_COLUMNS,
            if lock { " FOR UPDATE OF p" } else { "" }
        ),
        &[&id],
    )
    .await
    .map_err(q)?
    .ok_or_else(|| AppError::not_found("post"))
}

/// A post written by hand (a draft, unless the channel approves automatically).
#[utoipa::path(post, path = "/api/v1/admin/social/posts", request_body = NewPost,
    responses(
        (status = 201, body = PostView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (channel_id, text over the network's limit, link, campaign_id)")),
    security(("internal_token" = [])))]
pub async fn create_post(
    state: web::Data<AppState>,
    _a: Admin,
    body: Json<NewPost>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    check_link(b.link.as_deref())?;
    let c = platform::db::conn(&state.pool).await?;
    let ch = posts::channels(&c, &[b.channel_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::validation("channel_id", "no such channel"))?;
    if ch.network == crate::networks::Network::YouTube {
        return Err(AppError::validation(
            "channel_id",
            "YouTube takes videos; a text post cannot go there",
        ));
    }
    if let Some(cid) = b.campaign_id {
        if c.query_opt("SELECT 1 FROM campaigns WHERE id = $1", &[&cid])
            .await
            .map_err(q)?
            .is_none()
        {
            return Err(AppError::validation("campaign_id", "no such campaign"));
        }
    }
    if b.text.trim().is_empty() {
        return Err(AppError::validation("text", "must not be blank"));
    }
    let marker = Marker::random();
    let text = posts::check_text(ch.network, marker.as_str(), &b.text, false)?;
    let state_name = match (ch.auto_approve, b.scheduled_at.is_some()) {
        (false, _) => "draft",
        (true, true) => "scheduled",
        (true, false) => "approved",
    };
    let id = Uuid::new_v4();
    // The row as inserted: a publishing worker may claim a due post before a
    // second read, and the answer describes what this request created.
    let row = c
        .query_one(
            &format!(
                "WITH p AS (
                   INSERT INTO posts (id, channel_id, campaign_id, generator, state, text, title, link, marker, scheduled_at)
                   VALUES ($1, $2, $3, 'manual', $4, $5, $6, $7, $8, $9) RETURNING *)
                 SELECT {} FROM p JOIN channels c ON c.id = p.channel_id",
                store::POST_COLUMNS
            ),
            &[
            &id,
            &ch.id,
            &b.campaign_id,
            &state_name,
            &text,
            &b.title.map(|t| t.into_inner()),
            &b.link.map(|t| t.into_inner()),
            &marker.as_str(),
            &b.scheduled_at,
        ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(store::post_view(&row, &state.cfg.content.public_base_url)))
}

/// A post with its publishing attempts.
#[utoipa::path(get, path = "/api/v1/admin/social/posts/{id}",
    params(("id" = String, Path, format = Uuid, description = "post id")),
    responses(
        (status = 200, body = PostDetail),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found")),
    security(("internal_token" = [])))]
pub async fn get_post(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "post")?;
    let c = platform::db::conn(&state.pool).await?;
    let row = load_post(&c, id, false).await?;
    let attempts = store::attempts(&c, id).await?;
    let source: Value = c
        .query_one("SELECT source FROM posts WHERE id = $1", &[&id])
        .await
        .map_err(q)?
        .get(0);
    Ok(HttpResponse::Ok().json(PostDetail {
        post: store::post_view(&row, &state.cfg.content.public_base_url),
        attempts,
        source,
    }))
}

/// Edit a post not yet publishing: an approved or scheduled post goes back
/// to draft (the change needs approval) unless its channel approves automatically.
#[utoipa::path(patch, path = "/api/v1/admin/social/posts/{id}",
    params(("id" = String, Path, format = Uuid, description = "post id")),
    request_body = PostPatch,
    responses(
        (status = 200, body = PostView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (publishing or published)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (text over the network's limit, link)")),
    security(("internal_token" = [])))]
pub async fn patch_post(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Json<PostPatch>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "post")?;
    let b = body.0;
    check_link(b.link.as_deref())?;
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = load_post(&tx, id, true).await?;
    let cur: String = row.get("state");
    if matches!(cur.as_str(), "publishing" | "published") {
        return Err(conflict(format!(
            "the post is {cur}; it can no longer be edited"
        )));
    }
    let network = parse_network(row.get("network"))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown network")))?;
    let text = match &b.text {
        Some(t) => {
            if t.trim().is_empty() {
                return Err(AppError::validation("text", "must not be blank"));
            }
            let media: Option<Uuid> = row.get("media_id");
            Some(posts::check_text(
                network,
                row.get("marker"),
                t,
                media.is_some(),
            )?)
        }
        None => None,
    };
    let auto: bool = tx
        .query_one(
            "SELECT auto_approve FROM channels WHERE id = $1",
            &[&row.get::<_, Uuid>("channel_id")],
        )
        .await
        .map_err(q)?
        .get(0);
    let next_state = match cur.as_str() {
        "approved" | "scheduled" | "failed" if !auto => "draft",
        "failed" => "approved",
        s => s,
    };
    tx.execute(
        "UPDATE posts SET text = COALESCE($2, text), title = COALESCE($3, title), link = COALESCE($4, link),
            scheduled_at = COALESCE($5, scheduled_at), state = $6,
            approved_by = CASE WHEN $6 = 'draft' THEN NULL ELSE approved_by END,
            approved_at = CASE WHEN $6 = 'draft' THEN NULL ELSE approved_at END,
            updated_at = now()
         WHERE id = $1",
        &[
            &id,
            &text,
            &b.title.map(|t| t.into_inner()),
            &b.link.map(|t| t.into_inner()),
            &b.scheduled_at,
            &next_state,
        ],
    )
    .await
    .map_err(q)?;
    // An approved post with a time is scheduled.
    tx.execute(
        "UPDATE posts SET state = 'scheduled' WHERE id = $1 AND state = 'approved' AND scheduled_at IS NOT NULL",
        &[&id],
    )
    .await
    .map_err(q)?;
    let row = load_post(&tx, id, false).await?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(store::post_view(&row, &state.cfg.content.public_base_url)))
}

/// Approve a draft: it is scheduled (published at its time, or now).
#[utoipa::path(post, path = "/api/v1/admin/social/posts/{id}/approve",
    params(("id" = String, Path, format = Uuid, description = "post id")),
    responses(
        (status = 200, body = PostView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (not a draft)")),
    security(("internal_token" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "post")?;
    transition(
        &state,
        id,
        &["draft"],
        "UPDATE posts SET state = 'scheduled', scheduled_at = COALESCE(scheduled_at, now()),
            approved_by = $2, approved_at = now(), rejected_reason = NULL, updated_at = now() WHERE id = $1",
        Some(p.user_id.as_uuid()),
        None,
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: Line<500>,
}

/// Reject a post that is not publishing or published, with a reason.
#[utoipa::path(post, path = "/api/v1/admin/social/posts/{id}/reject",
    params(("id" = String, Path, format = Uuid, description = "post id")),
    request_body = Rejection,
    responses(
        (status = 200, body = PostView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (publishing, published or already rejected)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (reason)")),
    security(("internal_token" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
    body: Json<Rejection>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "post")?;
    let reason = body.0.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::validation("reason", "must not be blank"));
    }
    transition(
        &state,
        id,
        &["draft", "approved", "scheduled", "failed"],
        "UPDATE posts SET state = 'rejected', rejected_reason = $2, updated_at = now() WHERE id = $1",
        None,
        Some(reason),
    )
    .await
}

/// Publish an approved, scheduled or failed post now. For a failed post
/// this is the admin's word that it is not on the network (check the
/// `#jf…` marker first when its last error says the outcome is unknown).
#[utoipa::path(post, path = "/api/v1/admin/social/posts/{id}/publish-now",
    params(("id" = String, Path, format = Uuid, description = "post id")),
    responses(
        (status = 200, body = PostView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (a draft needs approval; publishing, published or rejected)")),
    security(("internal_token" = [])))]
pub async fn publish_now(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "post")?;
    transition(
        &state,
        id,
        &["approved", "scheduled", "failed"],
        "UPDATE posts SET state = 'scheduled', scheduled_at = now(),
            attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
            maybe_sent = CASE WHEN state = 'failed' THEN false ELSE maybe_sent END,
            updated_at = now() WHERE id = $1",
        None,
        None,
    )
    .await
}

async fn transition(
    state: &AppState,
    id: Uuid,
    from: &[&str],
    sql: &str,
    admin: Option<Uuid>,
    reason: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = load_post(&tx, id, true).await?;
    let cur: String = row.get("state");
    if !from.contains(&cur.as_str()) {
        return Err(conflict(format!(
            "the post is {cur}; this needs it to be {}",
            from.join(" or ")
        )));
    }
    match (admin, reason) {
        (Some(a), _) => tx.execute(sql, &[&id, &a]).await,
        (None, Some(r)) => tx.execute(sql, &[&id, &r]).await,
        (None, None) => tx.execute(sql, &[&id]).await,
    }
    .map_err(q)?;
    let row = load_post(&tx, id, false).await?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(store::post_view(&row, &state.cfg.content.public_base_url)))
}

// ------------------------------------------------------------------ generate

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub generator: Generator,
    /// The day (panchang, teaching), or the eve of the observances announced.
    #[schema(value_type = String, format = Date, example = "2026-12-01")]
    pub date: NaiveDate,
    /// 1 to 20 channels.
    #[schema(value_type = Vec<String>)]
    pub channel_ids: Vec<Uuid>,
    #[serde(default)]
    pub params: Option<Params>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Generated {
    /// False when the generator had nothing to say (no observance the next day).
    pub generated: bool,
    pub posts: Vec<Made>,
    /// What the content was made from.
    #[schema(value_type = Object)]
    pub source: Value,
}

/// Run a generator now, for a date: drafts (or approved posts, on channels
/// that approve automatically) for each channel.
#[utoipa::path(post, path = "/api/v1/admin/social/generate", request_body = GenerateRequest,
    responses(
        (status = 200, body = Generated),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found (the knowledge base has nothing on the topic)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (date, channel_ids, params.*)"),
        (status = 502, body = ErrorBody, description = "bad_gateway (guidance answered with nothing)"),
        (status = 503, body = ErrorBody, description = "service_unavailable (charts or guidance did not answer)")),
    security(("internal_token" = [])))]
pub async fn generate_now(
    state: web::Data<AppState>,
    _a: Admin,
    body: Json<GenerateRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let params = b.params.unwrap_or_default();
    params.check(b.generator)?;
    let lo = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
    let hi = NaiveDate::from_ymd_opt(2050, 12, 30).unwrap_or_default();
    if b.date < lo || b.date > hi {
        return Err(AppError::validation(
            "date",
            "must be between 1900-01-01 and 2050-12-30",
        ));
    }
    {
        let c = platform::db::conn(&state.pool).await?;
        check_channels(&c, &b.channel_ids).await?;
        if let Some(cid) = b.campaign_id {
            if c.query_opt("SELECT 1 FROM campaigns WHERE id = $1", &[&cid])
                .await
                .map_err(q)?
                .is_none()
            {
                return Err(AppError::validation("campaign_id", "no such campaign"));
            }
        }
    }
    let Some(content) = generate::run(&state.sources(), b.generator, b.date, &params).await? else {
        return Ok(HttpResponse::Ok().json(Generated {
            generated: false,
            posts: Vec::new(),
            source: Value::Null,
        }));
    };
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let chans = posts::channels(&tx, &b.channel_ids).await?;
    let made = posts::create_from(
        &tx,
        &content,
        &chans,
        &Origin {
            schedule_id: None,
            campaign_id: b.campaign_id,
            scheduled_at: None,
        },
    )
    .await?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(Generated {
        generated: true,
        posts: made,
        source: content.source,
    }))
}

// ----------------------------------------------------------------- analytics

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// One campaign only.
    #[param(format = Uuid)]
    pub campaign_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignTotals {
    /// `null` for posts outside any campaign.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
    pub name: Option<String>,
    pub published: i64,
    pub failed: i64,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub views: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PostMetricsView {
    #[schema(value_type = String, format = Uuid)]
    pub post_id: Uuid,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
    pub network: String,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub reactions: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    /// When the numbers were pulled (`null`: not yet).
    pub fetched_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Analytics {
    pub campaigns: Vec<CampaignTotals>,
    /// The 200 most recently published posts and their numbers.
    pub posts: Vec<PostMetricsView>,
}

/// Reactions, comments, shares and views per campaign and per post, as last
/// pulled from the networks.
#[utoipa::path(get, path = "/api/v1/admin/social/analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = Analytics),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 422, body = ErrorBody, description = "validation_failed (campaign_id)")),
    security(("internal_token" = [])))]
pub async fn analytics(
    state: web::Data<AppState>,
    _a: Admin,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, AppError> {
    let campaign = uuid_param("campaign_id", query.campaign_id.as_deref())?;
    let c = platform::db::conn(&state.pool).await?;
    let totals = c
        .query(
            "SELECT p.campaign_id, k.name,
                    count(*) FILTER (WHERE p.state = 'published'),
                    count(*) FILTER (WHERE p.state = 'failed'),
                    COALESCE(sum(m.reactions), 0)::bigint, COALESCE(sum(m.comments), 0)::bigint,
                    COALESCE(sum(m.shares), 0)::bigint, COALESCE(sum(m.views), 0)::bigint
             FROM posts p LEFT JOIN metrics m ON m.post_id = p.id LEFT JOIN campaigns k ON k.id = p.campaign_id
             WHERE ($1::uuid IS NULL OR p.campaign_id = $1)
             GROUP BY p.campaign_id, k.name ORDER BY k.name NULLS LAST",
            &[&campaign],
        )
        .await
        .map_err(q)?;
    let posts = c
        .query(
            "SELECT p.id, p.campaign_id, c.network, p.url, p.published_at, m.reactions, m.comments, m.shares, m.views, m.fetched_at
             FROM posts p JOIN channels c ON c.id = p.channel_id LEFT JOIN metrics m ON m.post_id = p.id
             WHERE p.state = 'published' AND ($1::uuid IS NULL OR p.campaign_id = $1)
             ORDER BY p.published_at DESC LIMIT 200",
            &[&campaign],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(Analytics {
        campaigns: totals
            .iter()
            .map(|r| CampaignTotals {
                campaign_id: r.get(0),
                name: r.get(1),
                published: r.get(2),
                failed: r.get(3),
                reactions: r.get(4),
                comments: r.get(5),
                shares: r.get(6),
                views: r.get(7),
            })
            .collect(),
        posts: posts
            .iter()
            .map(|r| PostMetricsView {
                post_id: r.get(0),
                campaign_id: r.get(1),
                network: r.get(2),
                url: r.get(3),
                published_at: r.get(4),
                reactions: r.get(5),
                comments: r.get(6),
                shares: r.get(7),
                views: r.get(8),
                fetched_at: r.get(9),
            })
            .collect(),
    }))
}

// ------------------------------------------------------------------ comments

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// `new`, `suggested`, `replied`, `dismissed` or `failed` (all when absent).
    pub state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub post_id: Uuid,
    pub network: String,
    pub author: Option<String>,
    pub text: String,
    pub commented_at: Option<String>,
    pub state: String,
    /// A reply guidance suggested; it is posted only when an admin approves.
    pub suggested_reply: Option<String>,
    pub reply_text: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentList {
    pub comments: Vec<CommentView>,
}

const COMMENT_COLUMNS: &str = "k.id, k.post_id, c.network, k.author, k.text, k.commented_at, k.state, k.suggested_reply, k.reply_text, k.error, k.created_at";

fn comment_view(r: &tokio_postgres::Row) -> CommentView {
    CommentView {
        id: r.get(0),
        post_id: r.get(1),
        network: r.get(2),
        author: r.get(3),
        text: r.get(4),
        commented_at: r.get(5),
        state: r.get(6),
        suggested_reply: r.get(7),
        reply_text: r.get(8),
        error: r.get(9),
        created_at: r.get(10),
    }
}

/// The comment inbox, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/admin/social/comments", params(CommentQuery),
    responses(
        (status = 200, body = CommentList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 422, body = ErrorBody, description = "validation_failed (state)")),
    security(("internal_token" = [])))]
pub async fn comments(
    state: web::Data<AppState>,
    _a: Admin,
    query: web::Query<CommentQuery>,
) -> Result<HttpResponse, AppError> {
    let st = match query.state.as_deref() {
        None => None,
        Some(s @ ("new" | "suggested" | "replied" | "dismissed" | "failed")) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::validation(
                "state",
                "must be new, suggested, replied, dismissed or failed",
            ))
        }
    };
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COMMENT_COLUMNS} FROM comments k JOIN posts p ON p.id = k.post_id JOIN channels c ON c.id = p.channel_id
                 WHERE ($1::text IS NULL OR k.state = $1) ORDER BY k.created_at DESC LIMIT 500"
            ),
            &[&st],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(CommentList {
        comments: rows.iter().map(comment_view).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyApproval {
    /// The reply to post (the suggested one when absent).
    #[serde(default)]
    pub text: Option<Text<2000>>,
}

/// Post a reply to a comment: the suggested one, or the admin's own text.
#[utoipa::path(post, path = "/api/v1/admin/social/comments/{id}/reply",
    params(("id" = String, Path, format = Uuid, description = "comment id")),
    request_body = ReplyApproval,
    responses(
        (status = 200, body = CommentView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (already replied or dismissed)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (text: none given and none suggested)"),
        (status = 502, body = ErrorBody, description = "provider_error (the network refused the reply; recorded on the comment)")),
    security(("internal_token" = [])))]
pub async fn reply(
    state: web::Data<AppState>,
    Admin(p): Admin,
    path: web::Path<String>,
    body: Json<ReplyApproval>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "comment")?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            &format!(
                "SELECT k.state, k.suggested_reply, k.provider_comment_id, {} FROM comments k
                 JOIN posts p ON p.id = k.post_id JOIN channels c ON c.id = p.channel_id WHERE k.id = $1",
                store::CHANNEL_COLUMNS
                    .split(", ")
                    .map(|col| format!("c.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("comment"))?;
    let cur: String = row.get(0);
    if matches!(cur.as_str(), "replied" | "dismissed") {
        return Err(conflict(format!("the comment is {cur}")));
    }
    let text = match body.0.text {
        Some(t) => t.into_inner(),
        None => row.get::<_, Option<String>>(1).unwrap_or_default(),
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(AppError::validation(
            "text",
            "give the reply's text (no reply was suggested)",
        ));
    }
    check_line("text", &text.replace('\n', " "), 2000)?;
    let ch = store::channel_row(&row)?;
    let provider_comment: String = row.get(2);
    let publisher = channels::publisher(&state.cfg.networks, &state.keyring, &ch)?;
    match publisher.reply(&provider_comment, &text).await {
        Ok(reply_id) => {
            c.execute(
                "UPDATE comments SET state = 'replied', reply_text = $2, reply_id = $3, replied_by = $4, error = NULL WHERE id = $1",
                &[&id, &text, &reply_id, &p.user_id.as_uuid()],
            )
            .await
            .map_err(q)?;
        }
        Err(e) => {
            c.execute(
                "UPDATE comments SET state = 'failed', error = $2 WHERE id = $1",
                &[&id, &e.to_string()],
            )
            .await
            .map_err(q)?;
            return Err(AppError::new(ErrorCode::ProviderError, e.to_string()));
        }
    }
    let row = c
        .query_one(
            &format!("SELECT {COMMENT_COLUMNS} FROM comments k JOIN posts p ON p.id = k.post_id JOIN channels c ON c.id = p.channel_id WHERE k.id = $1"),
            &[&id],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(comment_view(&row)))
}

/// Dismiss a comment (no reply).
#[utoipa::path(post, path = "/api/v1/admin/social/comments/{id}/dismiss",
    params(("id" = String, Path, format = Uuid, description = "comment id")),
    responses(
        (status = 200, body = CommentView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = ErrorBody, description = "not_found"),
        (status = 409, body = ErrorBody, description = "conflict (already replied)")),
    security(("internal_token" = [])))]
pub async fn dismiss(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "comment")?;
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "UPDATE comments SET state = 'dismissed' WHERE id = $1 AND state <> 'replied'",
            &[&id],
        )
        .await
        .map_err(q)?;
    let row = c
        .query_opt(
            &format!("SELECT {COMMENT_COLUMNS} FROM comments k JOIN posts p ON p.id = k.post_id JOIN channels c ON c.id = p.channel_id WHERE k.id = $1"),
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("comment"))?;
    if n == 0 {
        return Err(conflict("the comment was already replied to"));
    }
    Ok(HttpResponse::Ok().json(comment_view(&row)))
}

// --------------------------------------------------------------------- media

/// A file's raw bytes (a response body that is not JSON).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::Type(
                utoipa::openapi::schema::Type::String,
            ))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// A rendered card (public: the networks fetch images from here).
#[utoipa::path(get, path = "/api/v1/social/media/{id}",
    params(("id" = String, Path, format = Uuid, description = "media id")),
    responses(
        (status = 200, content_type = "image/png", body = Binary, description = "the PNG"),
        (status = 404, body = ErrorBody, description = "not_found")))]
pub async fn media(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path, "media")?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            "SELECT content_type, bytes FROM media WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("media"))?;
    Ok(HttpResponse::Ok()
        .content_type(row.get::<_, String>(0))
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(row.get::<_, Vec<u8>>(1)))
}
