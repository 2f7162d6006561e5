//! One error type for services: a stable code, a message safe for the
//! client, an optional failing field, and the cause (logged, never sent).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use common::{ApiError, ErrorBody, ErrorCode};
use std::fmt;

pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
    pub cause: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
            cause: None,
        }
    }

    /// 422 naming the failing field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message).with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "you are not allowed to do this")
    }

    /// A 500 whose cause is logged and whose body says nothing internal.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::Internal, "internal error").with_cause(cause)
    }

    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body sent to the client; 5xx messages are generic.
    pub fn body(&self, request_id: Option<String>) -> ErrorBody {
        let message = if self.code == ErrorCode::Internal {
            "internal error".to_owned()
        } else {
            self.message.clone()
        };
        ErrorBody {
            error: ApiError {
                code: self.code.clone(),
                message,
                request_id,
                field: self.field.clone(),
            },
        }
    }

    fn log(&self) {
        if self.code.is_server_error() {
            match &self.cause {
                Some(c) => {
                    tracing::error!(code = %self.code, cause = format!("{c:#}"), "{}", self.message)
                }
                None => tracing::warn!(code = %self.code, "{}", self.message),
            }
        } else if let Some(c) = &self.cause {
            tracing::debug!(code = %self.code, cause = format!("{c:#}"), "{}", self.message);
        }
    }
}

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        let mut a = AppError::new(e.code, e.message);
        a.field = e.field;
        a
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(c) = &self.cause {
            write!(f, " ({c:#})")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut resp = HttpResponse::build(self.status());
        if let Some(secs) = self.retry_after_secs {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        resp.json(self.body(crate::http::current_request_id()))
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        e.into_app_error()
    }
}
