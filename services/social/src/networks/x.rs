//! X through API v2 (`https://api.x.com`) with an OAuth 2.0 user-context
//! access token as `Authorization: Bearer` (scopes `tweet.read`,
//! `tweet.write`, `users.read`, `media.write`):
//!
//! * `POST /2/media/upload` JSON `{media: <base64>, media_category:
//!   "tweet_image", media_type}` → `{data: {id, media_key}}` (the one-request
//!   upload for images; videos need the chunked
//!   `initialize`/`append`/`finalize` flow, not implemented here);
//! * `POST /2/tweets` `{text, media: {media_ids}}` → 201 `{data: {id, text}}`;
//! * `GET /2/users/{id}/tweets?max_results=…` (the marker lookup);
//! * `GET /2/tweets/{id}?tweet.fields=public_metrics` (metrics).
//!
//! Errors are RFC 7807 problems (`{title, detail, type, status}`) or
//! `{errors: [{message}]}`. 401 means the token expired (user tokens last
//! two hours; refreshing is the channel owner's job), 403 a missing
//! permission, or a duplicate of a recent post, 429 a rate limit with
//! `x-rate-limit-reset` (epoch seconds). Reading replies needs search
//! (`conversation_id:`), which this client does not use: `comments` and
//! `reply` are unsupported.

use super::http::{self, Answer};
use super::{
    publish_checked, retrying, Comment, Marker, MediaKind, Network, NetworkError, NetworkResult,
    OutgoingPost, PostMetrics, Published, Publisher, RetryPolicy,
};
use crate::limits::Surface;
use base64::Engine;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

const NET: Network = Network::X;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct XConfig {
    pub base_url: String,
    pub timeout_ms: u64,
    pub retry: RetryPolicy,
    /// Recent posts searched for a marker (5 to 100).
    pub lookup_count: u32,
}

impl Default for XConfig {
    fn default() -> XConfig {
        XConfig {
            base_url: "https://api.x.com".into(),
            timeout_ms: 30_000,
            retry: RetryPolicy::default(),
            lookup_count: 20,
        }
    }
}

/// A connected X account.
#[derive(Clone, Debug)]
pub struct XAccount {
    /// The numeric user id (from `GET /2/users/me` when connecting).
    pub user_id: String,
    pub access_token: SecretString,
}

/// A post as X returns it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Tweet {
    pub id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub public_metrics: Option<PublicMetrics>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PublicMetrics {
    #[serde(default)]
    pub retweet_count: u64,
    #[serde(default)]
    pub reply_count: u64,
    #[serde(default)]
    pub like_count: u64,
    #[serde(default)]
    pub quote_count: u64,
    #[serde(default)]
    pub impression_count: Option<u64>,
}

