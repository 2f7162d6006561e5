//! The words of the avatar API: job kinds, languages, voices, states, and
//! the request and answer bodies.

use chrono::{DateTime, Utc};
use platform::input::{Text, VALIDATION_MARK};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Longest text a job speaks, in characters.
pub const MAX_TEXT: usize = 2000;

fn invalid<E: serde::de::Error>(message: String) -> E {
    E::custom(format!("{VALIDATION_MARK}{message}"))
}

/// What a job makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Speech only (Opus in Ogg, or MP3).
    Voice,
    /// The avatar image speaking (H.264 + AAC in MP4, with WebVTT captions).
    Video,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Voice => "voice",
            Kind::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "voice" => Some(Kind::Voice),
            "video" => Some(Kind::Video),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| invalid("must be voice or video".into()))
    }
}

/// The languages jobs speak (each has an espeak-ng voice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Hi,
    Ta,
    Te,
    Kn,
    Ml,
    Bn,
    Mr,
    Gu,
    Pa,
    Or,
    Ne,
    Ur,
}

impl Language {
    pub const ALL: &'static [Language] = &[
        Language::En,
        Language::Hi,
        Language::Ta,
        Language::Te,
        Language::Kn,
        Language::Ml,
        Language::Bn,
        Language::Mr,
        Language::Gu,
        Language::Pa,
        Language::Or,
        Language::Ne,
        Language::Ur,
    ];

    /// The ISO 639-1 code (also espeak-ng's voice name).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Hi => "hi",
            Language::Ta => "ta",
            Language::Te => "te",
            Language::Kn => "kn",
            Language::Ml => "ml",
            Language::Bn => "bn",
            Language::Mr => "mr",
            Language::Gu => "gu",
            Language::Pa => "pa",
            Language::Or => "or",
            Language::Ne => "ne",
            Language::Ur => "ur",
        }
    }

    /// The ISO 639-2 code (MP4 subtitle tracks).
    pub fn iso639_2(self) -> &'static str {
        match self {
            Language::En => "eng",
            Language::Hi => "hin",
            Language::Ta => "tam",
            Language::Te => "tel",
            Language::Kn => "kan",
            Language::Ml => "mal",
            Language::Bn => "ben",
            Language::Mr => "mar",
            Language::Gu => "guj",
            Language::Pa => "pan",
            Language::Or => "ori",
            Language::Ne => "nep",
            Language::Ur => "urd",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        Language::ALL.iter().copied().find(|l| l.as_str() == s)
    }

    fn list() -> String {
        Language::ALL
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Language::parse(&s).ok_or_else(|| invalid(format!("must be one of {}", Language::list())))
    }
}

/// A voice name: an ElevenLabs voice id, or an espeak-ng variant (`f3`,
/// `m1`, `whisper`, ...) for the local provider.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Voice(String);

/// JSON Schema pattern of a [`Voice`].
pub const VOICE_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Whether `s` matches [`VOICE_PATTERN`].
pub fn valid_voice(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Voice {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(s: &str) -> Option<Voice> {
        valid_voice(s).then(|| Voice(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Voice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Voice::parse(&s).ok_or_else(|| {
            invalid("must be 1 to 64 letters, digits, '_' or '-' (a voice id or name)".into())
        })
    }
}

impl utoipa::PartialSchema for Voice {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::Type(
                utoipa::openapi::schema::Type::String,
            ))
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(VOICE_PATTERN))
            .description(Some(
                "an ElevenLabs voice id, or an espeak-ng variant (f1..f5, m1..m7, whisper, ...) for the local provider",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Voice {}

/// A file's raw bytes (request and response bodies that are not JSON).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::Type(
                utoipa::openapi::schema::Type::String,
            ))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Never shown: the credits are being held.
    Submitting,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl utoipa::PartialSchema for JobState {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::Type(
                utoipa::openapi::schema::Type::String,
            ))
            .enum_values(Some([
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
            ]))
            .description(Some(
                "queued -> running -> succeeded | failed; queued | running -> cancelled",
            ))
            .into()
    }
}

impl utoipa::ToSchema for JobState {}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Submitting => "submitting",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "submitting" => JobState::Submitting,
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// `POST /api/v1/avatars/jobs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pub kind: Kind,
    /// What the avatar says, 1 to 2,000 characters.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2000)]
    pub text: Option<Text<MAX_TEXT>>,
    /// One of the caller's delivered guidance answers to speak instead of
    /// `text` (its text is read from guidance; not both).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub guidance_message_id: Option<Uuid>,
    pub language: Language,
    #[schema(value_type = Option<Voice>)]
    pub voice: Option<Voice>,
    /// Video jobs: the avatar image (see `GET /api/v1/avatars/images`);
    /// default: the newest active one, or a plain background when there is none.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub image_id: Option<Uuid>,
}

/// What went wrong with a failed job.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobErrorView {
    /// `provider_error`, `synthesis_failed`, `encoding_failed`, `timeout`,
    /// `worker_lost`, `storage_error`, `hold_expired`, ...
    pub code: String,
    pub message: String,
}

/// The finished file of a succeeded job.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResultView {
    /// `GET` it (range requests allowed).
    pub url: String,
    /// `audio/ogg`, `audio/mpeg` or `video/mp4`.
    pub content_type: String,
    pub bytes: i64,
    pub duration_ms: Option<i32>,
    /// Video jobs: the WebVTT captions.
    pub captions_url: Option<String>,
}

/// A job as its owner sees it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub kind: Kind,
    pub state: JobState,
    pub text: String,
    pub language: Language,
    pub voice: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub image_id: Option<Uuid>,
    /// Who makes it: `local`, `elevenlabs` or `d-id`.
    pub provider: String,
    /// Credits held for the job (captured when it succeeds, else released).
    pub credits_held: i64,
    pub credits_charged: i64,
    /// Deliveries that started work on it.
    pub attempts: i32,
    pub error: Option<JobErrorView>,
    pub result: Option<ResultView>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl<'de> Deserialize<'de> for JobState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JobState::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown state"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use common::ErrorCode;
    use platform::http::parse_json;

    #[test]
    fn bad_values_name_their_field_with_422() {
        for (body, field) in [
            (
                r#"{"kind": "song", "text": "hi", "language": "en"}"#,
                "kind",
            ),
            (
                r#"{"kind": "voice", "text": "hi", "language": "xx"}"#,
                "language",
            ),
            (
                r#"{"kind": "voice", "text": "hi", "language": "en", "voice": "a b"}"#,
                "voice",
            ),
            (
                r#"{"kind": "voice", "text": "nul\u0000", "language": "en"}"#,
                "text",
            ),
        ] {
            let e = parse_json::<NewJob>(body.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationFailed, "{body}");
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
        }
        let long = "a".repeat(MAX_TEXT + 1);
        let e = parse_json::<NewJob>(
            format!(r#"{{"kind": "voice", "text": "{long}", "language": "en"}}"#).as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("text"));
        let ok: NewJob =
            parse_json(br#"{"kind": "video", "text": "Namaste", "language": "hi", "voice": "f3"}"#)
                .unwrap();
        assert_eq!(ok.kind, Kind::Video);
        assert_eq!(ok.language, Language::Hi);
    }
}
