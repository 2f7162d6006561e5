//! Facebook Pages through the Graph API (base URL with the version, e.g.
//! `https://graph.facebook.com/v21.0`), with a Page access token sent as
//! `Authorization: Bearer`:
//!
//! * `POST /{page-id}/feed` (`message`, `link`) → `{id}`;
//! * `POST /{page-id}/photos` with `url` or a multipart `source`, and
//!   `caption` → `{id, post_id}`;
//! * `GET /{post-id}?fields=…` reads a post back; `GET /{page-id}/posts`
//!   lists recent ones (the marker lookup);
//! * `GET /{post-id}?fields=shares,reactions.summary(total_count).limit(0),
//!   comments.summary(total_count).limit(0)` for metrics (views need the
//!   `read_insights` permission and are not read);
//! * `GET /{post-id}/comments`, `POST /{comment-id}/comments` (`message`).
//!
//! Graph errors are `{"error": {message, type, code, error_subcode,
//! is_transient}}`: code 190 (and 102) is an expired or invalid token;
//! 10 and 200–299 missing permissions; 4, 17, 32, 613 and 80001–80014 rate
//! limits; 1, 2 and `is_transient` temporary.

use super::http::{self, Answer, Multipart};
use super::{
    publish_checked, retrying, retrying_unsent, Comment, Marker, MediaKind, Network, NetworkError,
    NetworkResult, OutgoingPost, PostMetrics, Published, Publisher, RetryPolicy,
};
use crate::limits::Surface;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

const NET: Network = Network::Facebook;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct FacebookConfig {
    /// The Graph API root with its version.
    pub base_url: String,
    pub timeout_ms: u64,
    pub retry: RetryPolicy,
    /// Recent posts searched for a marker.
    pub lookup_limit: u32,
}

impl Default for FacebookConfig {
    fn default() -> FacebookConfig {
        FacebookConfig {
            base_url: "https://graph.facebook.com/v21.0".into(),
            timeout_ms: 30_000,
            retry: RetryPolicy::default(),
            lookup_limit: 25,
        }
    }
}

/// A connected Page.
#[derive(Clone, Debug)]
pub struct FacebookPage {
    pub page_id: String,
    pub access_token: SecretString,
}

/// A Page post as the Graph API returns it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct FacebookPost {
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub permalink_url: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
}

/// What `POST /{page-id}/photos` answers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PhotoPost {
    /// The photo's id.
    pub id: String,
    /// The Page post showing it.
    #[serde(default)]
    pub post_id: Option<String>,
}

#[derive(Debug)]
pub struct Facebook {
    client: reqwest::Client,
    base_url: String,
    page: FacebookPage,
    retry: RetryPolicy,
    lookup_limit: u32,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: Option<GraphError>,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: Option<bool>,
}

