//! The one error body every service returns, over HTTP and over NATS:
//! `{"error": {"code": "insufficient_credits", "message": "...", "request_id": "..."}}`.
//!
//! Codes are stable snake_case strings that clients may switch on. Each code
//! has one HTTP status; NATS replies carry the same body (and the status as
//! the `Nats-Service-Error-Code` header).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. Serialized as snake_case; unknown codes received
/// from a newer peer deserialize as [`ErrorCode::Other`] keeping the text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    InvalidPath,
    MalformedJson,
    ValidationFailed,
    Unauthorized,
    InvalidCredentials,
    TokenExpired,
    InvalidToken,
    RefreshTokenReused,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    EmailTaken,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    InsufficientCredits,
    QuoteExpired,
    HoldNotFound,
    HoldExpired,
    AmountExceedsHold,
    IdempotencyConflict,
    ProviderNotConfigured,
    ProviderError,
    BadGateway,
    GatewayTimeout,
    DatabaseUnavailable,
    MessagingUnavailable,
    ServiceUnavailable,
    Timeout,
    Internal,
    /// A code this build does not know (sent by a newer peer).
    Other(String),
}

impl ErrorCode {
    const TABLE: &'static [(ErrorCode, &'static str, u16)] = &[
        (ErrorCode::BadRequest, "bad_request", 400),
        (ErrorCode::InvalidPath, "invalid_path", 400),
        (ErrorCode::MalformedJson, "malformed_json", 400),
        (ErrorCode::ValidationFailed, "validation_failed", 422),
        (ErrorCode::Unauthorized, "unauthorized", 401),
        (ErrorCode::InvalidCredentials, "invalid_credentials", 401),
        (ErrorCode::TokenExpired, "token_expired", 401),
        (ErrorCode::InvalidToken, "invalid_token", 401),
        (ErrorCode::RefreshTokenReused, "refresh_token_reused", 401),
        (ErrorCode::Forbidden, "forbidden", 403),
        (ErrorCode::NotFound, "not_found", 404),
        (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
        (ErrorCode::Conflict, "conflict", 409),
        (ErrorCode::EmailTaken, "email_taken", 409),
        (ErrorCode::PayloadTooLarge, "payload_too_large", 413),
        (
            ErrorCode::UnsupportedMediaType,
            "unsupported_media_type",
            415,
        ),
        (ErrorCode::TooManyRequests, "too_many_requests", 429),
        (ErrorCode::InsufficientCredits, "insufficient_credits", 402),
        (ErrorCode::QuoteExpired, "quote_expired", 409),
        (ErrorCode::HoldNotFound, "hold_not_found", 404),
        (ErrorCode::HoldExpired, "hold_expired", 409),
        (ErrorCode::AmountExceedsHold, "amount_exceeds_hold", 409),
        (ErrorCode::IdempotencyConflict, "idempotency_conflict", 409),
        (
            ErrorCode::ProviderNotConfigured,
            "provider_not_configured",
            503,
        ),
        (ErrorCode::ProviderError, "provider_error", 502),
        (ErrorCode::BadGateway, "bad_gateway", 502),
        (ErrorCode::GatewayTimeout, "gateway_timeout", 504),
        (ErrorCode::DatabaseUnavailable, "database_unavailable", 503),
        (
            ErrorCode::MessagingUnavailable,
            "messaging_unavailable",
            503,
        ),
        (ErrorCode::ServiceUnavailable, "service_unavailable", 503),
        (ErrorCode::Timeout, "timeout", 504),
        (ErrorCode::Internal, "internal_error", 500),
    ];

    /// The stable wire name.
    pub fn as_str(&self) -> &str {
        if let ErrorCode::Other(s) = self {
            return s;
        }
        Self::TABLE
            .iter()
            .find(|(c, _, _)| c == self)
            .map(|(_, s, _)| *s)
            .unwrap_or("internal_error")
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(&self) -> u16 {
        Self::TABLE
            .iter()
            .find(|(c, _, _)| c == self)
            .map(|(_, _, st)| *st)
            .unwrap_or(500)
    }

    pub fn parse(s: &str) -> ErrorCode {
        Self::TABLE
            .iter()
            .find(|(_, name, _)| *name == s)
            .map(|(c, _, _)| c.clone())
            .unwrap_or_else(|| ErrorCode::Other(s.to_owned()))
    }

    /// Server-side failures whose details must not reach the client.
    pub fn is_server_error(&self) -> bool {
        self.http_status() >= 500
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("stable snake_case error code"))
            .into()
    }
}
impl utoipa::ToSchema for ErrorCode {}

/// The inner object of the error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The failing field for validation and malformed-body errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `{"error": {...}}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ApiError {
                code,
                message: message.into(),
                request_id: None,
                field: None,
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_to_statuses() {
        for (code, name, status) in ErrorCode::TABLE {
            assert_eq!(code.as_str(), *name);
            assert_eq!(ErrorCode::parse(name), *code);
            assert_eq!(code.http_status(), *status);
        }
        assert_eq!(
            ErrorCode::parse("brand_new"),
            ErrorCode::Other("brand_new".into())
        );
    }

    #[test]
    fn codes_are_unique() {
        let mut names: Vec<_> = ErrorCode::TABLE.iter().map(|(_, n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::TABLE.len());
    }

    #[test]
    fn body_shape_is_stable() {
        let mut b = ErrorBody::new(ErrorCode::InsufficientCredits, "need 7, have 3");
        b.error.request_id = Some("r1".into());
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "insufficient_credits", "message": "need 7, have 3", "request_id": "r1"}})
        );
    }
}
