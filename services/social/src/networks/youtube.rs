//! YouTube Data API v3 (`https://www.googleapis.com`), OAuth 2.0 access
//! token as `Authorization: Bearer`.
//!
//! Uploads use the resumable protocol:
//!
//! 1. `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!    with the JSON metadata, `X-Upload-Content-Length` and
//!    `X-Upload-Content-Type` → 200 with the session URI in `Location`;
//! 2. `PUT <session>` chunks with `Content-Range: bytes first-last/total`
//!    (chunks are multiples of 256 KiB but the last) → `308 Resume
//!    Incomplete` with `Range: bytes=0-last` (no `Range`: nothing stored),
//!    or 200/201 with the video resource when complete;
//! 3. after an interrupted `PUT`: `PUT <session>` with `Content-Length: 0`
//!    and `Content-Range: bytes */total` → 308 and `Range` (resume from
//!    `last + 1`) or 200/201 (it had everything); 404 means the session
//!    expired and a new one starts (no video exists until an upload
//!    completes).
//!
//! Also `videos?part=statistics`, `commentThreads` and `comments` (reply),
//! `channels?mine=true` + `playlistItems` (the uploads playlist, for the
//! marker lookup). Errors are `{error: {code, message, errors: [{reason}]}}`;
//! 403 with `quotaExceeded` / `rateLimitExceeded` is a rate limit.

use super::http::{self, Answer};
use super::{
    retrying, retrying_unsent, Comment, Marker, MediaKind, Network, NetworkError, NetworkResult,
    OutgoingPost, PostMetrics, Published, Publisher, RetryPolicy,
};
use crate::limits::Surface;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::fmt;
use std::time::Duration;

const NET: Network = Network::YouTube;
/// Chunks are multiples of this (but the last).
pub const CHUNK_QUANTUM: usize = 256 * 1024;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct YouTubeConfig {
    pub base_url: String,
    /// For API calls other than upload `PUT`s.
    pub timeout_ms: u64,
    /// For each upload `PUT`.
    pub upload_timeout_ms: u64,
    /// Bytes per `PUT`, rounded down to a multiple of 256 KiB (at least one).
    pub chunk_size: usize,
    pub retry: RetryPolicy,
    /// `public`, `unlisted` or `private`.
    pub privacy_status: String,
    pub category_id: String,
    pub made_for_kids: bool,
    pub lookup_limit: u32,
}

impl Default for YouTubeConfig {
    fn default() -> YouTubeConfig {
        YouTubeConfig {
            base_url: "https://www.googleapis.com".into(),
            timeout_ms: 30_000,
            upload_timeout_ms: 600_000,
            chunk_size: 32 * CHUNK_QUANTUM,
            retry: RetryPolicy::default(),
            privacy_status: "public".into(),
            category_id: "22".into(),
            made_for_kids: false,
            lookup_limit: 25,
        }
    }
}

/// A connected channel.
#[derive(Clone, Debug)]
pub struct YouTubeChannel {
    pub access_token: SecretString,
}

/// A resumable upload session. The URI itself authorises uploads, so
/// `Debug` does not show it.
#[derive(Clone)]
pub struct UploadSession {
    uri: reqwest::Url,
    total: u64,
    content_type: String,
}

impl fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadSession")
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// Where an upload stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadProgress {
    Complete(Video),
    /// The session holds bytes `0..next`.
    Incomplete {
        next: u64,
    },
}

/// A video resource (the parts read here).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Video {
    pub id: String,
    #[serde(default)]
    pub snippet: Option<serde_json::Value>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

pub struct YouTube {
    client: reqwest::Client,
    base_url: String,
    channel: YouTubeChannel,
    retry: RetryPolicy,
    api_timeout: Duration,
    upload_timeout: Duration,
    chunk_size: usize,
    privacy_status: String,
    category_id: String,
    made_for_kids: bool,
    lookup_limit: u32,
}

impl fmt::Debug for YouTube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YouTube")
            .field("base_url", &self.base_url)
            .field("channel", &self.channel)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct ChannelItem {
    #[serde(rename = "contentDetails")]
    content_details: ContentDetails,
}

#[derive(Deserialize)]
struct ContentDetails {
    #[serde(rename = "relatedPlaylists")]
    related_playlists: RelatedPlaylists,
}

#[derive(Deserialize)]
struct RelatedPlaylists {
    uploads: String,
}

#[derive(Deserialize)]
struct PlaylistItem {
    snippet: PlaylistSnippet,
}

