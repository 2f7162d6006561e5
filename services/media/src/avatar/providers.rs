//! Typed HTTP clients of the external providers, with base URLs and keys
//! from config:
//!
//! * ElevenLabs text-to-speech: `POST {base}/v1/text-to-speech/{voice_id}`
//!   with `xi-api-key`, JSON `{text, model_id}`, answered with MP3 bytes.
//! * D-ID talks: `POST {base}/talks` (Basic auth) with `{source_url,
//!   script: {type: "text", input, provider?}}` answered `{id, status}`,
//!   then `GET {base}/talks/{id}` until `status` is `done` (download
//!   `result_url`) or `error`/`rejected`.
//!
//! 429, 5xx and network failures are transient (the pipeline retries them
//! with backoff); other answers are final.

use super::config::{DIdConfig, ElevenLabsConfig};
use bytes::Bytes;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Largest file downloaded from a provider.
pub const MAX_DOWNLOAD: u64 = 256 * 1024 * 1024;

/// One failed step; `transient` ones are worth retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    pub transient: bool,
    pub message: String,
}

impl StepError {
    pub fn transient(message: impl Into<String>) -> StepError {
        StepError {
            transient: true,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> StepError {
        StepError {
            transient: false,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn network(provider: &str, e: &reqwest::Error) -> StepError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not be reached"
    } else {
        "request failed"
    };
    // reqwest's Display names the URL, which never carries a key here.
    StepError::transient(format!("{provider} {what}: {e}"))
}

/// The provider's own explanation, if it gave one (bounded, one line).
fn detail(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            [
                &v["detail"]["message"],
                &v["detail"],
                &v["description"],
                &v["message"],
                &v["error"]["description"],
                &v["error"],
            ]
            .iter()
            .find_map(|x| x.as_str().map(str::to_owned))
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn status_error(provider: &str, status: StatusCode, body: &[u8]) -> StepError {
    let d = detail(body);
    let message = if d.is_empty() {
        format!("{provider} answered HTTP {status}")
    } else {
        format!("{provider} answered HTTP {status}: {d}")
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        StepError::transient(message)
    } else {
        StepError::permanent(message)
    }
}

async fn body_bounded(provider: &str, r: reqwest::Response) -> Result<Bytes, StepError> {
    if r.content_length().is_some_and(|n| n > MAX_DOWNLOAD) {
        return Err(StepError::permanent(format!(
            "{provider} sent a file larger than {MAX_DOWNLOAD} bytes"
        )));
    }
    r.bytes().await.map_err(|e| network(provider, &e))
}

/// A path segment from a provider's answer, refused unless it is plain.
fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub struct ElevenLabs {
    client: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    model_id: String,
    pub default_voice_id: String,
}

pub const ELEVENLABS: &str = "elevenlabs";

impl ElevenLabs {
    pub fn new(cfg: &ElevenLabsConfig) -> anyhow::Result<ElevenLabs> {
        Ok(ElevenLabs {
            client: platform::http_client::builder()
                .timeout(Duration::from_millis(cfg.timeout_ms))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            base_url: cfg.base_url.clone(),
            api_key: cfg.api_key.clone(),
            model_id: cfg.model_id.clone(),
            default_voice_id: cfg.default_voice_id.clone(),
        })
    }

    /// Speaks `text` with `voice_id`: MP3 bytes.
    pub async fn speak(&self, text: &str, voice_id: &str) -> Result<Bytes, StepError> {
        if !plain_segment(voice_id) {
            return Err(StepError::permanent("the ElevenLabs voice id is not valid"));
        }
        let url = format!(
            "{}/v1/text-to-speech/{voice_id}?output_format=mp3_44100_128",
            self.base_url
        );
        let r = self
            .client
            .post(&url)
            .header("xi-api-key", self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "audio/mpeg")
            .json(&json!({ "text": text, "model_id": self.model_id }))
            .send()
            .await
            .map_err(|e| network(ELEVENLABS, &e))?;
        let status = r.status();
        let body = body_bounded(ELEVENLABS, r).await?;
        if !status.is_success() {
            return Err(status_error(ELEVENLABS, status, &body));
        }
        if body.is_empty() {
            return Err(StepError::transient("elevenlabs sent no audio"));
        }
        Ok(body)
    }
}

pub struct DId {
    client: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    pub image_base_url: String,
    tts_provider: String,
    pub poll_interval: Duration,
}

pub const D_ID: &str = "d-id";

/// A talk as D-ID reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct Talk {
    #[serde(default)]
    pub id: String,
    /// `created`, `started`, `done`, `error` or `rejected`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub result_url: Option<String>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

impl Talk {
    /// Why the talk failed, in D-ID's words.
    pub fn failure(&self) -> String {
        let d = self
            .error
            .as_ref()
            .map(|e| detail(e.to_string().as_bytes()))
            .unwrap_or_default();
        if d.is_empty() {
            format!("d-id could not make the video (status {})", self.status)
        } else {
            format!("d-id could not make the video: {d}")
        }
    }
}

impl DId {
    pub fn new(cfg: &DIdConfig) -> anyhow::Result<DId> {
        Ok(DId {
            client: platform::http_client::builder()
                .timeout(Duration::from_millis(cfg.timeout_ms))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            base_url: cfg.base_url.clone(),
            api_key: cfg.api_key.clone(),
            image_base_url: cfg.image_base_url.clone(),
            tts_provider: cfg.tts_provider.clone(),
            poll_interval: Duration::from_millis(cfg.poll_interval_ms),
        })
    }

    fn auth(&self) -> String {
        format!("Basic {}", self.api_key.expose_secret())
    }

    /// Starts a talk: its id.
    pub async fn create_talk(
        &self,
        source_url: &str,
        text: &str,
        voice: Option<&str>,
    ) -> Result<String, StepError> {
        let mut script = json!({ "type": "text", "input": text });
        if let (Some(v), false) = (voice, self.tts_provider.is_empty()) {
            script["provider"] = json!({ "type": self.tts_provider, "voice_id": v });
        }
        let r = self
            .client
            .post(format!("{}/talks", self.base_url))
            .header(reqwest::header::AUTHORIZATION, self.auth())
            .json(&json!({ "source_url": source_url, "script": script }))
            .send()
            .await
            .map_err(|e| network(D_ID, &e))?;
        let status = r.status();
        let body = body_bounded(D_ID, r).await?;
        if !status.is_success() {
            return Err(status_error(D_ID, status, &body));
        }
        let talk: Talk = serde_json::from_slice(&body)
            .map_err(|e| StepError::permanent(format!("d-id answered unreadably: {e}")))?;
        if !plain_segment(&talk.id) {
            return Err(StepError::permanent(
                "d-id answered without a usable talk id",
            ));
        }
        Ok(talk.id)
    }

    /// The talk's state now.
    pub async fn talk(&self, id: &str) -> Result<Talk, StepError> {
        let r = self
            .client
            .get(format!("{}/talks/{id}", self.base_url))
            .header(reqwest::header::AUTHORIZATION, self.auth())
            .send()
            .await
            .map_err(|e| network(D_ID, &e))?;
        let status = r.status();
        let body = body_bounded(D_ID, r).await?;
        if !status.is_success() {
            return Err(status_error(D_ID, status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| StepError::permanent(format!("d-id answered unreadably: {e}")))
    }

    /// Downloads a finished talk's video (`result_url`, no credentials).
    pub async fn download(&self, url: &str) -> Result<Bytes, StepError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(StepError::permanent(
                "d-id's result_url is not an http(s) URL",
            ));
        }
        let r = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| network(D_ID, &e))?;
        let status = r.status();
        let body = body_bounded(D_ID, r).await?;
        if !status.is_success() {
            return Err(status_error(D_ID, status, &body));
        }
        if body.is_empty() {
            return Err(StepError::transient("d-id's result was empty"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_and_explained() {
        let e = status_error(
            "elevenlabs",
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"detail": {"status": "busy", "message": "try later"}}"#,
        );
        assert!(e.transient);
        assert_eq!(
            e.message,
            "elevenlabs answered HTTP 503 Service Unavailable: try later"
        );
        let e = status_error("elevenlabs", StatusCode::TOO_MANY_REQUESTS, b"");
        assert!(e.transient);
        let e = status_error(
            "d-id",
            StatusCode::BAD_REQUEST,
            br#"{"description": "bad image"}"#,
        );
        assert!(!e.transient);
        assert!(e.message.ends_with("bad image"));
        assert!(plain_segment("tlk_AbC-12") && !plain_segment("../x") && !plain_segment(""));
    }
}
