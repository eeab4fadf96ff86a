//! Self-hosted WhatsApp bridges: `POST /webhooks/bridge[/{line}]`, signed
//! with `X-Webhook-Signature` (hex HMAC of the raw body, `sha256=` allowed).
//!
//! The line is the session the body names, else the URL's; a body naming
//! another configured line must verify with that line's secret too.

use super::ingest::{header_str, ingest, record, rejected, Described};
use crate::error::ApiError;
use crate::peek;
use crate::senders::BridgeCreds;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use inlet_domain::signature::bridge;
use inlet_domain::Provider;
use std::time::Instant;

/// `POST /webhooks/bridge`: any configured bridge secret; the line from the body.
pub async fn unified(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    receive(req, payload, state, None).await
}

/// `POST /webhooks/bridge/{line}`: the line's own secret (or the bridge-wide one).
pub async fn line(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    line: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    receive(req, payload, state, Some(line.into_inner())).await
}

async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    line: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let registry = &state.senders.bridge;
    let creds = registry.route(line.as_deref());
    let result = match creds {
        None => Err(ApiError::NotFound),
        Some(creds) => {
            let check = |creds: &BridgeCreds, body: &[u8]| {
                bridge::verify(header_str(&req, bridge::HEADER), body, &creds.secrets)
                    .map_err(rejected)
            };
            let verify = |body: &[u8], _now| check(creds, body).map(|()| "sha256");
            let describe = |body: &[u8], _now| {
                let peeked = peek::bridge(line.as_deref(), body)?;
                let line_signature =
                    registry
                        .check_named_lines(line.as_deref(), &peeked.lines, |own| check(own, body));
                Ok(Described {
                    dedup_key: peeked.dedup_key,
                    line_unknown: peeked
                        .line
                        .as_deref()
                        .is_some_and(|l| registry.is_unknown(l)),
                    line: peeked.line,
                    source: None,
                    line_signature,
                })
            };
            ingest(&req, payload, &state, Provider::Bridge, verify, describe).await
        }
    };
    record(&state, Provider::Bridge, started, result)
}
