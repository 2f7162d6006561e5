//! The `avatar` configuration section (see the README's "Avatar messages").

use platform::config::{check_secret, ConfigError, Environment};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Who speaks the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProvider {
    /// espeak-ng on this machine (offline).
    Local,
    /// ElevenLabs' text-to-speech API.
    Elevenlabs,
}

impl VoiceProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceProvider::Local => "local",
            VoiceProvider::Elevenlabs => "elevenlabs",
        }
    }
}

/// Who makes the video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum VideoProvider {
    /// ffmpeg on this machine: the avatar image over the speech.
    #[serde(rename = "local")]
    Local,
    /// D-ID's talks API (a talking head from the image).
    #[serde(rename = "d-id")]
    DId,
}

impl VideoProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoProvider::Local => "local",
            VideoProvider::DId => "d-id",
        }
    }
}

/// The container of voice results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceFormat {
    /// Opus in Ogg (`audio/ogg`).
    Ogg,
    /// MP3 (`audio/mpeg`).
    Mp3,
}

impl VoiceFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            VoiceFormat::Ogg => "audio/ogg",
            VoiceFormat::Mp3 => "audio/mpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            VoiceFormat::Ogg => "ogg",
            VoiceFormat::Mp3 => "mp3",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A directory on this machine (`avatar.store.path`).
    Local,
    /// An S3-compatible bucket (needs media built with the `s3` feature).
    S3,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AvatarConfig {
    /// Accept new jobs (existing ones are still served and worked).
    pub enabled: bool,
    /// Jobs one instance works on at once.
    pub workers: usize,
    pub voice_provider: VoiceProvider,
    pub video_provider: VideoProvider,
    pub voice_format: VoiceFormat,
    /// Catalog codes priced per job, by kind.
    pub service_codes: AvatarServiceCodes,
    /// Lifetime of a job's credit hold (pricing releases an abandoned one).
    pub hold_ttl_secs: i64,
    /// A worker's claim on a running job; extended every third of it while
    /// the job runs, and JetStream's ack wait. A worker that dies leaves
    /// the job to the next delivery once this has passed.
    pub lease_secs: u64,
    /// Deliveries that may start work on one job (a worker that dies counts);
    /// then the job fails.
    pub max_attempts: i32,
    /// Retries of a provider's transient errors within one attempt.
    pub retry: RetryConfig,
    /// Longest one attempt may run.
    pub job_timeout_secs: u64,
    /// Longest one external program (espeak-ng, ffmpeg, ffprobe) may run.
    pub process_timeout_secs: u64,
    /// On shutdown, running jobs get this long to finish before they are
    /// handed back to the queue.
    pub drain_secs: u64,
    /// How often unsettled holds and stuck jobs are looked for.
    pub sweep_interval_ms: u64,
    /// A queued job not taken, or a running one whose lease expired this
    /// long ago, is queued again (a lost message).
    pub redispatch_after_secs: u64,
    pub tools: ToolsConfig,
    pub video: VideoConfig,
    pub images: ImagesConfig,
    pub store: StoreConfig,
    pub elevenlabs: ElevenLabsConfig,
    pub d_id: DIdConfig,
    /// Test hooks; refused in production.
    pub fault: FaultConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AvatarServiceCodes {
    pub voice: String,
    pub video: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RetryConfig {
    /// Retries after the first try (0: none).
    pub max_times: usize,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ToolsConfig {
    pub espeak_ng: String,
    pub ffmpeg: String,
    pub ffprobe: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct VideoConfig {
    /// The longer side of a video, in pixels (even); the image is scaled down to fit.
    pub max_side: u32,
    pub fps: u32,
    /// x264's preset (`ultrafast` .. `veryslow`).
    pub preset: String,
    /// Background colour (`0xRRGGBB`) of videos made without an avatar image.
    pub background: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ImagesConfig {
    pub max_bytes: usize,
    pub min_side: u32,
    pub max_side: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// `local`: the directory (created at start). Empty (outside
    /// production): `jyotiflow-media` under the system's temp directory.
    pub path: String,
    /// `s3`: bucket, endpoint (empty: AWS), region and keys.
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// `s3`: allow a plain-HTTP endpoint (MinIO in development).
    pub allow_http: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ElevenLabsConfig {
    pub base_url: String,
    pub api_key: SecretString,
    pub model_id: String,
    /// The voice when a job names none.
    pub default_voice_id: String,
    /// Longest one request may take.
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DIdConfig {
    pub base_url: String,
    /// Sent as `Authorization: Basic <api_key>` (D-ID issues it in that form).
    pub api_key: SecretString,
    /// Public base URL of the avatar images: D-ID fetches
    /// `<image_base_url>/<object key>` itself.
    pub image_base_url: String,
    /// The script's TTS provider (`microsoft`, `elevenlabs`, ...) when a job
    /// names a voice; empty: D-ID's default voice.
    pub tts_provider: String,
    pub poll_interval_ms: u64,
    /// Longest one request may take.
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FaultConfig {
    /// The first delivery of every job stops mid-job without acking or
    /// updating the job (as a worker that dies does); tests use it.
    pub abandon_first_delivery: bool,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("avatar.enabled", true)?
        .set_default("avatar.workers", 2)?
        .set_default("avatar.voice_provider", "local")?
        .set_default("avatar.video_provider", "local")?
        .set_default("avatar.voice_format", "ogg")?
        .set_default("avatar.service_codes.voice", "avatar_voice")?
        .set_default("avatar.service_codes.video", "avatar_video")?
        .set_default("avatar.hold_ttl_secs", 3600)?
        .set_default("avatar.lease_secs", 30)?
        .set_default("avatar.max_attempts", 3)?
        .set_default("avatar.retry.max_times", 4)?
        .set_default("avatar.retry.min_delay_ms", 500)?
        .set_default("avatar.retry.max_delay_ms", 8000)?
        .set_default("avatar.job_timeout_secs", 600)?
        .set_default("avatar.process_timeout_secs", 120)?
        .set_default("avatar.drain_secs", 10)?
        .set_default("avatar.sweep_interval_ms", 5000)?
        .set_default("avatar.redispatch_after_secs", 300)?
        .set_default("avatar.tools.espeak_ng", "espeak-ng")?
        .set_default("avatar.tools.ffmpeg", "ffmpeg")?
        .set_default("avatar.tools.ffprobe", "ffprobe")?
        .set_default("avatar.video.max_side", 512)?
        .set_default("avatar.video.fps", 25)?
        .set_default("avatar.video.preset", "veryfast")?
        .set_default("avatar.video.background", "0x3b2f5c")?
        .set_default("avatar.images.max_bytes", 5 * 1024 * 1024)?
        .set_default("avatar.images.min_side", 64)?
        .set_default("avatar.images.max_side", 4096)?
        .set_default("avatar.store.kind", "local")?
        .set_default("avatar.store.path", "")?
        .set_default("avatar.store.bucket", "")?
        .set_default("avatar.store.endpoint", "")?
        .set_default("avatar.store.region", "us-east-1")?
        .set_default("avatar.store.access_key_id", "")?
        .set_default("avatar.store.secret_access_key", "")?
        .set_default("avatar.store.allow_http", false)?
        .set_default("avatar.elevenlabs.base_url", "https://api.elevenlabs.io")?
        .set_default("avatar.elevenlabs.api_key", "")?
        .set_default("avatar.elevenlabs.model_id", "eleven_multilingual_v2")?
        .set_default("avatar.elevenlabs.default_voice_id", "21m00Tcm4TlvDq8nAF4T")?
        .set_default("avatar.elevenlabs.timeout_ms", 60_000)?
        .set_default("avatar.d_id.base_url", "https://api.d-id.com")?
        .set_default("avatar.d_id.api_key", "")?
        .set_default("avatar.d_id.image_base_url", "")?
        .set_default("avatar.d_id.tts_provider", "")?
        .set_default("avatar.d_id.poll_interval_ms", 1000)?
        .set_default("avatar.d_id.timeout_ms", 60_000)?
        .set_default("avatar.fault.abandon_first_delivery", false)
}

/// x264's presets.
pub const PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

fn http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.ends_with('/')
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            "must be an http(s) URL without a trailing slash",
        ))
    }
}

fn program(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(ConfigError::invalid(
            key,
            "must name a program (on PATH, or a path)",
        ));
    }
    Ok(())
}

impl AvatarConfig {
    pub fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        if self.workers == 0 || self.workers > 64 {
            return Err(ConfigError::invalid(
                "avatar.workers",
                "must be between 1 and 64",
            ));
        }
        for (key, code) in [
            ("avatar.service_codes.voice", &self.service_codes.voice),
            ("avatar.service_codes.video", &self.service_codes.video),
        ] {
            if code.is_empty() || code.len() > 64 {
                return Err(ConfigError::invalid(key, "must be a catalog service code"));
            }
        }
        if !(60..=86_400).contains(&self.hold_ttl_secs) {
            return Err(ConfigError::invalid(
                "avatar.hold_ttl_secs",
                "must be between 60 and 86400 (pricing's longest hold)",
            ));
        }
        if !(1..=3600).contains(&self.lease_secs) {
            return Err(ConfigError::invalid(
                "avatar.lease_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(ConfigError::invalid(
                "avatar.max_attempts",
                "must be between 1 and 20",
            ));
        }
        if self.retry.max_times > 20 {
            return Err(ConfigError::invalid(
                "avatar.retry.max_times",
                "must be at most 20",
            ));
        }
        if self.retry.min_delay_ms == 0 || self.retry.min_delay_ms > self.retry.max_delay_ms {
            return Err(ConfigError::invalid(
                "avatar.retry.min_delay_ms",
                "must be greater than 0 and at most avatar.retry.max_delay_ms",
            ));
        }
        for (key, v) in [
            ("avatar.job_timeout_secs", self.job_timeout_secs),
            ("avatar.process_timeout_secs", self.process_timeout_secs),
            ("avatar.sweep_interval_ms", self.sweep_interval_ms),
            ("avatar.redispatch_after_secs", self.redispatch_after_secs),
            ("avatar.video.fps", u64::from(self.video.fps)),
            ("avatar.d_id.poll_interval_ms", self.d_id.poll_interval_ms),
            ("avatar.elevenlabs.timeout_ms", self.elevenlabs.timeout_ms),
            ("avatar.d_id.timeout_ms", self.d_id.timeout_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if self.drain_secs > 600 {
            return Err(ConfigError::invalid(
                "avatar.drain_secs",
                "must be at most 600",
            ));
        }
        program("avatar.tools.espeak_ng", &self.tools.espeak_ng)?;
        program("avatar.tools.ffmpeg", &self.tools.ffmpeg)?;
        program("avatar.tools.ffprobe", &self.tools.ffprobe)?;
        let v = &self.video;
        if !(16..=1920).contains(&v.max_side) || !v.max_side.is_multiple_of(2) {
            return Err(ConfigError::invalid(
                "avatar.video.max_side",
                "must be an even number of pixels between 16 and 1920",
            ));
        }
        if v.fps > 60 {
            return Err(ConfigError::invalid(
                "avatar.video.fps",
                "must be between 1 and 60",
            ));
        }
        if !PRESETS.contains(&v.preset.as_str()) {
            return Err(ConfigError::invalid(
                "avatar.video.preset",
                format!("must be one of {}", PRESETS.join(", ")),
            ));
        }
        let bg = v.background.strip_prefix("0x").unwrap_or("");
        if bg.len() != 6 || !bg.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::invalid(
                "avatar.video.background",
                "must be a colour as 0xRRGGBB",
            ));
        }
        let i = &self.images;
        if i.max_bytes < 1024 || i.max_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "avatar.images.max_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        if i.min_side == 0 || i.min_side > i.max_side || i.max_side > 16_384 {
            return Err(ConfigError::invalid(
                "avatar.images.min_side",
                "must be at least 1 and at most avatar.images.max_side (at most 16384)",
            ));
        }
        let s = &self.store;
        match s.kind {
            StoreKind::Local => {
                if s.path.is_empty() && env == Environment::Production {
                    return Err(ConfigError::invalid(
                        "avatar.store.path",
                        "must name a directory for avatar images and results \
                         (a persistent volume shared by every media instance), or use s3",
                    ));
                }
            }
            StoreKind::S3 => {
                if !cfg!(feature = "s3") {
                    return Err(ConfigError::invalid(
                        "avatar.store.kind",
                        "s3 is not compiled in: build media with its `s3` feature \
                         (cargo build -p media --features s3), or use local",
                    ));
                }
                if s.bucket.is_empty() {
                    return Err(ConfigError::invalid(
                        "avatar.store.bucket",
                        "must name the bucket when avatar.store.kind is s3",
                    ));
                }
                if !s.endpoint.is_empty() {
                    http_url("avatar.store.endpoint", &s.endpoint)?;
                    if s.endpoint.starts_with("http://") && !s.allow_http {
                        return Err(ConfigError::invalid(
                            "avatar.store.endpoint",
                            "is plain http: set avatar.store.allow_http to allow it",
                        ));
                    }
                }
                if s.region.is_empty() {
                    return Err(ConfigError::invalid(
                        "avatar.store.region",
                        "must be set when avatar.store.kind is s3",
                    ));
                }
                if s.access_key_id.is_empty() != s.secret_access_key.expose_secret().is_empty() {
                    return Err(ConfigError::invalid(
                        "avatar.store.secret_access_key",
                        "set both avatar.store.access_key_id and avatar.store.secret_access_key, \
                         or neither (credentials from the environment)",
                    ));
                }
                if !s.access_key_id.is_empty() {
                    check_secret("avatar.store.secret_access_key", &s.secret_access_key, env)?;
                }
            }
        }
        if self.voice_provider == VoiceProvider::Elevenlabs {
            let e = &self.elevenlabs;
            http_url("avatar.elevenlabs.base_url", &e.base_url)?;
            check_secret("avatar.elevenlabs.api_key", &e.api_key, env)?;
            if e.model_id.is_empty() {
                return Err(ConfigError::invalid(
                    "avatar.elevenlabs.model_id",
                    "must be set",
                ));
            }
            if !crate::avatar::valid_voice(&e.default_voice_id) {
                return Err(ConfigError::invalid(
                    "avatar.elevenlabs.default_voice_id",
                    "must be a voice id (letters, digits, _ + -; at most 64)",
                ));
            }
        }
        if self.video_provider == VideoProvider::DId {
            let d = &self.d_id;
            http_url("avatar.d_id.base_url", &d.base_url)?;
            check_secret("avatar.d_id.api_key", &d.api_key, env)?;
            http_url("avatar.d_id.image_base_url", &d.image_base_url)?;
            if !d.tts_provider.is_empty()
                && !d
                    .tts_provider
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            {
                return Err(ConfigError::invalid(
                    "avatar.d_id.tts_provider",
                    "must be a provider name such as microsoft or elevenlabs (or empty)",
                ));
            }
        }
        if self.fault.abandon_first_delivery && env == Environment::Production {
            return Err(ConfigError::invalid(
                "avatar.fault.abandon_first_delivery",
                "is a test hook and must be false in production",
            ));
        }
        Ok(())
    }
}
