//! OpenPhone (Quo): `POST /webhooks/openphone[/{line}]`.
//!
//! Two formats may arrive on the same URL while a customer migrates: the
//! legacy `openphone-signature` header and Standard Webhooks headers. The
//! scheme is picked from the headers present, and each is counted in
//! `inlet_gateway_signature_format_total`, so operators see how much legacy
//! traffic remains.

use super::ingest::{header_str, ingest, record, rejected, Described};
use super::standard::{headers as standard_headers, unsigned};
use crate::error::ApiError;
use crate::peek;
use crate::senders::OpenPhoneCreds;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use inlet_domain::signature::{openphone, standard};
use inlet_domain::Provider;
use std::time::Instant;

/// The two signing schemes OpenPhone uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `openphone-signature: hmac;1;<ms>;<base64>`.
    Legacy,
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature` (or `svix-*`).
    Standard,
}

impl Scheme {
    /// The `format` label counted for it.
    pub fn label(self) -> &'static str {
        match self {
            Scheme::Legacy => "legacy",
            Scheme::Standard => "standard",
        }
    }
}

/// Picks the scheme from the headers present (`has` says whether one is).
/// The legacy header wins; a request with neither is checked as legacy, so it
/// fails as an unsigned request.
pub fn detect(has: impl Fn(&str) -> bool) -> Scheme {
    if has(openphone::HEADER) {
        Scheme::Legacy
    } else if [
        standard::SIGNATURE_HEADER,
        "svix-signature",
        standard::ID_HEADER,
        "svix-id",
    ]
    .iter()
    .any(|h| has(h))
    {
        Scheme::Standard
    } else {
        Scheme::Legacy
    }
}

/// `POST /webhooks/openphone`: any configured OpenPhone key; line from the body.
pub async fn unified(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    receive(req, payload, state, None).await
}

/// `POST /webhooks/openphone/{line}`: the line's own keys (or the provider-wide ones).
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
    let registry = &state.senders.openphone;
    let creds = registry.route(line.as_deref());
    let result = match creds {
        None => Err(ApiError::NotFound),
        Some(creds) => {
            let scheme = detect(|h| req.headers().contains_key(h));
            let (hdrs, _) = standard_headers(&req);
            let tolerance = state.senders.tolerance;
            let check = |creds: &OpenPhoneCreds, body: &[u8], now| match scheme {
                Scheme::Legacy => openphone::verify(
                    header_str(&req, openphone::HEADER),
                    body,
                    &creds.keys,
                    now,
                    tolerance,
                )
                .map_err(rejected),
                Scheme::Standard => {
                    unsigned(&hdrs)?;
                    standard::verify(&hdrs, body, &creds.secrets, now, tolerance).map_err(rejected)
                }
            };
            let verify = |body: &[u8], now| check(creds, body, now).map(|()| scheme.label());
            let describe = |body: &[u8], now| {
                let peeked = peek::openphone(body, hdrs.id)?;
                let line_signature =
                    registry.check_named_lines(line.as_deref(), &peeked.lines, |own| {
                        check(own, body, now)
                    });
                let line = line.clone().or(peeked.line);
                Ok(Described {
                    dedup_key: peeked.dedup_key,
                    line_unknown: line.as_deref().is_some_and(|l| registry.is_unknown(l)),
                    line,
                    source: None,
                    line_signature,
                })
            };
            ingest(&req, payload, &state, Provider::OpenPhone, verify, describe).await
        }
    };
    record(&state, Provider::OpenPhone, started, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(headers: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |h| headers.contains(&h)
    }

    #[test]
    fn the_scheme_follows_the_headers_present() {
        assert_eq!(detect(with(&["openphone-signature"])), Scheme::Legacy);
        assert_eq!(
            detect(with(&[
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ])),
            Scheme::Standard
        );
        assert_eq!(detect(with(&["svix-signature"])), Scheme::Standard);
        assert_eq!(
            detect(with(&["openphone-signature", "webhook-signature"])),
            Scheme::Legacy
        );
        assert_eq!(detect(with(&[])), Scheme::Legacy);
    }
}
