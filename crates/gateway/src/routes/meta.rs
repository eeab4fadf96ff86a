//! Meta's WhatsApp Cloud API: the verification handshake and signed webhooks.

use super::ingest::{correlation_id, publish, read_body, record, require_json};
use crate::error::ApiError;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use inlet_domain::envelope::EventMeta;
use inlet_domain::payload::meta::line_of;
use inlet_domain::signature::meta::verify;
use inlet_domain::Provider;
use serde::Deserialize;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// The handshake's query string (Meta's literal dotted names).
#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhooks/meta`: echoes `hub.challenge` byte for byte when the token matches.
pub async fn handshake(
    query: web::Query<Handshake>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let expected = state.settings.meta_verify_token.expose().as_bytes();
    let token_ok = query
        .verify_token
        .as_deref()
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected)));
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && token_ok => {
            tracing::info!("Meta verification handshake accepted.");
            Ok(HttpResponse::Ok()
                .content_type("text/plain")
                .body(challenge.clone()))
        }
        _ => {
            tracing::warn!("Meta verification handshake refused.");
            Err(ApiError::Forbidden)
        }
    }
}

/// `POST /webhooks/meta`: verifies `X-Hub-Signature-256` over the raw body,
/// checks it is JSON, publishes it and answers once the broker confirmed.
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let result = accept(&req, payload, &state).await;
    record(&state, Provider::Meta, started, result)
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    require_json(req)?;
    let body = read_body(req, payload, state.settings.body_limit_bytes).await?;
    let header = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let now = Utc::now();
    verify(header, &body, &state.meta_secrets, now).map_err(|_| ApiError::InvalidSignature)?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::Malformed)?;
    // Meta resends the same body on retry (it does not promise to), so the
    // body hash is the dedup key; the worker's unique keys stay the real guard.
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let meta = EventMeta {
        provider: Provider::Meta,
        line: line_of(&value).map(str::to_owned),
        line_unknown: false,
        source: None,
        received_at: now,
        dedup_key: format!("meta:{}", hex::encode(digest.as_ref())),
        correlation_id: correlation_id(),
        attempt: 1,
    };
    publish(state, &meta, &body).await
}