#[derive(Deserialize)]
struct PlaylistSnippet {
    #[serde(default)]
    description: String,
    #[serde(rename = "resourceId")]
    resource_id: ResourceId,
}

#[derive(Deserialize)]
struct ResourceId {
    #[serde(rename = "videoId", default)]
    video_id: String,
}

#[derive(Deserialize)]
struct StatsItem {
    #[serde(default)]
    statistics: Statistics,
}

#[derive(Deserialize, Default)]
struct Statistics {
    #[serde(rename = "viewCount", default)]
    view_count: Option<String>,
    #[serde(rename = "likeCount", default)]
    like_count: Option<String>,
    #[serde(rename = "commentCount", default)]
    comment_count: Option<String>,
}

#[derive(Deserialize)]
struct Thread {
    snippet: ThreadSnippet,
}

#[derive(Deserialize)]
struct ThreadSnippet {
    #[serde(rename = "topLevelComment")]
    top_level_comment: YtComment,
}

#[derive(Deserialize)]
struct YtComment {
    id: String,
    snippet: YtCommentSnippet,
}

#[derive(Deserialize)]
struct YtCommentSnippet {
    #[serde(rename = "textOriginal", default)]
    text_original: Option<String>,
    #[serde(rename = "textDisplay", default)]
    text_display: Option<String>,
    #[serde(rename = "authorDisplayName", default)]
    author_display_name: Option<String>,
    #[serde(rename = "publishedAt", default)]
    published_at: Option<String>,
}

