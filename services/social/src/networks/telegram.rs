//! Telegram channels through the Bot API (`https://api.telegram.org`): the
//! bot, an administrator of the channel, posts with
//!
//! * `POST /bot<token>/sendPhoto` and `/sendVideo` (multipart: `chat_id`,
//!   `caption`, and `photo` / `video` as a file or a public URL);
//! * `POST /bot<token>/sendMessage` (`chat_id`, `text`) for text only.
//!
//! Answers are `{ok: true, result: Message}` or `{ok: false, error_code,
//! description, parameters: {retry_after}}`: 401 is a revoked or wrong bot
//! token, 403 a bot that is not (or no longer) allowed in the channel, 429
//! a flood wait of `parameters.retry_after` seconds.
//!
//! The token is part of the request path: it is never logged, and every
//! transport error is reported without its URL.
//!
//! **Idempotency.** A bot cannot read a channel's history (no Bot API
//! method lists messages, and bots do not receive their own posts as
//! updates), so a post whose answer was lost cannot be looked up.
//! [`Telegram`] therefore never sends again after a failure that may have
//! been delivered (timeout, 5xx): it returns [`NetworkError::Unconfirmed`],
//! and refuses the same way when called with
//! [`OutgoingPost::prior_attempt`], so a person checks the channel (the
//! `#jf…` hashtag is searchable there) before the post is released again
//! without that flag. Flood waits (429: nothing was sent) and connection
//! failures (nothing reached Telegram) are retried. `message_id` is
//! returned as the post id for the caller to record. Metrics, comments
//! (they live in a linked discussion group) and replies are unsupported.

use super::http::{self, Answer, Multipart};
use super::{
    retrying_unsent, Comment, Marker, MediaKind, Network, NetworkError, NetworkResult,
    OutgoingPost, PostMetrics, Published, Publisher, RetryPolicy,
};
use crate::limits::Surface;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

const NET: Network = Network::Telegram;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TelegramConfig {
    pub base_url: String,
    /// Generous on purpose: a timeout after sending cannot be resolved
    /// automatically.
    pub timeout_ms: u64,
    pub retry: RetryPolicy,
}

