//! Typed clients of the social networks, one per channel, with base URLs
//! from config (tests point them at local servers):
//!
//! * [`facebook::Facebook`]: Graph API Page posts (`/{page-id}/feed`,
//!   `/{page-id}/photos`), read-back, comments, replies, metrics.
//! * [`instagram::Instagram`]: Graph API content publishing (container,
//!   `status_code` polling, `media_publish`), comments, replies, metrics.
//! * [`x::X`]: API v2 posts (`/2/tweets`), image upload (`/2/media/upload`),
//!   the user's timeline, public metrics.
//! * [`youtube::YouTube`]: Data API v3 resumable uploads, statistics,
//!   comment threads and replies.
//! * [`telegram::Telegram`]: Bot API `sendPhoto` / `sendVideo` /
//!   `sendMessage` to a channel.
//!
//! All of them implement [`Publisher`] and fail with one [`NetworkError`].
//!
//! # Retries
//!
//! Only [`NetworkError::Unavailable`] (5xx, timeouts, connection failures)
//! and [`NetworkError::RateLimited`] are retried, with exponential backoff
//! and jitter, honouring the provider's `Retry-After` (or its body field)
//! up to [`RetryPolicy::max_retry_after_ms`], at most
//! [`RetryPolicy::max_attempts`] times.
//!
//! # Idempotency
//!
//! Each post carries a [`Marker`], `jf` + 8 characters, published as the
//! hashtag `#jf…` at the end of the text (a hashtag is what every network
//! keeps verbatim, and searchable by hand). When an attempt fails in a way
//! that the provider may nevertheless have acted on (a timeout or 5xx after
//! the request was sent), the client checks before posting again:
//!
//! * **Facebook**: lists the Page's recent posts (`/{page-id}/posts`) and
//!   matches the marker in `message`.
//! * **Instagram**: container creation is harmless to repeat (unpublished
//!   containers expire in 24 h); after an ambiguous `media_publish` the
//!   container's `status_code` says whether it was published (`PUBLISHED`)
//!   or may be published again (`FINISHED`); the media id is then found in
//!   `/{ig-user-id}/media` by the marker in `caption`.
//! * **X**: lists the user's recent posts (`/2/users/{id}/tweets`) and
//!   matches the marker; X also refuses a post whose text duplicates a
//!   recent one (403), which is resolved the same way.
//! * **YouTube**: a video exists only once its resumable upload completes,
//!   so the session URI is the idempotency key: after a failed `PUT` the
//!   session is asked how much it holds (`Content-Range: bytes */total`)
//!   and either is complete (the video) or is resumed; the marker goes in
//!   the description and the tags, and `find` looks in the uploads
//!   playlist.
//! * **Telegram**: a bot cannot read a channel's history, so nothing can
//!   be looked up. The client never resends after a failure that may have
//!   been delivered (timeout, 5xx): it returns
//!   [`NetworkError::Unconfirmed`], and a later call with
//!   [`OutgoingPost::prior_attempt`] set refuses the same way, so the
//!   scheduler parks the post for a person to check the channel (search
//!   the `#jf…` hashtag) instead of posting twice. Rate limits (429: the
//!   message was not sent) and connection failures (nothing was sent) are
//!   retried. The `message_id` of every answer is returned so callers
//!   record it.
//!
//! Set [`OutgoingPost::prior_attempt`] when an earlier attempt (perhaps in a
//! process that died) may have reached the network: `publish` then looks
//! the marker up before anything else.
//!
//! # Secrets
//!
//! Tokens live in [`secrecy::SecretString`]s and only ever go into
//! `Authorization` headers (Telegram's into the request path, which is why
//! every transport error is reported without its URL). Provider messages
//! are scrubbed of the token before they are kept, and nothing here logs
//! URLs, headers or bodies.

pub mod facebook;
mod http;
pub mod instagram;
pub mod telegram;
pub mod x;
pub mod youtube;

use crate::limits::{LimitError, Surface};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

pub use facebook::{Facebook, FacebookConfig, FacebookPage};
pub use instagram::{Instagram, InstagramAccount, InstagramConfig};
pub use telegram::{Telegram, TelegramChannel, TelegramConfig};
pub use x::{XAccount, XConfig, X};
pub use youtube::{YouTube, YouTubeChannel, YouTubeConfig};

