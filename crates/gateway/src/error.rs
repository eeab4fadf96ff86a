//! The one error type handlers return: a stable code for clients, the cause for logs.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Why a webhook was not accepted. Clients see the stable `error` code and a
/// short message, never a secret, an expected signature or an internal cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or a wrong signature.
    #[error("signature missing or invalid")]
    InvalidSignature,
    /// A correctly formed signature whose timestamp is outside the window.
    #[error("signature timestamp outside the tolerance window")]
    Stale,
    /// The body is not JSON (or lacks what the provider always sends).
    #[error("body is not valid JSON")]
    Malformed,
    /// A required header is missing or unreadable.
    #[error("required header {0} is missing or invalid")]
    MissingHeader(&'static str),
    /// The body is larger than the configured limit.
    #[error("body exceeds the size limit")]
    TooLarge,
    /// The body did not arrive within the configured time.
    #[error("body did not arrive in time")]
    BodyTimeout,
    /// The content type is not JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The verification handshake failed.
    #[error("verification token mismatch")]
    Forbidden,
    /// No such sender or line is configured.
    #[error("unknown sender")]
    NotFound,
    /// Another copy of this event is being published right now.
    #[error("the same event is being processed; retry later")]
    InFlight {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// Too many signature failures from this client address.
    #[error("too many failed signature checks from this address")]
    Throttled {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// The broker could not take the event; the provider should retry.
    #[error("temporarily unable to accept events")]
    Unavailable {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// The bodies being read at once already fill the memory set aside for
    /// them; the provider should retry.
    #[error("too many request bodies in flight; retry later")]
    Busy {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidSignature => "invalid_signature",
            ApiError::Stale => "stale_signature",
            ApiError::Malformed => "malformed_body",
            ApiError::MissingHeader(_) => "missing_header",
            ApiError::TooLarge => "body_too_large",
            ApiError::BodyTimeout => "body_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::InFlight { .. } => "in_flight",
            ApiError::Throttled { .. } => "throttled",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Busy { .. } => "busy",
        }
    }

    /// Whether this is a failed signature or handshake check, which counts
    /// towards throttling the client address.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            ApiError::InvalidSignature | ApiError::Stale | ApiError::Forbidden
        )
    }

    /// The `outcome` label counted for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            ApiError::InvalidSignature | ApiError::Forbidden => "invalid_signature",
            ApiError::Stale => "stale",
            ApiError::Malformed | ApiError::MissingHeader(_) => "malformed",
            ApiError::TooLarge => "too_large",
            ApiError::BodyTimeout => "body_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::NotFound => "unknown_sender",
            ApiError::InFlight { .. } => "in_flight",
            ApiError::Throttled { .. } => "throttled",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Busy { .. } => "busy",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidSignature | ApiError::Stale => StatusCode::UNAUTHORIZED,
            ApiError::Malformed | ApiError::MissingHeader(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::InFlight { .. } => StatusCode::CONFLICT,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        if let ApiError::Unavailable { retry_after }
        | ApiError::Busy { retry_after }
        | ApiError::InFlight { retry_after }
        | ApiError::Throttled { retry_after } = self
        {
            builder.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        builder.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}