fn google_error(a: &Answer, secret: &str) -> NetworkError {
    let v = a.value();
    let status = a.status.as_u16();
    let message = [&v["error"]["message"], &v["error_description"], &v["error"]]
        .iter()
        .find_map(|x| x.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .map(|m| http::clean(&m, secret))
        .unwrap_or_else(|| http::body_text(&a.body, secret));
    let reason = v["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let provider_message = match (message.is_empty(), reason.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (true, false) => reason.clone(),
        (false, true) => message,
        (false, false) => format!("{message} [{reason}]"),
    };
    match status {
        401 => NetworkError::ExpiredCredentials {
            network: NET,
            provider_message,
        },
        403 if matches!(
            reason.as_str(),
            "quotaExceeded" | "rateLimitExceeded" | "userRateLimitExceeded"
        ) =>
        {
            NetworkError::RateLimited {
                network: NET,
                retry_after: http::retry_after(&a.headers),
                provider_message,
            }
        }
        403 => NetworkError::Unauthorized {
            network: NET,
            provider_message,
        },
        429 => NetworkError::RateLimited {
            network: NET,
            retry_after: http::retry_after(&a.headers),
            provider_message,
        },
        s if s >= 500 => NetworkError::Unavailable {
            network: NET,
            reason: provider_message,
            request_sent: true,
        },
        _ => NetworkError::Rejected {
            network: NET,
            status: Some(status),
            provider_message,
        },
    }
}

fn session_gone(e: &NetworkError) -> bool {
    matches!(
        e,
        NetworkError::Rejected {
            network: Network::YouTube,
            status: Some(404 | 410),
            ..
        }
    )
}

/// The next byte the session wants, from `Range: bytes=0-last`.
fn next_from_range(headers: &reqwest::header::HeaderMap) -> NetworkResult<u64> {
    let Some(v) = headers.get(reqwest::header::RANGE) else {
        return Ok(0);
    };
    let bad = || NetworkError::InvalidResponse {
        network: NET,
        reason: "an unreadable Range header on 308".into(),
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let range = s.strip_prefix("bytes=").ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    if first != 0 || last < first {
        return Err(bad());
    }
    Ok(last + 1)
}

impl YouTube {
    pub fn new(cfg: &YouTubeConfig, channel: YouTubeChannel) -> anyhow::Result<YouTube> {
        Ok(YouTube {
            client: http::client(Duration::from_millis(
                cfg.timeout_ms.max(cfg.upload_timeout_ms),
            ))?,
            base_url: http::base_url(NET, &cfg.base_url)?,
            channel,
            retry: cfg.retry.clone(),
            api_timeout: Duration::from_millis(cfg.timeout_ms),
            upload_timeout: Duration::from_millis(cfg.upload_timeout_ms),
            chunk_size: (cfg.chunk_size / CHUNK_QUANTUM).max(1) * CHUNK_QUANTUM,
            privacy_status: cfg.privacy_status.clone(),
            category_id: cfg.category_id.clone(),
            made_for_kids: cfg.made_for_kids,
            lookup_limit: cfg.lookup_limit.clamp(1, 50),
        })
    }

    fn token(&self) -> &str {
        self.channel.access_token.expose_secret()
    }

    /// Per request: the client's own timeout is the longer upload one.
    fn api_timeout(&self) -> Duration {
        self.api_timeout
    }

    async fn call(&self, rb: reqwest::RequestBuilder) -> NetworkResult<Answer> {
        let a = http::send(NET, rb.bearer_auth(self.token())).await?;
        if a.status.is_success() {
            Ok(a)
        } else {
            Err(google_error(&a, self.token()))
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> NetworkResult<Answer> {
        let u = http::url(NET, &self.base_url, path, query)?;
        self.call(self.client.get(u).timeout(self.api_timeout()))
            .await
    }

    /// Starts a resumable upload of `total` bytes with `metadata` (the
    /// video resource's `snippet` and `status`).
    pub async fn start_upload(
        &self,
        metadata: &serde_json::Value,
        total: u64,
        content_type: &str,
    ) -> NetworkResult<UploadSession> {
        let u = http::url(
            NET,
            &self.base_url,
            "/upload/youtube/v3/videos",
            &[("uploadType", "resumable"), ("part", "snippet,status")],
        )?;
        let a = self
            .call(
                self.client
                    .post(u)
                    .timeout(self.api_timeout())
                    .header("X-Upload-Content-Length", total.to_string())
                    .header("X-Upload-Content-Type", content_type)
                    .json(metadata),
            )
            .await?;
        let location = a
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| NetworkError::InvalidResponse {
                network: NET,
                reason: "no upload session URI (Location)".into(),
            })?;
        let uri = reqwest::Url::parse(location).map_err(|_| NetworkError::InvalidResponse {
            network: NET,
            reason: "the upload session URI is not a URL".into(),
        })?;
        // The token goes to the session URI: only to the API's own origin.
        let base = reqwest::Url::parse(&self.base_url).map_err(|_| NetworkError::Invalid {
            network: NET,
            reason: "bad base URL".into(),
        })?;
        if uri.origin() != base.origin() {
            return Err(NetworkError::InvalidResponse {
                network: NET,
                reason: "the upload session URI is on another origin".into(),
            });
        }
        Ok(UploadSession {
            uri,
            total,
            content_type: content_type.to_owned(),
        })
    }

    async fn progress(&self, rb: reqwest::RequestBuilder) -> NetworkResult<UploadProgress> {
        let a = http::send(
            NET,
            rb.bearer_auth(self.token()).timeout(self.upload_timeout),
        )
        .await?;
        match a.status {
            StatusCode::OK | StatusCode::CREATED => {
                let v: Video = a.json(NET)?;
                if !http::plain_id(&v.id) {
                    return Err(NetworkError::InvalidResponse {
                        network: NET,
                        reason: "the finished upload has no usable video id".into(),
                    });
                }
                Ok(UploadProgress::Complete(v))
            }
            StatusCode::PERMANENT_REDIRECT => Ok(UploadProgress::Incomplete {
                next: next_from_range(&a.headers)?,
            }),
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(NetworkError::Rejected {
                network: NET,
                status: Some(a.status.as_u16()),
                provider_message: "the upload session no longer exists".into(),
            }),
            _ => Err(google_error(&a, self.token())),
        }
    }

    /// Asks the session how much it holds (`Content-Range: bytes */total`).
    pub async fn upload_status(&self, s: &UploadSession) -> NetworkResult<UploadProgress> {
        self.progress(
            self.client
                .put(s.uri.clone())
                .header(
                    reqwest::header::CONTENT_RANGE,
                    format!("bytes */{}", s.total),
                )
                .body(Vec::new()),
        )
        .await
    }

    /// Sends the chunk of `data` that starts at `offset`.
    pub async fn put_chunk(
        &self,
        s: &UploadSession,
        data: &Bytes,
        offset: u64,
    ) -> NetworkResult<UploadProgress> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(self.chunk_size).min(data.len());
        if start >= end {
            return Err(NetworkError::InvalidResponse {
                network: NET,
                reason: format!("the session asked for byte {offset} of {}", s.total),
            });
        }
        self.progress(
            self.client
                .put(s.uri.clone())
                .header(reqwest::header::CONTENT_TYPE, s.content_type.as_str())
                .header(
                    reqwest::header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", end - 1, s.total),
                )
                .body(data.slice(start..end)),
        )
        .await
    }

    /// Uploads `data` through the session in chunks, resuming after
    /// interruptions from what the session says it holds.
    pub async fn upload(&self, s: &UploadSession, data: &Bytes) -> NetworkResult<Video> {
        let mut offset = 0u64;
        let mut failures = 0u32;
        loop {
            let e = match self.put_chunk(s, data, offset).await {
                Ok(UploadProgress::Complete(v)) => return Ok(v),
                Ok(UploadProgress::Incomplete { next }) if next > offset && next < s.total => {
                    offset = next;
                    failures = 0;
                    continue;
                }
                Ok(UploadProgress::Incomplete { next }) => NetworkError::Unavailable {
                    network: NET,
                    reason: format!("the upload did not advance (at byte {next} of {})", s.total),
                    request_sent: true,
                },
                Err(e) => e,
            };
            failures += 1;
            let Some(delay) = self.retry.delay_for(&e, failures) else {
                return Err(e);
            };
            tracing::warn!(
                offset,
                attempt = failures,
                delay_ms = delay.as_millis() as u64,
                error = %e,
                "youtube: upload interrupted; asking the session where to resume"
            );
            tokio::time::sleep(delay).await;
            match retrying(NET, &self.retry, "upload status", || self.upload_status(s)).await? {
                UploadProgress::Complete(v) => return Ok(v),
                UploadProgress::Incomplete { next } if next < s.total => offset = next,
                UploadProgress::Incomplete { next } => {
                    return Err(NetworkError::InvalidResponse {
                        network: NET,
                        reason: format!(
                            "the session holds {next} of {} bytes but is not complete",
                            s.total
                        ),
                    })
                }
            }
        }
    }

    fn published(id: String) -> Published {
        let url = Some(format!("https://www.youtube.com/watch?v={id}"));
        Published {
            provider_post_id: id,
            url,
        }
    }

    #[tracing::instrument(name = "youtube.publish", skip_all, fields(marker = %post.marker))]
    pub async fn publish_post(&self, post: &OutgoingPost) -> NetworkResult<Published> {
        let description = post.checked_text(Surface::YouTubeDescription)?;
        let title = crate::limits::normalize(
            post.title
                .as_deref()
                .unwrap_or_else(|| post.text.lines().next().unwrap_or(""))
                .trim(),
        );
        if title.is_empty() {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "a video needs a title".into(),
            });
        }
        crate::limits::check(Surface::YouTubeTitle, &title)?;
        let Some((data, content_type)) =
            post.media.as_ref().and_then(|m| match (m.kind, &m.bytes) {
                (MediaKind::Video, Some(b)) if !b.is_empty() => {
                    Some((b.clone(), m.content_type.as_str()))
                }
                _ => None,
            })
        else {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "a YouTube post needs the video's bytes".into(),
            });
        };
        if post.prior_attempt {
            if let Some(found) = self.find(&post.marker).await? {
                return Ok(found);
            }
        }
        let metadata = json!({
            "snippet": {
                "title": title,
                "description": description,
                "tags": [post.marker.as_str()],
                "categoryId": self.category_id,
            },
            "status": {
                "privacyStatus": self.privacy_status,
                "selfDeclaredMadeForKids": self.made_for_kids,
            },
        });
        let total = data.len() as u64;
        let mut restarted = false;
        loop {
            // Opening a session creates nothing: safe to repeat.
            let session = retrying(NET, &self.retry, "start upload", || {
                self.start_upload(&metadata, total, content_type)
            })
            .await?;
            match self.upload(&session, &data).await {
                Ok(v) => return Ok(YouTube::published(v.id)),
                Err(e) if session_gone(&e) && !restarted => {
                    tracing::warn!("youtube: the upload session expired; starting a new one");
                    restarted = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The uploads playlist's recent video whose description carries
    /// `marker`.
    pub async fn find_marker(&self, marker: &Marker) -> NetworkResult<Option<Published>> {
        let channels: Items<ChannelItem> = self
            .get(
                "/youtube/v3/channels",
                &[("part", "contentDetails"), ("mine", "true")],
            )
            .await?
            .json(NET)?;
        let Some(uploads) = channels
            .items
            .into_iter()
            .next()
            .map(|c| c.content_details.related_playlists.uploads)
        else {
            return Ok(None);
        };
        let limit = self.lookup_limit.to_string();
        let items: Items<PlaylistItem> = self
            .get(
                "/youtube/v3/playlistItems",
                &[
                    ("part", "snippet"),
                    ("playlistId", &uploads),
                    ("maxResults", &limit),
                ],
            )
            .await?
            .json(NET)?;
        Ok(items
            .items
            .into_iter()
            .find(|i| marker.is_in(&i.snippet.description))
            .map(|i| YouTube::published(i.snippet.resource_id.video_id)))
    }

    pub async fn video_metrics(&self, video_id: &str) -> NetworkResult<PostMetrics> {
        http::check_id(NET, "video id", video_id)?;
        let items: Items<StatsItem> = self
            .get(
                "/youtube/v3/videos",
                &[("part", "statistics"), ("id", video_id)],
            )
            .await?
            .json(NET)?;
        let Some(item) = items.items.into_iter().next() else {
            return Err(NetworkError::Rejected {
                network: NET,
                status: None,
                provider_message: "no such video".into(),
            });
        };
        let n = |s: Option<String>| s.and_then(|s| s.parse::<u64>().ok());
        Ok(PostMetrics {
            reactions: n(item.statistics.like_count),
            comments: n(item.statistics.comment_count),
            shares: None,
            views: n(item.statistics.view_count),
        })
    }

    pub async fn video_comments(&self, video_id: &str) -> NetworkResult<Vec<Comment>> {
        http::check_id(NET, "video id", video_id)?;
        let threads: Items<Thread> = self
            .get(
                "/youtube/v3/commentThreads",
                &[
                    ("part", "snippet"),
                    ("videoId", video_id),
                    ("maxResults", "50"),
                    ("order", "time"),
                    ("textFormat", "plainText"),
                ],
            )
            .await?
            .json(NET)?;
        Ok(threads
            .items
            .into_iter()
            .map(|t| {
                let c = t.snippet.top_level_comment;
                Comment {
                    id: c.id,
                    text: c
                        .snippet
                        .text_original
                        .or(c.snippet.text_display)
                        .unwrap_or_default(),
                    author: c.snippet.author_display_name,
                    created_at: c.snippet.published_at,
                }
            })
            .collect())
    }

    /// `POST /youtube/v3/comments?part=snippet` `{snippet: {parentId,
    /// textOriginal}}`: the reply's id.
    pub async fn reply_to(&self, comment_id: &str, text: &str) -> NetworkResult<String> {
        http::check_id(NET, "comment id", comment_id)?;
        let text = crate::limits::normalize(text);
        if text.trim().is_empty() {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "an empty reply".into(),
            });
        }
        let u = http::url(
            NET,
            &self.base_url,
            "/youtube/v3/comments",
            &[("part", "snippet")],
        )?;
        let a = self
            .call(
                self.client
                    .post(u)
                    .timeout(self.api_timeout())
                    .json(&json!({ "snippet": { "parentId": comment_id, "textOriginal": text } })),
            )
            .await?;
        Ok(a.json::<Id>(NET)?.id)
    }
}