/// The networks posts go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Facebook,
    Instagram,
    X,
    YouTube,
    Telegram,
}

impl Network {
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Facebook => "facebook",
            Network::Instagram => "instagram",
            Network::X => "x",
            Network::YouTube => "youtube",
            Network::Telegram => "telegram",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The idempotency marker of one post: `jf` followed by 8 characters of
/// `a-z2-7`, published as the hashtag `#jf…`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Marker(String);

const MARKER_PREFIX: &str = "jf";
const MARKER_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const MARKER_LEN: usize = 10;

impl Marker {
    /// The marker of a scheduled post: the same key always gives the same
    /// marker (use the post's id), so a retry in another process finds it.
    pub fn for_key(key: &[u8]) -> Marker {
        let digest = Sha256::digest([b"jyotiflow/social/marker\0".as_slice(), key].concat());
        Marker::from_bytes(&digest)
    }

    /// A random marker.
    pub fn random() -> Marker {
        let bytes: [u8; 8] = rand::thread_rng().gen();
        Marker::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Marker {
        let mut s = String::from(MARKER_PREFIX);
        for b in bytes.iter().take(8) {
            s.push(char::from(MARKER_ALPHABET[usize::from(*b) % 32]));
        }
        Marker(s)
    }

    /// Checks a stored marker.
    pub fn parse(s: &str) -> Result<Marker, String> {
        let ok = s.len() == MARKER_LEN
            && s.starts_with(MARKER_PREFIX)
            && s.bytes().skip(2).all(|b| MARKER_ALPHABET.contains(&b));
        if ok {
            Ok(Marker(s.to_owned()))
        } else {
            Err(format!(
                "a marker is \"jf\" and 8 of a-z 2-7, not {:?}",
                s.chars().take(20).collect::<String>()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hashtag published with the post: `#jf…`.
    pub fn tag(&self) -> String {
        format!("#{}", self.0)
    }

    /// Whether `text` carries this marker's hashtag (as a whole word).
    pub fn is_in(&self, text: &str) -> bool {
        let tag = self.tag();
        text.match_indices(&tag).any(|(i, _)| {
            text[i + tag.len()..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
    }
}

impl TryFrom<String> for Marker {
    type Error = String;
    fn try_from(s: String) -> Result<Marker, String> {
        Marker::parse(&s)
    }
}

impl From<Marker> for String {
    fn from(m: Marker) -> String {
        m.0
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Marker({})", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
}

/// An image or video: a public URL the network fetches itself (Facebook,
/// Instagram, Telegram can), the bytes to upload (Facebook, X, YouTube,
/// Telegram), or both.
#[derive(Clone)]
pub struct Media {
    pub kind: MediaKind,
    /// `image/jpeg`, `video/mp4`, …
    pub content_type: String,
    pub file_name: String,
    pub url: Option<String>,
    pub bytes: Option<Bytes>,
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("kind", &self.kind)
            .field("content_type", &self.content_type)
            .field("file_name", &self.file_name)
            .field("url", &self.url)
            .field("bytes", &self.bytes.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl Media {
    pub fn image_url(url: impl Into<String>, content_type: impl Into<String>) -> Media {
        Media {
            kind: MediaKind::Image,
            content_type: content_type.into(),
            file_name: "image".into(),
            url: Some(url.into()),
            bytes: None,
        }
    }

    pub fn image_bytes(
        bytes: impl Into<Bytes>,
        content_type: impl Into<String>,
        file_name: impl Into<String>,
    ) -> Media {
        Media {
            kind: MediaKind::Image,
            content_type: content_type.into(),
            file_name: file_name.into(),
            url: None,
            bytes: Some(bytes.into()),
        }
    }

    pub fn video_bytes(
        bytes: impl Into<Bytes>,
        content_type: impl Into<String>,
        file_name: impl Into<String>,
    ) -> Media {
        Media {
            kind: MediaKind::Video,
            content_type: content_type.into(),
            file_name: file_name.into(),
            url: None,
            bytes: Some(bytes.into()),
        }
    }

    /// Adds the public URL of the same file.
    pub fn with_url(mut self, url: impl Into<String>) -> Media {
        self.url = Some(url.into());
        self
    }
}

/// One post to publish on one network.
#[derive(Clone, Debug)]
pub struct OutgoingPost {
    pub marker: Marker,
    /// The message, caption, post text or video description. The marker's
    /// hashtag is appended when the text does not carry it yet (leave room:
    /// pass [`Marker::tag`] first among the hashtags of
    /// [`crate::limits::fit`]).
    pub text: String,
    /// The video title (YouTube; the first line of `text` otherwise).
    pub title: Option<String>,
    /// A link to share (Facebook link posts; elsewhere put it in `text`).
    pub link: Option<String>,
    pub media: Option<Media>,
    /// An earlier attempt may have reached the network (a timeout, a crash):
    /// look the marker up before posting.
    pub prior_attempt: bool,
}

impl OutgoingPost {
    pub fn text(marker: Marker, text: impl Into<String>) -> OutgoingPost {
        OutgoingPost {
            marker,
            text: text.into(),
            title: None,
            link: None,
            media: None,
            prior_attempt: false,
        }
    }

    pub fn with_media(mut self, media: Media) -> OutgoingPost {
        self.media = Some(media);
        self
    }

    /// The text as published: NFC, with the marker's hashtag.
    pub fn text_with_marker(&self) -> String {
        let text = crate::limits::normalize(&self.text);
        if self.marker.is_in(&text) {
            return text;
        }
        let body = text.trim_end();
        if body.is_empty() {
            self.marker.tag()
        } else {
            format!("{body}\n\n{}", self.marker.tag())
        }
    }

    /// [`Self::text_with_marker`], checked against `surface`.
    pub fn checked_text(&self, surface: Surface) -> Result<String, NetworkError> {
        let text = self.text_with_marker();
        crate::limits::check(surface, &text)?;
        Ok(text)
    }
}

/// A published post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The network's id of the post (Telegram: the `message_id`).
    pub provider_post_id: String,
    /// Where people see it, when known.
    pub url: Option<String>,
}

/// Engagement of a post; `None` where the network does not report it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostMetrics {
    /// Likes and other reactions.
    pub reactions: Option<u64>,
    pub comments: Option<u64>,
    /// Shares, reposts and quotes.
    pub shares: Option<u64>,
    pub views: Option<u64>,
}

/// A comment on a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub text: String,
    pub author: Option<String>,
    pub created_at: Option<String>,
}

/// Why a network call failed. Messages never carry tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The token is invalid, expired or revoked: the channel must be
    /// reconnected (Graph code 190, X and YouTube 401, Telegram 401).
    #[error("{network}: the credentials are expired or revoked ({provider_message}); reconnect the channel")]
    ExpiredCredentials {
        network: Network,
        provider_message: String,
    },
    /// The token is valid but lacks a permission, or the account may not
    /// act here (Graph codes 10 and 200–299, X 403, Telegram 403).
    #[error("{network}: not permitted ({provider_message})")]
    Unauthorized {
        network: Network,
        provider_message: String,
    },
    #[error("{network}: rate limited{}: {provider_message}", retry_after.map(|d| format!(" (retry after {} ms)", d.as_millis())).unwrap_or_default())]
    RateLimited {
        network: Network,
        retry_after: Option<Duration>,
        provider_message: String,
    },
    /// The network refused the request; retrying the same will not help.
    #[error("{network} refused the request{}: {provider_message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Rejected {
        network: Network,
        status: Option<u16>,
        provider_message: String,
    },
    /// 5xx, timeouts, connection failures. `request_sent` is false only
    /// when the request surely never reached the network.
    #[error("{network} is unavailable: {reason}")]
    Unavailable {
        network: Network,
        reason: String,
        request_sent: bool,
    },
    /// The request may or may not have been carried out, and this network
    /// offers no way to check (Telegram): a person must look before it is
    /// sent again.
    #[error("{network}: the outcome is unknown and cannot be checked automatically: {reason}")]
    Unconfirmed { network: Network, reason: String },
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The post does not suit this network (missing media, wrong kind).
    #[error("{network}: {reason}")]
    Invalid { network: Network, reason: String },
    #[error("{network} does not support {what}")]
    Unsupported {
        network: Network,
        what: &'static str,
    },
    #[error("{network} answered unexpectedly: {reason}")]
    InvalidResponse { network: Network, reason: String },
}

impl NetworkError {
    /// Worth retrying after a while (`Unavailable`, `RateLimited`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            NetworkError::Unavailable { .. } | NetworkError::RateLimited { .. }
        )
    }

    /// The network may have acted on the request although it failed.
    pub fn maybe_accepted(&self) -> bool {
        matches!(
            self,
            NetworkError::Unavailable {
                request_sent: true,
                ..
            } | NetworkError::Unconfirmed { .. }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NetworkError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The channel must be reconnected.
    pub fn is_credentials(&self) -> bool {
        matches!(self, NetworkError::ExpiredCredentials { .. })
    }
}

pub type NetworkResult<T> = Result<T, NetworkError>;

/// Retries of one call (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A longer `Retry-After` is not waited for: the error is returned so
    /// the scheduler tries again later.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay_ms: 500,
            max_delay_ms: 30_000,
            max_retry_after_ms: 120_000,
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` after `e`, or `None`
    /// to give up.
    pub fn delay_for(&self, e: &NetworkError, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts || !e.is_retryable() {
            return None;
        }
        if let Some(after) = e.retry_after() {
            return (after <= Duration::from_millis(self.max_retry_after_ms)).then_some(after);
        }
        let exp = self
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay_ms);
        // Equal jitter: between half and all of the exponential delay.
        let half = exp / 2;
        let jitter = if half > 0 {
            rand::thread_rng().gen_range(0..=half)
        } else {
            0
        };
        Some(Duration::from_millis(half + jitter))
    }
}

/// Runs `op` until it succeeds, fails for good or the policy gives up.
pub(crate) async fn retrying<T, F, Fut>(
    network: Network,
    policy: &RetryPolicy,
    what: &'static str,
    mut op: F,
) -> NetworkResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = NetworkResult<T>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(delay) = policy.delay_for(&e, attempt) else {
                    return Err(e);
                };
                tracing::warn!(
                    network = network.as_str(),
                    what,
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %e,
                    "network call failed; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// Like [`retrying`], but only for failures the network surely did not act
/// on (rate limits, connections never made): for calls that create things
/// and have no way to check.
pub(crate) async fn retrying_unsent<T, F, Fut>(
    network: Network,
    policy: &RetryPolicy,
    what: &'static str,
    mut op: F,
) -> NetworkResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = NetworkResult<T>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let delay = if e.maybe_accepted() {
                    None
                } else {
                    policy.delay_for(&e, attempt)
                };
                let Some(delay) = delay else {
                    return Err(e);
                };
                tracing::warn!(
                    network = network.as_str(),
                    what,
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %e,
                    "network call was not carried out; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// Publishes with `attempt`, retrying per `policy`; whenever an attempt may
/// have reached the network (and first of all when `post.prior_attempt`),
/// `lookup` runs before the next attempt and its find is returned instead
/// of posting again. A failed lookup is retried, never skipped.
pub(crate) async fn publish_checked<A, AF, L, LF>(
    network: Network,
    policy: &RetryPolicy,
    post: &OutgoingPost,
    mut attempt: A,
    mut lookup: L,
) -> NetworkResult<Published>
where
    A: FnMut() -> AF,
    AF: std::future::Future<Output = NetworkResult<Published>>,
    L: FnMut() -> LF,
    LF: std::future::Future<Output = NetworkResult<Option<Published>>>,
{
    let mut need_lookup = post.prior_attempt;
    let mut n = 1;
    loop {
        let result = if need_lookup {
            match lookup().await {
                Ok(Some(found)) => {
                    tracing::info!(
                        network = network.as_str(),
                        marker = %post.marker,
                        post_id = %found.provider_post_id,
                        "the post is already published; not posting again"
                    );
                    return Ok(found);
                }
                Ok(None) => {
                    need_lookup = false;
                    attempt().await
                }
                Err(e) => Err(e),
            }
        } else {
            attempt().await
        };
        match result {
            Ok(p) => return Ok(p),
            Err(e) => {
                if e.maybe_accepted() {
                    need_lookup = true;
                }
                let Some(delay) = policy.delay_for(&e, n) else {
                    return Err(e);
                };
                tracing::warn!(
                    network = network.as_str(),
                    marker = %post.marker,
                    attempt = n,
                    delay_ms = delay.as_millis() as u64,
                    check_first = need_lookup,
                    error = %e,
                    "publishing failed; retrying"
                );
                tokio::time::sleep(delay).await;
                n += 1;
            }
        }
    }
}

/// What every network client does. Object safe: hold them as
/// `Box<dyn Publisher>` / `Arc<dyn Publisher>`.
pub trait Publisher: Send + Sync {
    fn network(&self) -> Network;

    /// Publishes `post` once (see the module documentation on idempotency).
    fn publish<'a>(&'a self, post: &'a OutgoingPost) -> BoxFuture<'a, NetworkResult<Published>>;

    /// The already published post carrying `marker`, if the network can
    /// tell (Telegram cannot: `Unsupported`).
    fn find<'a>(&'a self, marker: &'a Marker) -> BoxFuture<'a, NetworkResult<Option<Published>>>;

    fn metrics<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<PostMetrics>>;

    /// Recent comments of a post (Facebook, Instagram, YouTube).
    fn comments<'a>(
        &'a self,
        provider_post_id: &'a str,
    ) -> BoxFuture<'a, NetworkResult<Vec<Comment>>>;

    /// Replies to a comment: the reply's id (Facebook, Instagram, YouTube).
    fn reply<'a>(
        &'a self,
        comment_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, NetworkResult<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_stable_and_parse() {
        let a = Marker::for_key(b"post-1");
        assert_eq!(a, Marker::for_key(b"post-1"));
        assert_ne!(a, Marker::for_key(b"post-2"));
        assert_eq!(a.as_str().len(), 10);
        assert_eq!(Marker::parse(a.as_str()).unwrap(), a);
        assert!(Marker::parse("jfABCDEFGH").is_err());
        assert!(Marker::parse("xx23456723").is_err());
        assert!(Marker::parse("jf1").is_err());
        let r = Marker::random();
        assert!(Marker::parse(r.as_str()).is_ok());
    }

    #[test]
    fn marker_matches_whole_hashtags_only() {
        let m = Marker::parse("jfabcdefgh").unwrap();
        assert!(m.is_in("hello #jfabcdefgh"));
        assert!(m.is_in("#jfabcdefgh, more"));
        assert!(!m.is_in("hello #jfabcdefghi"));
        assert!(!m.is_in("hello jfabcdefgh"));
    }

    #[test]
    fn text_gets_the_marker_once() {
        let m = Marker::parse("jfabcdefgh").unwrap();
        let p = OutgoingPost::text(m.clone(), "Today's panchang  ");
        assert_eq!(p.text_with_marker(), "Today's panchang\n\n#jfabcdefgh");
        let p = OutgoingPost::text(m, "x #jfabcdefgh y");
        assert_eq!(p.text_with_marker(), "x #jfabcdefgh y");
    }

    #[test]
    fn retry_policy_honours_retry_after_and_bounds() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
            max_retry_after_ms: 5_000,
        };
        let limited = |s| NetworkError::RateLimited {
            network: Network::X,
            retry_after: Some(Duration::from_secs(s)),
            provider_message: String::new(),
        };
        assert_eq!(p.delay_for(&limited(2), 1), Some(Duration::from_secs(2)));
        assert_eq!(p.delay_for(&limited(60), 1), None);
        assert_eq!(p.delay_for(&limited(1), 3), None);
        let down = NetworkError::Unavailable {
            network: Network::X,
            reason: String::new(),
            request_sent: true,
        };
        let d = p.delay_for(&down, 2).unwrap();
        assert!(
            d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
            "{d:?}"
        );
        let refused = NetworkError::Rejected {
            network: Network::X,
            status: Some(400),
            provider_message: String::new(),
        };
        assert_eq!(p.delay_for(&refused, 1), None);
    }
}