impl Default for TelegramConfig {
    fn default() -> TelegramConfig {
        TelegramConfig {
            base_url: "https://api.telegram.org".into(),
            timeout_ms: 120_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// A channel the bot posts to.
#[derive(Clone, Debug)]
pub struct TelegramChannel {
    /// `@channelusername` or the numeric id (`-100…`).
    pub chat_id: String,
    pub bot_token: SecretString,
}

/// The parts of a sent message read here.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub message_id: i64,
    pub chat: Chat,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Chat {
    pub id: i64,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug)]
pub struct Telegram {
    client: reqwest::Client,
    base_url: String,
    channel: TelegramChannel,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

fn telegram_error(a: &Answer, env: Option<&Envelope>, secret: &str) -> NetworkError {
    let code = env
        .and_then(|e| e.error_code)
        .unwrap_or_else(|| a.status.as_u16());
    let provider_message = env
        .and_then(|e| e.description.as_deref())
        .map(|d| http::clean(d, secret))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| {
            let t = http::body_text(&a.body, secret);
            if t.is_empty() {
                format!("HTTP {}", a.status.as_u16())
            } else {
                t
            }
        });
    match code {
        401 => NetworkError::ExpiredCredentials {
            network: NET,
            provider_message,
        },
        403 => NetworkError::Unauthorized {
            network: NET,
            provider_message,
        },
        429 => NetworkError::RateLimited {
            network: NET,
            retry_after: env
                .and_then(|e| e.parameters.as_ref())
                .and_then(|p| p.retry_after)
                .map(Duration::from_secs)
                .or_else(|| http::retry_after(&a.headers)),
            provider_message,
        },
        c if c >= 500 => NetworkError::Unavailable {
            network: NET,
            reason: provider_message,
            request_sent: true,
        },
        c => NetworkError::Rejected {
            network: NET,
            status: Some(c),
            provider_message,
        },
    }
}

impl Telegram {
    pub fn new(cfg: &TelegramConfig, channel: TelegramChannel) -> anyhow::Result<Telegram> {
        let id = channel.chat_id.as_str();
        let ok = match id.strip_prefix('@') {
            Some(name) => {
                (4..=32).contains(&name.len())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }
            None => id.strip_prefix('-').unwrap_or(id).parse::<i64>().is_ok(),
        };
        if !ok {
            anyhow::bail!("telegram: chat_id must be @channelusername or a numeric id");
        }
        let token = channel.bot_token.expose_secret();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            anyhow::bail!("telegram: the bot token is not valid");
        }
        Ok(Telegram {
            client: http::client(Duration::from_millis(cfg.timeout_ms))?,
            base_url: http::base_url(NET, &cfg.base_url)?,
            channel,
            retry: cfg.retry.clone(),
        })
    }

    fn token(&self) -> &str {
        self.channel.bot_token.expose_secret()
    }

    async fn call_raw(
        &self,
        method: &str,
        content_type: String,
        body: Vec<u8>,
    ) -> NetworkResult<Message> {
        let u = http::url(
            NET,
            &self.base_url,
            &format!("/bot{}/{method}", self.token()),
            &[],
        )?;
        let a = http::send(
            NET,
            self.client
                .post(u)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await?;
        let env = serde_json::from_slice::<Envelope>(&a.body).ok();
        match &env {
            Some(Envelope {
                ok: true,
                result: Some(r),
                ..
            }) if a.status.is_success() => {
                serde_json::from_value(r.clone()).map_err(|e| NetworkError::InvalidResponse {
                    network: NET,
                    reason: format!("an unreadable message: {e}"),
                })
            }
            _ => Err(telegram_error(&a, env.as_ref(), self.token())),
        }
    }

    /// `sendPhoto` / `sendVideo` with the media as a file or a URL (one
    /// attempt).
    pub async fn send_media(
        &self,
        kind: MediaKind,
        media: &super::Media,
        caption: &str,
    ) -> NetworkResult<Message> {
        let (method, field) = match kind {
            MediaKind::Image => ("sendPhoto", "photo"),
            MediaKind::Video => ("sendVideo", "video"),
        };
        let form = Multipart::new()
            .text("chat_id", &self.channel.chat_id)
            .text("caption", caption);
        let form = match (&media.bytes, &media.url) {
            (Some(b), _) => form.file(field, &media.file_name, &media.content_type, b),
            (None, Some(u)) => form.text(field, u),
            (None, None) => {
                return Err(NetworkError::Invalid {
                    network: NET,
                    reason: "the media has neither bytes nor a URL".into(),
                })
            }
        };
        let form = if kind == MediaKind::Video {
            form.text("supports_streaming", "true")
        } else {
            form
        };
        let (ct, body) = form.finish();
        self.call_raw(method, ct, body).await
    }

    /// `sendMessage` (one attempt).
    pub async fn send_message(&self, text: &str) -> NetworkResult<Message> {
        let body = serde_json::to_vec(&json!({ "chat_id": self.channel.chat_id, "text": text }))
            .map_err(|e| NetworkError::Invalid {
                network: NET,
                reason: e.to_string(),
            })?;
        self.call_raw("sendMessage", "application/json".into(), body)
            .await
    }

    fn published(m: &Message) -> Published {
        let url = match &m.chat.username {
            Some(u) => Some(format!("https://t.me/{u}/{}", m.message_id)),
            None => m
                .chat
                .id
                .to_string()
                .strip_prefix("-100")
                .map(|internal| format!("https://t.me/c/{internal}/{}", m.message_id)),
        };
        Published {
            provider_post_id: m.message_id.to_string(),
            url,
        }
    }

    fn unconfirmed(post: &OutgoingPost, why: &str) -> NetworkError {
        NetworkError::Unconfirmed {
            network: NET,
            reason: format!(
                "{why}; a bot cannot read the channel's history, so look for {} in the channel \
                 and publish again without prior_attempt only if it is not there",
                post.marker.tag()
            ),
        }
    }

    #[tracing::instrument(name = "telegram.publish", skip_all, fields(marker = %post.marker))]
    pub async fn publish_post(&self, post: &OutgoingPost) -> NetworkResult<Published> {
        if post.prior_attempt {
            return Err(Telegram::unconfirmed(
                post,
                "an earlier attempt may have been delivered",
            ));
        }
        let surface = if post.media.is_some() {
            Surface::TelegramCaption
        } else {
            Surface::TelegramMessage
        };
        let text = post.checked_text(surface)?;
        let sent = retrying_unsent(NET, &self.retry, "send", || async {
            match &post.media {
                Some(m) => self.send_media(m.kind, m, &text).await,
                None => self.send_message(&text).await,
            }
        })
        .await;
        match sent {
            Ok(m) => {
                let p = Telegram::published(&m);
                tracing::info!(message_id = m.message_id, "telegram: posted");
                Ok(p)
            }
            Err(e) if e.maybe_accepted() => Err(Telegram::unconfirmed(post, &e.to_string())),
            Err(e) => Err(e),
        }
    }
}

impl Publisher for Telegram {
    fn network(&self) -> Network {
        NET
    }

    fn publish<'a>(&'a self, post: &'a OutgoingPost) -> BoxFuture<'a, NetworkResult<Published>> {
        Box::pin(self.publish_post(post))
    }

    fn find<'a>(&'a self, _: &'a Marker) -> BoxFuture<'a, NetworkResult<Option<Published>>> {
        Box::pin(async {
            Err(NetworkError::Unsupported {
                network: NET,
                what: "looking posts up (a bot cannot read a channel's history)",
            })
        })
    }

    fn metrics<'a>(&'a self, _: &'a str) -> BoxFuture<'a, NetworkResult<PostMetrics>> {
        Box::pin(async {
            Err(NetworkError::Unsupported {
                network: NET,
                what: "post metrics (the Bot API does not report views)",
            })
        })
    }

    fn comments<'a>(&'a self, _: &'a str) -> BoxFuture<'a, NetworkResult<Vec<Comment>>> {
        Box::pin(async {
            Err(NetworkError::Unsupported {
                network: NET,
                what: "reading comments (they live in the linked discussion group)",
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
