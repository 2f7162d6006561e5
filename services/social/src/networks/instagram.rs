//! Instagram professional accounts through the Graph API content publishing
//! flow (Instagram API with Facebook Login; base URL with the version, e.g.
//! `https://graph.facebook.com/v21.0`), token as `Authorization: Bearer`,
//! JSON bodies:
//!
//! 1. `POST /{ig-user-id}/media` `{image_url, caption}` (or `{media_type:
//!    "REELS", video_url, caption}`) → `{id}` of a container;
//! 2. `GET /{container-id}?fields=status_code,status` until `FINISHED`
//!    (bounded, with backoff; `ERROR` and `EXPIRED` fail);
//! 3. `POST /{ig-user-id}/media_publish` `{creation_id}` → `{id}` of the
//!    media.
//!
//! Then `GET /{media-id}?fields=…` (permalink, `like_count`,
//! `comments_count`), `GET /{media-id}/insights?metric=views`,
//! `GET /{ig-user-id}/media` (the marker lookup), `GET /{media-id}/comments`
//! and `POST /{comment-id}/replies` `{message}`.
//!
//! Instagram fetches the media itself, so [`Media::url`] must be a public
//! URL. Errors are Graph errors (see [`super::facebook`]).

use super::facebook::graph_error;
use super::http::{self, Answer};
use super::{
    retrying, retrying_unsent, Comment, Marker, Media, MediaKind, Network, NetworkError,
    NetworkResult, OutgoingPost, PostMetrics, Published, Publisher, RetryPolicy,
};
use crate::limits::Surface;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};

const NET: Network = Network::Instagram;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct InstagramConfig {
    pub base_url: String,
    pub timeout_ms: u64,
    pub retry: RetryPolicy,
    /// First wait between container status checks; doubles up to
    /// `poll_max_interval_ms`.
    pub poll_interval_ms: u64,
    pub poll_max_interval_ms: u64,
    /// Longest wait for a container to become `FINISHED`.
    pub poll_max_wait_ms: u64,
    pub lookup_limit: u32,
}

impl Default for InstagramConfig {
    fn default() -> InstagramConfig {
        InstagramConfig {
            base_url: "https://graph.facebook.com/v21.0".into(),
            timeout_ms: 30_000,
            retry: RetryPolicy::default(),
            poll_interval_ms: 2_000,
            poll_max_interval_ms: 15_000,
            poll_max_wait_ms: 300_000,
            lookup_limit: 25,
        }
    }
}

/// A connected Instagram professional account.
#[derive(Clone, Debug)]
pub struct InstagramAccount {
    pub ig_user_id: String,
    pub access_token: SecretString,
}

/// A container's publishing state.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ContainerStatus {
    /// `EXPIRED`, `ERROR`, `FINISHED`, `IN_PROGRESS` or `PUBLISHED`.
    #[serde(default)]
    pub status_code: String,
    /// Details (the error subcode when `ERROR`).
    #[serde(default)]
    pub status: Option<String>,
}

/// A published media object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct InstagramMedia {
    pub id: String,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub permalink: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub like_count: Option<u64>,
    #[serde(default)]
    pub comments_count: Option<u64>,
}

