//! Rows of the social schema and the views the API answers with.

use crate::channels::{parse_network, ChannelRow};
use crate::credentials::Sealed;
use chrono::{DateTime, NaiveDate, Utc};
use platform::db::q;
use platform::AppError;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

pub const CHANNEL_COLUMNS: &str = "id, network, name, account_id, credentials, language, hashtags, auto_approve, enabled, status, status_reason, created_at, updated_at";

pub fn channel_row(r: &Row) -> Result<ChannelRow, AppError> {
    let network: String = r.get("network");
    Ok(ChannelRow {
        id: r.get("id"),
        network: parse_network(&network)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown network {network:?}")))?,
        name: r.get("name"),
        account_id: r.get("account_id"),
        credentials: Sealed::from_stored(r.get::<_, String>("credentials")),
        language: r.get("language"),
        hashtags: r.get("hashtags"),
        auto_approve: r.get("auto_approve"),
        enabled: r.get("enabled"),
        status: r.get("status"),
        status_reason: r.get("status_reason"),
    })
}

/// A channel as the API shows it: never its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `facebook`, `instagram`, `x`, `youtube` or `telegram`.
    pub network: String,
    pub name: String,
    pub account_id: String,
    /// `en`, `ta` or `hi`.
    pub language: String,
    pub hashtags: Vec<String>,
    pub auto_approve: bool,
    pub enabled: bool,
    /// `ok`, or `credentials_expired` (reconnect: set a new token).
    pub status: String,
    pub status_reason: Option<String>,
    /// The id of the key the token is sealed with (the token itself is never shown).
    pub credentials_key_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn channel_view(r: &Row) -> ChannelView {
    let sealed = Sealed::from_stored(r.get::<_, String>("credentials"));
    ChannelView {
        id: r.get("id"),
        network: r.get("network"),
        name: r.get("name"),
        account_id: r.get("account_id"),
        language: r.get("language"),
        hashtags: r.get("hashtags"),
        auto_approve: r.get("auto_approve"),
        enabled: r.get("enabled"),
        status: r.get("status"),
        status_reason: r.get("status_reason"),
        credentials_key_id: sealed.key_id().map(str::to_owned),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

pub fn campaign_view(r: &Row) -> CampaignView {
    CampaignView {
        id: r.get("id"),
        name: r.get("name"),
        description: r.get("description"),
        created_at: r.get("created_at"),
    }
}

pub const SCHEDULE_COLUMNS: &str = "id, campaign_id, generator, cron, tz, channel_ids, params, enabled, next_run_at, last_run_at, last_error, created_at";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
    /// `panchang`, `observance` or `teaching`.
    pub generator: String,
    /// Five fields (minute hour day month weekday) or a nickname (`@daily`).
    pub cron: String,
    /// The IANA zone the expression is read in.
    pub tz: String,
    #[schema(value_type = Vec<String>)]
    pub channel_ids: Vec<Uuid>,
    #[schema(value_type = Object)]
    pub params: Value,
    pub enabled: bool,
    /// When it fires next (UTC).
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub fn schedule_view(r: &Row) -> ScheduleView {
    ScheduleView {
        id: r.get("id"),
        campaign_id: r.get("campaign_id"),
        generator: r.get("generator"),
        cron: r.get("cron"),
        tz: r.get("tz"),
        channel_ids: r.get("channel_ids"),
        params: r.get("params"),
        enabled: r.get("enabled"),
        next_run_at: r.get("next_run_at"),
        last_run_at: r.get("last_run_at"),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
    }
}

pub const POST_COLUMNS: &str = "p.id, p.channel_id, c.network, p.campaign_id, p.schedule_id, p.generator, p.for_date, p.state, p.text, p.title, p.link, p.media_id, p.marker, p.scheduled_at, p.approved_by, p.approved_at, p.rejected_reason, p.attempts, p.provider_post_id, p.url, p.published_at, p.last_error, p.created_at, p.updated_at";

/// A post.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PostView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: Uuid,
    pub network: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub campaign_id: Option<Uuid>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub schedule_id: Option<Uuid>,
    /// `panchang`, `observance`, `teaching` or `manual`.
    pub generator: String,
    pub for_date: Option<NaiveDate>,
    /// `draft`, `approved`, `scheduled`, `publishing`, `published`, `failed` or `rejected`.
    pub state: String,
    /// The text as it will be published (with the `#jf…` marker).
    pub text: String,
    pub title: Option<String>,
    pub link: Option<String>,
    /// The image (public URL of the rendered card), if any.
    pub media_url: Option<String>,
    /// The idempotency marker (`jf` + 8 characters), published as a hashtag.
    pub marker: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_reason: Option<String>,
    pub attempts: i32,
    pub provider_post_id: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (the provider's message).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn post_view(r: &Row, public_base: &str) -> PostView {
    let media: Option<Uuid> = r.get("media_id");
    PostView {
        id: r.get("id"),
        channel_id: r.get("channel_id"),
        network: r.get("network"),
        campaign_id: r.get("campaign_id"),
        schedule_id: r.get("schedule_id"),
        generator: r.get("generator"),
        for_date: r.get("for_date"),
        state: r.get("state"),
        text: r.get("text"),
        title: r.get("title"),
        link: r.get("link"),
        media_url: media.map(|m| media_url(public_base, m)),
        marker: r.get("marker"),
        scheduled_at: r.get("scheduled_at"),
        approved_by: r.get("approved_by"),
        approved_at: r.get("approved_at"),
        rejected_reason: r.get("rejected_reason"),
        attempts: r.get("attempts"),
        provider_post_id: r.get("provider_post_id"),
        url: r.get("url"),
        published_at: r.get("published_at"),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// The public URL of a stored image.
pub fn media_url(public_base: &str, id: Uuid) -> String {
    format!(
        "{}/api/v1/social/media/{id}",
        public_base.trim_end_matches('/')
    )
}

/// One publishing attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub number: i32,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `published`, `found` (an earlier attempt had published it), `retry` or `failed`; none while running.
    pub outcome: Option<String>,
    /// What was sent (never credentials).
    #[schema(value_type = Object)]
    pub request: Value,
    pub provider_post_id: Option<String>,
    pub error: Option<String>,
}

pub async fn attempts<C: deadpool_postgres::GenericClient>(
    c: &C,
    post: Uuid,
) -> Result<Vec<AttemptView>, AppError> {
    let rows = c
        .query(
            "SELECT number, worker, started_at, finished_at, outcome, request, provider_post_id, error
             FROM attempts WHERE post_id = $1 ORDER BY id",
            &[&post],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| AttemptView {
            number: r.get(0),
            worker: r.get(1),
            started_at: r.get(2),
            finished_at: r.get(3),
            outcome: r.get(4),
            request: r.get(5),
            provider_post_id: r.get(6),
            error: r.get(7),
        })
        .collect())
}

/// Stores a PNG once (by its hash) and returns its id.
pub async fn store_png<C: deadpool_postgres::GenericClient>(
    c: &C,
    png: &[u8],
    width: u32,
    height: u32,
) -> Result<Uuid, AppError> {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(png));
    if let Some(r) = c
        .query_opt("SELECT id FROM media WHERE sha256 = $1 LIMIT 1", &[&sha])
        .await
        .map_err(q)?
    {
        return Ok(r.get(0));
    }
    let id = Uuid::new_v4();
    let (w, h) = (
        i32::try_from(width).unwrap_or(i32::MAX),
        i32::try_from(height).unwrap_or(i32::MAX),
    );
    c.execute(
        "INSERT INTO media (id, content_type, width, height, sha256, bytes) VALUES ($1, 'image/png', $2, $3, $4, $5)",
        &[&id, &w, &h, &sha, &png],
    )
    .await
    .map_err(q)?;
    Ok(id)
}