impl Publisher for YouTube {
    fn network(&self) -> Network {
        NET
    }

    fn publish<'a>(&'a self, post: &'a OutgoingPost) -> BoxFuture<'a, NetworkResult<Published>> {
        Box::pin(self.publish_post(post))
    }

    fn find<'a>(&'a self, marker: &'a Marker) -> BoxFuture<'a, NetworkResult<Option<Published>>> {
        Box::pin(retrying(NET, &self.retry, "find", move || {
            self.find_marker(marker)
        }))
    }

    fn metrics<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<PostMetrics>> {
        Box::pin(retrying(NET, &self.retry, "metrics", move || {
            self.video_metrics(provider_post_id)
        }))
    }

    fn comments<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<Vec<Comment>>> {
        Box::pin(retrying(NET, &self.retry, "comments", move || {
            self.video_comments(provider_post_id)
        }))
    }

    fn reply<'a>(
        &'a self,
        comment_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, NetworkResult<String>> {
        Box::pin(retrying_unsent(NET, &self.retry, "reply", move || {
            self.reply_to(comment_id, text)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn range_header_gives_the_next_byte() {
        let mut h = HeaderMap::new();
        assert_eq!(next_from_range(&h).unwrap(), 0);
        h.insert("range", HeaderValue::from_static("bytes=0-262143"));
        assert_eq!(next_from_range(&h).unwrap(), 262_144);
        h.insert("range", HeaderValue::from_static("bytes=5-9"));
        assert!(next_from_range(&h).is_err());
        h.insert("range", HeaderValue::from_static("nonsense"));
        assert!(next_from_range(&h).is_err());
    }
}
