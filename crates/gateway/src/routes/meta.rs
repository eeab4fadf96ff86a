//! Meta's WhatsApp Cloud API: the verification handshake and signed webhooks,
//! on the unified `/webhooks/meta` and on each line's `/webhooks/meta/{line}`.

use super::ingest::{
    client_ip, count_failure, header_str, ingest, record, refuse_if_throttled, rejected, Described,
};
use crate::error::ApiError;
use crate::peek;
use crate::senders::MetaCreds;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use inlet_domain::signature::meta;
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
    req: HttpRequest,
    query: web::Query<Handshake>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let creds = state.senders.meta.unified();
    answer_handshake(&req, &query, &state, creds)
}

/// `GET /webhooks/meta/{line}`: the same, with the line's own verify token.
pub async fn line_handshake(
    req: HttpRequest,
    query: web::Query<Handshake>,
    state: web::Data<AppState>,
    line: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let creds = state.senders.meta.line(&line);
    answer_handshake(&req, &query, &state, creds)
}

/// Answers the handshake and counts a refusal in `inlet_gateway_requests_total`
/// like a refused webhook (a wrong verify token as `invalid_signature`), so
/// that a broken subscription shows on the dashboard and in the alerts.
fn answer_handshake(
    req: &HttpRequest,
    query: &Handshake,
    state: &AppState,
    creds: Option<&MetaCreds>,
) -> Result<HttpResponse, ApiError> {
    let answer = check_handshake(req, query, state, creds);
    if let Err(refused) = &answer {
        state
            .metrics
            .count(Provider::Meta.as_str(), refused.outcome());
    }
    answer
}

fn check_handshake(
    req: &HttpRequest,
    query: &Handshake,
    state: &AppState,
    creds: Option<&MetaCreds>,
) -> Result<HttpResponse, ApiError> {
    let creds = creds.ok_or(ApiError::NotFound)?;
    let client = client_ip(req, state.settings.trust_forwarded_for);
    refuse_if_throttled(state, client)?;
    let token_ok = query.verify_token.as_deref().is_some_and(|t| {
        creds
            .verify_tokens
            .iter()
            .any(|expected| bool::from(t.as_bytes().ct_eq(expected.expose().as_bytes())))
    });
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && token_ok => {
            tracing::info!("Meta verification handshake accepted.");
            Ok(HttpResponse::Ok()
                .content_type("text/plain")
                .body(challenge.clone()))
        }
        _ => {
            tracing::warn!("Meta verification handshake refused.");
            count_failure(state, client, &ApiError::Forbidden);
            Err(ApiError::Forbidden)
        }
    }
}

/// `POST /webhooks/meta`: any configured app secret; the line from the body.
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    accept(req, payload, state, None).await
}

/// `POST /webhooks/meta/{line}`: the line's own app secrets (or the global ones).
pub async fn receive_line(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    line: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    accept(req, payload, state, Some(line.into_inner())).await
}

/// Verifies `X-Hub-Signature-256` over the raw body, checks it is JSON,
/// publishes it and answers once the broker confirmed.
async fn accept(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    line: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let registry = &state.senders.meta;
    let creds = registry.route(line.as_deref());
    let result = match creds {
        None => Err(ApiError::NotFound),
        Some(creds) => {
            let check = |creds: &MetaCreds, body: &[u8], now| {
                meta::verify(
                    header_str(&req, "x-hub-signature-256"),
                    body,
                    &creds.secrets,
                    now,
                )
                .map_err(rejected)
            };
            let verify = |body: &[u8], now| check(creds, body, now).map(|()| "sha256");
            let describe = |body: &[u8], now| {
                let peeked = peek::meta(body)?;
                let line_signature =
                    registry.check_named_lines(line.as_deref(), &peeked.lines, |own| {
                        check(own, body, now)
                    });
                // The URL names the line when there is one; else a batch that
                // names a single phone_number_id does.
                let line = line.clone().or(peeked.line);
                Ok(Described {
                    dedup_key: peeked.dedup_key,
                    line_unknown: line.as_deref().is_some_and(|l| registry.is_unknown(l)),
                    line,
                    source: None,
                    line_signature,
                })
            };
            ingest(&req, payload, &state, Provider::Meta, verify, describe).await
        }
    };
    record(&state, Provider::Meta, started, result)
}
