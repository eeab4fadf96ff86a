//! The steps every webhook goes through, whoever sent it: content type, a
//! bounded body read, publish with confirm, and the answer. Provider modules
//! add their signature check and their dedup key between these steps.

use crate::error::ApiError;
use crate::startup::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use futures::StreamExt;
use inlet_domain::envelope::EventMeta;
use inlet_domain::Provider;
use serde::Serialize;
use std::time::Instant;

/// Rejects a request whose content type is not JSON (`application/json` or `+json`).
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence {
        Some(t)
            if t == "application/json"
                || (t.starts_with("application/") && t.ends_with("+json")) =>
        {
            Ok(())
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Reads the body, never more than `limit` bytes: a declared length over the
/// limit is refused before reading, a stream that grows past it is cut off.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::Malformed)?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The 200 answer.
#[derive(Serialize)]
pub struct Accepted {
    status: &'static str,
    id: String,
}

/// Publishes the event and waits for the confirm; a failure becomes a 503.
pub async fn publish(
    state: &AppState,
    meta: &EventMeta,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    match state.publisher.publish(meta, body).await {
        Ok(()) => {
            tracing::debug!(correlation_id = %meta.correlation_id, provider = %meta.provider, "Event published.");
            Ok(HttpResponse::Ok().json(Accepted {
                status: "accepted",
                id: meta.correlation_id.clone(),
            }))
        }
        Err(error) => {
            tracing::warn!(
                correlation_id = %meta.correlation_id,
                provider = %meta.provider,
                error = %error,
                "Could not publish an event; answering 503."
            );
            Err(ApiError::Unavailable {
                retry_after: state.settings.retry_after_secs,
            })
        }
    }
}

/// Counts and times a finished request; returns its result unchanged.
pub fn record(
    state: &AppState,
    provider: Provider,
    started: Instant,
    result: Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(e) => e.outcome(),
    };
    state.metrics.count(provider.as_str(), outcome);
    state
        .metrics
        .request_duration
        .with_label_values(&[provider.as_str()])
        .observe(started.elapsed().as_secs_f64());
    result
}

/// A fresh correlation id: time-ordered, so logs sort by arrival.
pub fn correlation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
