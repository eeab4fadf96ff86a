//! Standard Webhooks senders: `POST /webhooks/standard/{source}`.
//!
//! Headers `webhook-id`, `webhook-timestamp`, `webhook-signature`; Svix sends
//! the same values as `svix-*`, so either set is read.

use super::ingest::{header_str, ingest, record, rejected, Described};
use crate::error::ApiError;
use crate::peek;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use inlet_domain::signature::standard::{self, StandardHeaders};
use inlet_domain::Provider;
use std::time::Instant;

/// The three headers, from `webhook-*` or else `svix-*`, and whether the
/// Svix names were used.
pub fn headers(req: &HttpRequest) -> (StandardHeaders<'_>, bool) {
    let pick = |name: &str, svix: &str| match header_str(req, name) {
        Some(v) => (Some(v), false),
        None => (header_str(req, svix), header_str(req, svix).is_some()),
    };
    let (id, a) = pick(standard::ID_HEADER, "svix-id");
    let (timestamp, b) = pick(standard::TIMESTAMP_HEADER, "svix-timestamp");
    let (signature, c) = pick(standard::SIGNATURE_HEADER, "svix-signature");
    (
        StandardHeaders {
            id,
            timestamp,
            signature,
        },
        a || b || c,
    )
}

/// A request without any signature is unauthenticated (401), whatever else
/// it lacks; only a signed one missing its id or timestamp is a bad request.
pub fn unsigned(headers: &StandardHeaders<'_>) -> Result<(), ApiError> {
    match headers.signature {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(ApiError::InvalidSignature),
    }
}

/// `POST /webhooks/standard/{source}`.
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    source: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let source = source.into_inner();
    let result = match state.senders.standard.line(&source) {
        None => Err(ApiError::NotFound),
        Some(creds) => {
            let (hdrs, svix) = headers(&req);
            let tolerance = state.senders.tolerance;
            let verify = |body: &[u8], now| {
                unsigned(&hdrs)?;
                standard::verify(&hdrs, body, &creds.secrets, now, tolerance)
                    .map(|()| if svix { "svix" } else { "standard" })
                    .map_err(rejected)
            };
            let describe = |body: &[u8], _now| {
                let peeked = peek::standard(&source, hdrs.id, body)?;
                Ok(Described {
                    line: peeked.line,
                    line_unknown: false,
                    dedup_key: peeked.dedup_key,
                    source: Some(source.clone()),
                    line_signature: Ok(()),
                })
            };
            ingest(&req, payload, &state, Provider::Standard, verify, describe).await
        }
    };
    record(&state, Provider::Standard, started, result)
}