/// A failed Graph API answer as a [`NetworkError`] (Facebook and Instagram).
pub(crate) fn graph_error(network: Network, a: &Answer, secret: &str) -> NetworkError {
    let status = a.status.as_u16();
    let parsed = serde_json::from_slice::<GraphErrorBody>(&a.body)
        .ok()
        .and_then(|b| b.error);
    let (message, code, transient) = match &parsed {
        Some(e) => {
            let mut m = http::clean(e.message.as_deref().unwrap_or(""), secret);
            if let Some(c) = e.code {
                m.push_str(&format!(" [code {c}"));
                if let Some(s) = e.error_subcode {
                    m.push_str(&format!(", subcode {s}"));
                }
                m.push(']');
            }
            (m, e.code, e.is_transient.unwrap_or(false))
        }
        None => (http::body_text(&a.body, secret), None, false),
    };
    let provider_message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    match code {
        Some(190) | Some(102) => NetworkError::ExpiredCredentials {
            network,
            provider_message,
        },
        Some(10) | Some(200..=299) => NetworkError::Unauthorized {
            network,
            provider_message,
        },
        Some(4) | Some(17) | Some(32) | Some(613) | Some(80001..=80014) => {
            NetworkError::RateLimited {
                network,
                retry_after: http::retry_after(&a.headers),
                provider_message,
            }
        }
        Some(1) | Some(2) => NetworkError::Unavailable {
            network,
            reason: provider_message,
            request_sent: true,
        },
        _ if transient || a.status.is_server_error() => NetworkError::Unavailable {
            network,
            reason: provider_message,
            request_sent: true,
        },
        _ if status == 429 => NetworkError::RateLimited {
            network,
            retry_after: http::retry_after(&a.headers),
            provider_message,
        },
        _ if status == 401 => NetworkError::ExpiredCredentials {
            network,
            provider_message,
        },
        _ if status == 403 => NetworkError::Unauthorized {
            network,
            provider_message,
        },
        _ => NetworkError::Rejected {
            network,
            status: Some(status),
            provider_message,
        },
    }
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

#[derive(Deserialize, Default)]
struct Summary {
    #[serde(default)]
    summary: Option<Total>,
}

#[derive(Deserialize, Default)]
struct Total {
    #[serde(default)]
    total_count: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Count {
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize)]
struct MetricsAnswer {
    #[serde(default)]
    shares: Option<Count>,
    #[serde(default)]
    reactions: Option<Summary>,
    #[serde(default)]
    comments: Option<Summary>,
}

#[derive(Deserialize)]
struct GraphComment {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    from: Option<Author>,
    #[serde(default)]
    created_time: Option<String>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    name: Option<String>,
}

const POST_FIELDS: &str = "id,message,permalink_url,created_time";

impl Facebook {
    pub fn new(cfg: &FacebookConfig, page: FacebookPage) -> anyhow::Result<Facebook> {
        if !http::plain_id(&page.page_id) {
            anyhow::bail!("facebook: the page id is not valid");
        }
        Ok(Facebook {
            client: http::client(Duration::from_millis(cfg.timeout_ms))?,
            base_url: http::base_url(NET, &cfg.base_url)?,
            page,
            retry: cfg.retry.clone(),
            lookup_limit: cfg.lookup_limit.clamp(1, 100),
        })
    }

    fn token(&self) -> &str {
        self.page.access_token.expose_secret()
    }

    async fn call(&self, rb: reqwest::RequestBuilder) -> NetworkResult<Answer> {
        let a = http::send(NET, rb.bearer_auth(self.token())).await?;
        if a.status.is_success() {
            Ok(a)
        } else {
            Err(graph_error(NET, &a, self.token()))
        }
    }

    async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> NetworkResult<Answer> {
        let u = http::url(NET, &self.base_url, path, &[])?;
        self.call(
            self.client
                .post(u)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(http::form(pairs)),
        )
        .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> NetworkResult<Answer> {
        let u = http::url(NET, &self.base_url, path, query)?;
        self.call(self.client.get(u)).await
    }

    /// `POST /{page-id}/feed`: the new post's id (one attempt).
    pub async fn post_feed(&self, message: &str, link: Option<&str>) -> NetworkResult<String> {
        let mut pairs = vec![("message", message)];
        if let Some(l) = link {
            pairs.push(("link", l));
        }
        let a = self
            .post_form(&format!("/{}/feed", self.page.page_id), &pairs)
            .await?;
        Ok(a.json::<Id>(NET)?.id)
    }

    /// `POST /{page-id}/photos` with a public image URL (one attempt).
    pub async fn post_photo_url(&self, image_url: &str, caption: &str) -> NetworkResult<PhotoPost> {
        let a = self
            .post_form(
                &format!("/{}/photos", self.page.page_id),
                &[
                    ("url", image_url),
                    ("caption", caption),
                    ("published", "true"),
                ],
            )
            .await?;
        a.json(NET)
    }

    /// `POST /{page-id}/photos` uploading the image as `source` (one attempt).
    pub async fn post_photo_upload(
        &self,
        bytes: &[u8],
        content_type: &str,
        file_name: &str,
        caption: &str,
    ) -> NetworkResult<PhotoPost> {
        let (ct, body) = Multipart::new()
            .text("caption", caption)
            .text("published", "true")
            .file("source", file_name, content_type, bytes)
            .finish();
        let u = http::url(
            NET,
            &self.base_url,
            &format!("/{}/photos", self.page.page_id),
            &[],
        )?;
        let a = self
            .call(
                self.client
                    .post(u)
                    .header(reqwest::header::CONTENT_TYPE, ct)
                    .body(body),
            )
            .await?;
        a.json(NET)
    }

    /// `GET /{post-id}?fields=id,message,permalink_url,created_time`.
    pub async fn post(&self, post_id: &str) -> NetworkResult<FacebookPost> {
        http::check_id(NET, "post id", post_id)?;
        self.get(&format!("/{post_id}"), &[("fields", POST_FIELDS)])
            .await?
            .json(NET)
    }

    /// `GET /{page-id}/posts`: the Page's most recent posts, newest first.
    pub async fn recent_posts(&self, limit: u32) -> NetworkResult<Vec<FacebookPost>> {
        let limit = limit.clamp(1, 100).to_string();
        let a = self
            .get(
                &format!("/{}/posts", self.page.page_id),
                &[("fields", POST_FIELDS), ("limit", &limit)],
            )
            .await?;
        Ok(a.json::<Paged<FacebookPost>>(NET)?.data)
    }

    fn published(post_id: &str, permalink: Option<String>) -> Published {
        Published {
            provider_post_id: post_id.to_owned(),
            url: permalink.or_else(|| Some(format!("https://www.facebook.com/{post_id}"))),
        }
    }

    async fn attempt(&self, post: &OutgoingPost, text: &str) -> NetworkResult<Published> {
        match &post.media {
            None => {
                let id = self.post_feed(text, post.link.as_deref()).await?;
                Ok(Facebook::published(&id, None))
            }
            Some(m) if m.kind == MediaKind::Image => {
                let photo = match (&m.bytes, &m.url) {
                    (Some(b), _) => {
                        self.post_photo_upload(b, &m.content_type, &m.file_name, text)
                            .await?
                    }
                    (None, Some(u)) => self.post_photo_url(u, text).await?,
                    (None, None) => {
                        return Err(NetworkError::Invalid {
                            network: NET,
                            reason: "the image has neither bytes nor a URL".into(),
                        })
                    }
                };
                let id = photo.post_id.unwrap_or(photo.id);
                Ok(Facebook::published(&id, None))
            }
            Some(_) => Err(NetworkError::Invalid {
                network: NET,
                reason: "video posts to Pages are not supported by this client".into(),
            }),
        }
    }

    #[tracing::instrument(name = "facebook.publish", skip_all, fields(marker = %post.marker))]
    pub async fn publish_post(&self, post: &OutgoingPost) -> NetworkResult<Published> {
        let text = post.checked_text(Surface::Facebook)?;
        publish_checked(
            NET,
            &self.retry,
            post,
            || self.attempt(post, &text),
            || self.find_marker(&post.marker),
        )
        .await
    }

    /// The recent Page post carrying `marker`.
    pub async fn find_marker(&self, marker: &Marker) -> NetworkResult<Option<Published>> {
        let posts = self.recent_posts(self.lookup_limit).await?;
        Ok(posts
            .into_iter()
            .find(|p| p.message.as_deref().is_some_and(|m| marker.is_in(m)))
            .map(|p| Facebook::published(&p.id, p.permalink_url)))
    }

    pub async fn post_metrics(&self, post_id: &str) -> NetworkResult<PostMetrics> {
        http::check_id(NET, "post id", post_id)?;
        let m: MetricsAnswer = self
            .get(
                &format!("/{post_id}"),
                &[(
                    "fields",
                    "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)",
                )],
            )
            .await?
            .json(NET)?;
        let total = |s: Option<Summary>| s.and_then(|s| s.summary).and_then(|t| t.total_count);
        Ok(PostMetrics {
            reactions: total(m.reactions),
            comments: total(m.comments),
            // Graph leaves `shares` out when there are none.
            shares: Some(m.shares.and_then(|c| c.count).unwrap_or(0)),
            views: None,
        })
    }

    pub async fn post_comments(&self, post_id: &str) -> NetworkResult<Vec<Comment>> {
        http::check_id(NET, "post id", post_id)?;
        let a = self
            .get(
                &format!("/{post_id}/comments"),
                &[
                    ("fields", "id,message,from,created_time"),
                    ("order", "reverse_chronological"),
                    ("limit", "50"),
                ],
            )
            .await?;
        Ok(a.json::<Paged<GraphComment>>(NET)?
            .data
            .into_iter()
            .map(|c| Comment {
                id: c.id,
                text: c.message.unwrap_or_default(),
                author: c.from.and_then(|f| f.name),
                created_at: c.created_time,
            })
            .collect())
    }

    /// `POST /{comment-id}/comments`: the reply's id.
    pub async fn reply_to(&self, comment_id: &str, text: &str) -> NetworkResult<String> {
        http::check_id(NET, "comment id", comment_id)?;
        crate::limits::check(Surface::Facebook, text)?;
        let text = crate::limits::normalize(text);
        let a = self
            .post_form(&format!("/{comment_id}/comments"), &[("message", &text)])
            .await?;
        Ok(a.json::<Id>(NET)?.id)
    }
}

impl Publisher for Facebook {
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

    fn comments<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<Vec<Comment>>> {
        Box::pin(retrying(NET, &self.retry, "comments", move || {
            self.post_comments(provider_post_id)
        }))
    }

    fn reply<'a>(
        &'a self,
        comment_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, NetworkResult<String>> {
        // A reply is a post too: retried only when it surely was not made.
        Box::pin(retrying_unsent(NET, &self.retry, "reply", move || {
            self.reply_to(comment_id, text)
        }))
    }
}
