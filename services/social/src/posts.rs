//! Creating posts from generated content, and the admin's state changes:
//! draft → approved → scheduled → publishing → published | failed, and
//! rejected (with a reason) from any state before publishing.

use crate::channels::{surface, ChannelRow};
use crate::generate::{for_channel, Content};
use crate::networks::{Marker, Network, OutgoingPost};
use crate::store::{self, CHANNEL_COLUMNS};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use platform::db::q;
use platform::AppError;
use serde::Serialize;
use uuid::Uuid;

/// What a generator run made for one channel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Made {
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: Uuid,
    /// The post (absent when skipped, or already made by an earlier run).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub post_id: Option<Uuid>,
    /// Why no post was made for this channel.
    pub skipped: Option<String>,
}

/// Where the posts come from.
pub struct Origin {
    pub schedule_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub scheduled_at: Option<DateTime<Utc>>,
}

pub async fn channels<C: GenericClient>(c: &C, ids: &[Uuid]) -> Result<Vec<ChannelRow>, AppError> {
    let rows = c
        .query(
            &format!(
                "SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ANY($1) ORDER BY created_at"
            ),
            &[&ids],
        )
        .await
        .map_err(q)?;
    rows.iter().map(store::channel_row).collect()
}

/// Inserts one post per channel for `content` (inside the caller's
/// transaction). A schedule's run makes at most one post per channel and
/// date, whatever happens (a crash, a second replica).
pub async fn create_from<C: GenericClient>(
    tx: &C,
    content: &Content,
    chans: &[ChannelRow],
    origin: &Origin,
) -> Result<Vec<Made>, AppError> {
    let mut made = Vec::new();
    for ch in chans {
        let skip = if !ch.enabled {
            Some("the channel is disabled".to_owned())
        } else if ch.network == Network::YouTube {
            Some("YouTube takes videos; this generator makes an image post".to_owned())
        } else {
            None
        };
        if let Some(why) = skip {
            made.push(Made {
                channel_id: ch.id,
                post_id: None,
                skipped: Some(why),
            });
            continue;
        }
        let marker = match origin.schedule_id {
            Some(s) => Marker::for_key(format!("{s}:{}:{}", ch.id, content.date).as_bytes()),
            None => Marker::random(),
        };
        // Rendering a card takes tens of milliseconds: not on the async threads.
        let (c2, ch2, m2) = (content.clone(), ch.clone(), marker.clone());
        let fitted = tokio::task::spawn_blocking(move || for_channel(&c2, &ch2, &m2))
            .await
            .map_err(AppError::internal)??;
        let media_id = match (&fitted.png, fitted.size) {
            (Some(png), Some(size)) => {
                Some(store::store_png(tx, png, size.width(), size.height()).await?)
            }
            _ => None,
        };
        let state = if ch.auto_approve {
            if origin.scheduled_at.is_some() {
                "scheduled"
            } else {
                "approved"
            }
        } else {
            "draft"
        };
        let id = Uuid::new_v4();
        let generator = content.generator.as_str();
        let n = tx
            .execute(
                "INSERT INTO posts (id, channel_id, campaign_id, schedule_id, generator, for_date, state, text, media_id, source, marker, scheduled_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &ch.id,
                    &origin.campaign_id,
                    &origin.schedule_id,
                    &generator,
                    &content.date,
                    &state,
                    &fitted.text,
                    &media_id,
                    &content.source,
                    &marker.as_str(),
                    &origin.scheduled_at,
                ],
            )
            .await
            .map_err(q)?;
        made.push(Made {
            channel_id: ch.id,
            post_id: (n == 1).then_some(id),
            skipped: (n == 0).then(|| "already made by an earlier run".to_owned()),
        });
    }
    Ok(made)
}

/// Checks `text` as it would be published on `network` (marker included).
pub fn check_text(
    network: Network,
    marker: &str,
    text: &str,
    with_media: bool,
) -> Result<String, AppError> {
    let marker = Marker::parse(marker).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let post = OutgoingPost::text(marker, text);
    post.checked_text(surface(network, with_media))
        .map_err(|e| AppError::validation("text", e.to_string()))
}
