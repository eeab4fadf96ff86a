//! The management API's errors: a stable `error` code and a message for the
//! client, the cause for the logs.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use inlet_domain::forward::target::TargetError;
use inlet_domain::repository::RepoError;
use serde::Serialize;

/// Why a management request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No bearer token, or not a client's.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No such resource for this client (whoever else may own it).
    #[error("not found")]
    NotFound,
    /// The body or query does not parse.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The endpoint URL is not allowed.
    #[error("{0}")]
    InvalidUrl(#[from] TargetError),
    /// A field has a value that cannot work.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The delivery is still being worked on.
    #[error("the delivery is still pending or retrying")]
    DeliveryInProgress,
    /// The database cannot be reached; try later.
    #[error("temporarily unavailable")]
    Unavailable(#[source] RepoError),
    /// A bug or an unexpected database answer.
    #[error("internal error")]
    Internal(#[source] RepoError),
}

impl From<RepoError> for AdminError {
    fn from(e: RepoError) -> Self {
        if e.is_transient() {
            AdminError::Unavailable(e)
        } else {
            AdminError::Internal(e)
        }
    }
}

impl AdminError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthorized => "unauthorized",
            AdminError::NotFound => "not_found",
            AdminError::InvalidRequest(_) => "invalid_request",
            AdminError::InvalidUrl(_) => "invalid_url",
            AdminError::InvalidField { .. } => "invalid_field",
            AdminError::DeliveryInProgress => "delivery_in_progress",
            AdminError::Unavailable(_) => "unavailable",
            AdminError::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECS: &str = "5";

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::InvalidUrl(_) | AdminError::InvalidField { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AdminError::DeliveryInProgress => StatusCode::CONFLICT,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::Unavailable(cause) => {
                tracing::warn!(error = %error_chain(cause), "Management API: database unavailable.");
            }
            AdminError::Internal(cause) => {
                tracing::error!(error = %error_chain(cause), "Management API: internal error.");
            }
            _ => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        match self {
            AdminError::Unauthorized => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AdminError::Unavailable(_) => {
                builder.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            _ => {}
        }
        builder.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