#[derive(Debug)]
pub struct X {
    client: reqwest::Client,
    base_url: String,
    account: XAccount,
    retry: RetryPolicy,
    lookup_count: u32,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct MaybeData<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

/// Whether `e` is X refusing a post that duplicates a recent one.
pub fn is_duplicate(e: &NetworkError) -> bool {
    match e {
        NetworkError::Rejected {
            network: Network::X,
            provider_message,
            ..
        } => provider_message.to_ascii_lowercase().contains("duplicate"),
        _ => false,
    }
}

fn x_error(a: &Answer, secret: &str) -> NetworkError {
    let v = a.value();
    let pick = [
        &v["detail"],
        &v["errors"][0]["message"],
        &v["errors"][0]["detail"],
        &v["title"],
    ]
    .iter()
    .find_map(|x| x.as_str().filter(|s| !s.is_empty()).map(str::to_owned));
    let status = a.status.as_u16();
    let provider_message = match pick {
        Some(m) => http::clean(&m, secret),
        None => {
            let t = http::body_text(&a.body, secret);
            if t.is_empty() {
                format!("HTTP {status}")
            } else {
                t
            }
        }
    };
    match status {
        401 => NetworkError::ExpiredCredentials {
            network: NET,
            provider_message,
        },
        403 if provider_message.to_ascii_lowercase().contains("duplicate") => {
            NetworkError::Rejected {
                network: NET,
                status: Some(status),
                provider_message,
            }
        }
        403 => NetworkError::Unauthorized {
            network: NET,
            provider_message,
        },
        429 => NetworkError::RateLimited {
            network: NET,
            retry_after: http::retry_after(&a.headers).or_else(|| reset_after(&a.headers)),
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

/// `x-rate-limit-reset` (epoch seconds) as a wait from now.
fn reset_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset: i64 = headers
        .get("x-rate-limit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let now = chrono::Utc::now().timestamp();
    Some(Duration::from_secs(reset.saturating_sub(now).max(0) as u64))
}

impl X {
    pub fn new(cfg: &XConfig, account: XAccount) -> anyhow::Result<X> {
        if account.user_id.is_empty() || !account.user_id.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("x: the user id must be numeric");
        }
        Ok(X {
            client: http::client(Duration::from_millis(cfg.timeout_ms))?,
            base_url: http::base_url(NET, &cfg.base_url)?,
            account,
            retry: cfg.retry.clone(),
            lookup_count: cfg.lookup_count.clamp(5, 100),
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
            Err(x_error(&a, self.token()))
        }
    }

    /// `POST /2/media/upload` (one request, images): the media id.
    pub async fn upload_image(&self, bytes: &[u8], content_type: &str) -> NetworkResult<String> {
        let u = http::url(NET, &self.base_url, "/2/media/upload", &[])?;
        let body = json!({
            "media": base64::engine::general_purpose::STANDARD.encode(bytes),
            "media_category": "tweet_image",
            "media_type": content_type,
        });
        let a = self.call(self.client.post(u).json(&body)).await?;
        let id = a.json::<Data<Id>>(NET)?.data.id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NetworkError::InvalidResponse {
                network: NET,
                reason: "no usable media id".into(),
            });
        }
        Ok(id)
    }

    /// `POST /2/tweets`: the new post's id (one attempt).
    pub async fn create_post(&self, text: &str, media_ids: &[String]) -> NetworkResult<String> {
        let u = http::url(NET, &self.base_url, "/2/tweets", &[])?;
        let mut body = json!({ "text": text });
        if !media_ids.is_empty() {
            body["media"] = json!({ "media_ids": media_ids });
        }
        let a = self.call(self.client.post(u).json(&body)).await?;
        Ok(a.json::<Data<Id>>(NET)?.data.id)
    }

    /// `GET /2/users/{id}/tweets`: the user's recent posts, newest first.
    pub async fn recent_posts(&self, count: u32) -> NetworkResult<Vec<Tweet>> {
        let count = count.clamp(5, 100).to_string();
        let u = http::url(
            NET,
            &self.base_url,
            &format!("/2/users/{}/tweets", self.account.user_id),
            &[("max_results", &count), ("tweet.fields", "created_at")],
        )?;
        let a = self.call(self.client.get(u)).await?;
        Ok(a.json::<MaybeData<Tweet>>(NET)?.data)
    }

    /// `GET /2/tweets/{id}?tweet.fields=public_metrics`.
    pub async fn post(&self, id: &str) -> NetworkResult<Tweet> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NetworkError::Invalid {
                network: NET,
                reason: "the post id must be numeric".into(),
            });
        }
        let u = http::url(
            NET,
            &self.base_url,
            &format!("/2/tweets/{id}"),
            &[("tweet.fields", "public_metrics,created_at")],
        )?;
        let a = self.call(self.client.get(u)).await?;
        Ok(a.json::<Data<Tweet>>(NET)?.data)
    }

    fn published(id: String) -> Published {
        let url = Some(format!("https://x.com/i/web/status/{id}"));
        Published {
            provider_post_id: id,
            url,
        }
    }

    #[tracing::instrument(name = "x.publish", skip_all, fields(marker = %post.marker))]
    pub async fn publish_post(&self, post: &OutgoingPost) -> NetworkResult<Published> {
        let text = post.checked_text(Surface::X)?;
        if post.prior_attempt {
            if let Some(found) = self.find(&post.marker).await? {
                return Ok(found);
            }
        }
        let mut media_ids = Vec::new();
        if let Some(m) = &post.media {
            let bytes = match (m.kind, &m.bytes) {
                (MediaKind::Image, Some(b)) => b,
                (MediaKind::Image, None) => {
                    return Err(NetworkError::Invalid {
                        network: NET,
                        reason: "X needs the image's bytes to upload".into(),
                    })
                }
                (MediaKind::Video, _) => {
                    return Err(NetworkError::Invalid {
                        network: NET,
                        reason: "video uploads to X (chunked) are not supported by this client"
                            .into(),
                    })
                }
            };
            // An unused upload expires by itself: safe to repeat.
            let id = retrying(NET, &self.retry, "media upload", || {
                self.upload_image(bytes, &m.content_type)
            })
            .await?;
            media_ids.push(id);
        }
        let checked = OutgoingPost {
            prior_attempt: false,
            ..post.clone()
        };
        let result = publish_checked(
            NET,
            &self.retry,
            &checked,
            || async { Ok(X::published(self.create_post(&text, &media_ids).await?)) },
            || self.find_marker(&post.marker),
        )
        .await;
        match result {
            Err(e) if is_duplicate(&e) => {
                // X keeps the first of identical posts: it is ours if it
                // carries the marker.
                match self.find(&post.marker).await? {
                    Some(found) => Ok(found),
                    None => Err(e),
                }
            }
            r => r,
        }
    }

    /// The recent post carrying `marker`.
    pub async fn find_marker(&self, marker: &Marker) -> NetworkResult<Option<Published>> {
        let posts = self.recent_posts(self.lookup_count).await?;
        Ok(posts
            .into_iter()
            .find(|t| marker.is_in(&t.text))
            .map(|t| X::published(t.id)))
    }

    pub async fn post_metrics(&self, id: &str) -> NetworkResult<PostMetrics> {
        let t = self.post(id).await?;
        let m = t.public_metrics.unwrap_or_default();
        Ok(PostMetrics {
            reactions: Some(m.like_count),
            comments: Some(m.reply_count),
            shares: Some(m.retweet_count + m.quote_count),
            views: m.impression_count,
        })
    }
}

impl Publisher for X {
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
            self.post_metrics(provider_post_id)
        }))
    }

    fn comments<'a>(&'a self, _: &'a str) -> BoxFuture<'a, NetworkResult<Vec<Comment>>> {
        Box::pin(async {
            Err(NetworkError::Unsupported {
                network: NET,
                what: "reading replies (needs recent search by conversation_id)",
            })
        })
    }

    fn reply<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, NetworkResult<String>> {
        Box::pin(async {
            Err(NetworkError::Unsupported {
                network: NET,
                what: "replying to comments",
            })
        })
    }
}