#[derive(Debug)]
pub struct Instagram {
    client: reqwest::Client,
    base_url: String,
    account: InstagramAccount,
    retry: RetryPolicy,
    poll_interval: Duration,
    poll_max_interval: Duration,
    poll_max_wait: Duration,
    lookup_limit: u32,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Paged<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct IgComment {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct Insight {
    #[serde(default)]
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
    #[serde(default)]
    total_value: Option<InsightValue>,
}

#[derive(Deserialize)]
struct InsightValue {
    #[serde(default)]
    value: Option<u64>,
}

const MEDIA_FIELDS: &str = "id,caption,permalink,timestamp";

impl Instagram {
    pub fn new(cfg: &InstagramConfig, account: InstagramAccount) -> anyhow::Result<Instagram> {
        if !http::plain_id(&account.ig_user_id) {
            anyhow::bail!("instagram: the user id is not valid");
        }
        Ok(Instagram {
            client: http::client(Duration::from_millis(cfg.timeout_ms))?,
            base_url: http::base_url(NET, &cfg.base_url)?,
            account,
            retry: cfg.retry.clone(),
            poll_interval: Duration::from_millis(cfg.poll_interval_ms.max(1)),
            poll_max_interval: Duration::from_millis(cfg.poll_max_interval_ms.max(1)),
            poll_max_wait: Duration::from_millis(cfg.poll_max_wait_ms),
            lookup_limit: cfg.lookup_limit.clamp(1, 100),
        })
    }

    fn token(&self) -> &str {
        self.account.access_token.expose_secret()
    }

    async fn call(&self, rb: reqwest::RequestBuilder) -> NetworkResult<Answer> {
        let a = http::send(NET, rb.bearer_auth(self.token())).await?;
        if a.status.is_success() {
            Ok(a)
        } else {
            Err(graph_error(NET, &a, self.token()))
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> NetworkResult<Answer> {
        let u = http::url(NET, &self.base_url, path, query)?;
        self.call(self.client.get(u)).await
    }

    async fn post_json(&self, path: &str, body: &serde_json::Value) -> NetworkResult<Answer> {
        let u = http::url(NET, &self.base_url, path, &[])?;
        self.call(self.client.post(u).json(body)).await
    }

    /// `POST /{ig-user-id}/media`: a container's id (one attempt).
    pub async fn create_container(&self, media: &Media, caption: &str) -> NetworkResult<String> {
        let Some(url) = media.url.as_deref() else {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "Instagram fetches media itself: a public media URL is needed".into(),
            });
        };
        let body = match media.kind {
            MediaKind::Image => json!({ "image_url": url, "caption": caption }),
            MediaKind::Video => {
                json!({ "media_type": "REELS", "video_url": url, "caption": caption })
            }
        };
        let a = self
            .post_json(&format!("/{}/media", self.account.ig_user_id), &body)
            .await?;
        let id = a.json::<Id>(NET)?.id;
        http::check_id(NET, "container id", &id).map_err(|_| NetworkError::InvalidResponse {
            network: NET,
            reason: "no usable container id".into(),
        })?;
        Ok(id)
    }

    /// `GET /{container-id}?fields=status_code,status`.
    pub async fn container_status(&self, container_id: &str) -> NetworkResult<ContainerStatus> {
        http::check_id(NET, "container id", container_id)?;
        self.get(
            &format!("/{container_id}"),
            &[("fields", "status_code,status")],
        )
        .await?
        .json(NET)
    }

    /// Polls the container until `FINISHED`, with backoff, at most
    /// `poll_max_wait`.
    pub async fn wait_until_finished(&self, container_id: &str) -> NetworkResult<()> {
        let started = Instant::now();
        let mut interval = self.poll_interval;
        loop {
            let s = retrying(NET, &self.retry, "container status", || {
                self.container_status(container_id)
            })
            .await?;
            match s.status_code.as_str() {
                "FINISHED" | "PUBLISHED" => return Ok(()),
                "ERROR" | "EXPIRED" => {
                    return Err(NetworkError::Rejected {
                        network: NET,
                        status: None,
                        provider_message: format!(
                            "the media container is {}{}",
                            s.status_code,
                            s.status
                                .map(|d| format!(": {}", http::clean(&d, self.token())))
                                .unwrap_or_default()
                        ),
                    })
                }
                _ => {}
            }
            if started.elapsed() + interval > self.poll_max_wait {
                return Err(NetworkError::Unavailable {
                    network: NET,
                    reason: format!(
                        "the media container is still {} after {} s",
                        s.status_code,
                        started.elapsed().as_secs()
                    ),
                    // Nothing was published.
                    request_sent: false,
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(self.poll_max_interval);
        }
    }

    /// `POST /{ig-user-id}/media_publish`: the media id (one attempt).
    pub async fn media_publish(&self, container_id: &str) -> NetworkResult<String> {
        let a = self
            .post_json(
                &format!("/{}/media_publish", self.account.ig_user_id),
                &json!({ "creation_id": container_id }),
            )
            .await?;
        Ok(a.json::<Id>(NET)?.id)
    }

    /// `GET /{media-id}?fields=…`.
    pub async fn media(&self, media_id: &str) -> NetworkResult<InstagramMedia> {
        http::check_id(NET, "media id", media_id)?;
        self.get(
            &format!("/{media_id}"),
            &[(
                "fields",
                "id,caption,permalink,timestamp,like_count,comments_count",
            )],
        )
        .await?
        .json(NET)
    }

    /// `GET /{ig-user-id}/media`: the most recent media, newest first.
    pub async fn recent_media(&self, limit: u32) -> NetworkResult<Vec<InstagramMedia>> {
        let limit = limit.clamp(1, 100).to_string();
        let a = self
            .get(
                &format!("/{}/media", self.account.ig_user_id),
                &[("fields", MEDIA_FIELDS), ("limit", &limit)],
            )
            .await?;
        Ok(a.json::<Paged<InstagramMedia>>(NET)?.data)
    }

    async fn published(&self, media_id: String) -> Published {
        // The permalink is a nicety: a failure to read it is not a failure
        // to publish.
        let url = match self.media(&media_id).await {
            Ok(m) => m.permalink,
            Err(e) => {
                tracing::warn!(error = %e, "instagram: could not read the permalink");
                None
            }
        };
        Published {
            provider_post_id: media_id,
            url,
        }
    }

    #[tracing::instrument(name = "instagram.publish", skip_all, fields(marker = %post.marker))]
    pub async fn publish_post(&self, post: &OutgoingPost) -> NetworkResult<Published> {
        let caption = post.checked_text(Surface::Instagram)?;
        let Some(media) = &post.media else {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "an Instagram post needs an image or a video".into(),
            });
        };
        if post.prior_attempt {
            if let Some(found) = self.find(&post.marker).await? {
                tracing::info!(post_id = %found.provider_post_id, "already published; not posting again");
                return Ok(found);
            }
        }
        // Containers are harmless to repeat: unpublished ones expire.
        let container = retrying(NET, &self.retry, "create container", || {
            self.create_container(media, &caption)
        })
        .await?;
        self.wait_until_finished(&container).await?;
        let mut n = 1;
        loop {
            let e = match self.media_publish(&container).await {
                Ok(id) => return Ok(self.published(id).await),
                Err(e) => e,
            };
            let Some(delay) = self.retry.delay_for(&e, n) else {
                return Err(e);
            };
            tracing::warn!(attempt = n, delay_ms = delay.as_millis() as u64, error = %e, "instagram: media_publish failed; retrying");
            tokio::time::sleep(delay).await;
            n += 1;
            if !e.maybe_accepted() {
                continue;
            }
            // It may have been published: the container knows.
            let s = retrying(NET, &self.retry, "container status", || {
                self.container_status(&container)
            })
            .await?;
            match s.status_code.as_str() {
                "FINISHED" => continue,
                "PUBLISHED" => {
                    return match self.find(&post.marker).await? {
                        Some(found) => {
                            tracing::info!(post_id = %found.provider_post_id, "the container was published after all");
                            Ok(found)
                        }
                        None => Err(NetworkError::Unavailable {
                            network: NET,
                            reason: "the container is PUBLISHED but the post is not listed yet; \
                                     publish again with prior_attempt to look it up"
                                .into(),
                            request_sent: true,
                        }),
                    }
                }
                other => {
                    return Err(NetworkError::Rejected {
                        network: NET,
                        status: None,
                        provider_message: format!("the media container is {other}"),
                    })
                }
            }
        }
    }

    /// The recent media carrying `marker` in its caption.
    pub async fn find_marker(&self, marker: &Marker) -> NetworkResult<Option<Published>> {
        let media = self.recent_media(self.lookup_limit).await?;
        Ok(media
            .into_iter()
            .find(|m| m.caption.as_deref().is_some_and(|c| marker.is_in(c)))
            .map(|m| Published {
                provider_post_id: m.id,
                url: m.permalink,
            }))
    }

    pub async fn media_metrics(&self, media_id: &str) -> NetworkResult<PostMetrics> {
        let m = self.media(media_id).await?;
        let views = match self
            .get(&format!("/{media_id}/insights"), &[("metric", "views")])
            .await
        {
            Ok(a) => a
                .json::<Paged<Insight>>(NET)?
                .data
                .into_iter()
                .find(|i| i.name == "views")
                .and_then(|i| {
                    i.total_value
                        .and_then(|v| v.value)
                        .or_else(|| i.values.first().and_then(|v| v.value))
                }),
            // Insights need their own permission and are absent for some
            // media: leave views unknown.
            Err(NetworkError::Rejected { .. }) | Err(NetworkError::Unauthorized { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(PostMetrics {
            reactions: m.like_count,
            comments: m.comments_count,
            shares: None,
            views,
        })
    }

    pub async fn media_comments(&self, media_id: &str) -> NetworkResult<Vec<Comment>> {
        http::check_id(NET, "media id", media_id)?;
        let a = self
            .get(
                &format!("/{media_id}/comments"),
                &[("fields", "id,text,username,timestamp"), ("limit", "50")],
            )
            .await?;
        Ok(a.json::<Paged<IgComment>>(NET)?
            .data
            .into_iter()
            .map(|c| Comment {
                id: c.id,
                text: c.text.unwrap_or_default(),
                author: c.username,
                created_at: c.timestamp,
            })
            .collect())
    }

    /// `POST /{comment-id}/replies` `{message}`: the reply's id.
    pub async fn reply_to(&self, comment_id: &str, text: &str) -> NetworkResult<String> {
        http::check_id(NET, "comment id", comment_id)?;
        crate::limits::check(Surface::Instagram, text)?;
        let a = self
            .post_json(
                &format!("/{comment_id}/replies"),
                &json!({ "message": crate::limits::normalize(text) }),
            )
            .await?;
        Ok(a.json::<Id>(NET)?.id)
    }
}

impl Publisher for Instagram {
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
            self.media_metrics(provider_post_id)
        }))
    }

    fn comments<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<Vec<Comment>>> {
        Box::pin(retrying(NET, &self.retry, "comments", move || {
            self.media_comments(provider_post_id)
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
