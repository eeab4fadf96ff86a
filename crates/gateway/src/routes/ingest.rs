//! The steps every webhook goes through, whoever sent it: throttle, content
//! type, a bounded body read, the sender's signature check (before any
//! parsing), JSON, then the intake (dedup claim, publish with confirm), and
//! the answer.
//! Provider modules give the signature check and what the body tells.

use crate::body_budget::BodyHold;
use crate::error::ApiError;
use crate::intake::Verdict;
use crate::peek::NotJson;
use crate::startup::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use inlet_domain::envelope::EventMeta;
use inlet_domain::signature::{standard, VerifyError};
use inlet_domain::Provider;
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};

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

/// How a body is read: its size limit, its deadline, and its hold on the
/// memory set aside for bodies.
pub struct BodyLimits {
    /// Largest body accepted.
    pub limit: usize,
    /// How long the body may take to arrive.
    pub deadline: Duration,
    /// What the body holds of the budget ([`crate::body_budget`]).
    pub hold: BodyHold,
    /// `Retry-After` when the budget is spent.
    pub retry_after: u64,
}

/// Reads the body, never more than `limit` bytes and never for longer than
/// `deadline`: a declared length over the limit is refused before reading, a
/// stream that grows past it is cut off, and one that stalls is answered 408
/// (a sender trickling bytes would otherwise hold its connection forever).
/// Every byte read is taken from the body budget, held until the returned
/// hold is dropped (when the request is answered); a body that would pass it
/// is answered 503 `busy`.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: BodyLimits,
) -> Result<(web::Bytes, BodyHold), ApiError> {
    let limit = limits.limit;
    let mut hold = limits.hold;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge);
    }
    // A declared length is a hint, not yet a fact: reserve no more than a
    // typical webhook up front, so an idle sender's claim costs little.
    let reserve = declared.unwrap_or(8 * 1024).min(limit).min(INITIAL_RESERVE);
    let mut body = web::BytesMut::with_capacity(reserve);
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ApiError::Malformed)?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge);
            }
            hold.take(chunk.len()).map_err(|_| ApiError::Busy {
                retry_after: limits.retry_after,
            })?;
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout(limits.deadline, read)
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    Ok((body.freeze(), hold))
}

/// The most body buffer reserved before any of the body has arrived.
const INITIAL_RESERVE: usize = 64 * 1024;

/// What a sender's route learnt from a verified body.
pub struct Described {
    /// The line, from the URL or the body.
    pub line: Option<String>,
    /// The line named is not configured.
    pub line_unknown: bool,
    /// The Standard Webhooks source.
    pub source: Option<String>,
    /// The dedup key.
    pub dedup_key: String,
    /// The check of the signature against the credentials of every other
    /// configured line the body names (`Ok` when there was nothing to check).
    pub line_signature: Result<(), ApiError>,
}

/// How an accepted request ended.
pub enum Outcome {
    /// Published and confirmed, with its correlation id.
    Accepted(String),
    /// Already published before: not published again.
    Duplicate,
}

/// A sender's signature check over the raw body at `now`; on success, the
/// signature format to count.
pub trait Verify: FnOnce(&[u8], DateTime<Utc>) -> Result<&'static str, ApiError> {}
impl<F: FnOnce(&[u8], DateTime<Utc>) -> Result<&'static str, ApiError>> Verify for F {}

/// What a sender reads from its verified body (received at `now`), which it
/// checks is JSON.
pub trait Describe: FnOnce(&[u8], DateTime<Utc>) -> Result<Described, NotJson> {}
impl<F: FnOnce(&[u8], DateTime<Utc>) -> Result<Described, NotJson>> Describe for F {}

/// Runs a webhook through every step, for `provider`.
pub async fn ingest(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    provider: Provider,
    verify: impl Verify,
    describe: impl Describe,
) -> Result<Outcome, ApiError> {
    let client = client_ip(req, state.settings.trust_forwarded_for);
    refuse_if_throttled(state, client)?;
    require_json(req)?;
    let limits = BodyLimits {
        limit: state.settings.body_limit_bytes,
        deadline: Duration::from_millis(state.settings.body_timeout_ms),
        hold: state.bodies.hold(client),
        retry_after: state.settings.retry_after_secs,
    };
    // The hold is given back with this function's answer.
    let (body, _held) = read_body(req, payload, limits).await?;
    let now = Utc::now();
    let verified = verify(&body, now).map(|format| {
        state
            .metrics
            .signature_format
            .with_label_values(&[provider.as_str(), format])
            .inc();
    });
    refuse_unless_signed(state, provider, client, verified)?;
    let Described {
        line,
        line_unknown,
        source,
        dedup_key,
        line_signature,
    } = describe(&body, now).map_err(|_| ApiError::Malformed)?;
    refuse_unless_signed(state, provider, client, line_signature)?;
    let meta = EventMeta {
        provider,
        line,
        line_unknown,
        source,
        received_at: now,
        dedup_key,
        correlation_id: correlation_id(),
        attempt: 1,
    };
    publish_once(state, meta, body).await
}

/// Passes a signature check that succeeded, or any in insecure mode; counts
/// a failure against the client address and returns it.
fn refuse_unless_signed(
    state: &AppState,
    provider: Provider,
    client: Option<IpAddr>,
    checked: Result<(), ApiError>,
) -> Result<(), ApiError> {
    match checked {
        Ok(()) => Ok(()),
        Err(error) if state.settings.insecure_skip_signatures => {
            tracing::debug!(provider = %provider, error = %error, "Signature check skipped (insecure mode).");
            Ok(())
        }
        Err(error) => {
            count_failure(state, client, &error);
            Err(error)
        }
    }
}

/// Hands the event to the intake (claim, publish with confirm, mark done,
/// together with whatever else is waiting) and turns its verdict into the
/// answer: a failed publish is a 503, a copy being published a 409.
async fn publish_once(
    state: &AppState,
    meta: EventMeta,
    body: web::Bytes,
) -> Result<Outcome, ApiError> {
    let id = meta.correlation_id.clone();
    let retry_after = state.settings.retry_after_secs;
    match state.intake.submit(meta, body).await {
        Verdict::Accepted => Ok(Outcome::Accepted(id)),
        Verdict::Duplicate => Ok(Outcome::Duplicate),
        Verdict::InFlight => Err(ApiError::InFlight { retry_after }),
        Verdict::Unavailable => Err(ApiError::Unavailable { retry_after }),
    }
}

/// The client address the throttle keys on: the peer, or behind a trusted
/// proxy the last `X-Forwarded-For` entry. The last one is the address the
/// nearest proxy saw; earlier entries are whatever the client chose to send.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = trust_forwarded_for
        .then(|| header_str(req, "x-forwarded-for"))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    forwarded.or_else(|| req.peer_addr().map(|a| a.ip()))
}

/// 429 for a client address over its failure budget.
pub fn refuse_if_throttled(state: &AppState, client: Option<IpAddr>) -> Result<(), ApiError> {
    match client.map(|ip| state.throttle.check(ip)) {
        Some(Err(retry_after)) => Err(ApiError::Throttled { retry_after }),
        _ => Ok(()),
    }
}

/// Counts a failed signature or handshake against the client address.
pub fn count_failure(state: &AppState, client: Option<IpAddr>, error: &ApiError) {
    if let (true, Some(ip)) = (error.is_authentication_failure(), client) {
        state.throttle.record_failure(ip);
    }
}

/// Maps a signature verdict to the answer: a timestamp or id header that is
/// absent or unreadable is a bad request; anything else about the signature
/// is a 401, `Stale` counted apart.
pub fn rejected(error: VerifyError) -> ApiError {
    match error {
        VerifyError::Stale => ApiError::Stale,
        VerifyError::MissingHeader(h) | VerifyError::Malformed(h)
            if h == standard::ID_HEADER || h == standard::TIMESTAMP_HEADER =>
        {
            ApiError::MissingHeader(h)
        }
        _ => ApiError::InvalidSignature,
    }
}

/// A header's value as text, `None` when absent or not text.
pub fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Counts and times a finished request and turns it into the answer.
pub fn record(
    state: &AppState,
    provider: Provider,
    started: Instant,
    result: Result<Outcome, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let outcome = match &result {
        Ok(Outcome::Accepted(_)) => "accepted",
        Ok(Outcome::Duplicate) => "duplicate",
        Err(e) => e.outcome(),
    };
    state.metrics.count(provider.as_str(), outcome);
    state
        .metrics
        .request_duration
        .with_label_values(&[provider.as_str()])
        .observe(started.elapsed().as_secs_f64());
    result.map(|outcome| match outcome {
        Outcome::Accepted(id) => HttpResponse::Ok().json(json!({"status": "accepted", "id": id})),
        Outcome::Duplicate => HttpResponse::Ok().json(json!({"status": "duplicate"})),
    })
}

/// A fresh correlation id: time-ordered, so logs sort by arrival.
pub fn correlation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_trouble_is_a_bad_request_and_signature_trouble_a_401() {
        assert!(matches!(
            rejected(VerifyError::MissingHeader(standard::ID_HEADER)),
            ApiError::MissingHeader(_)
        ));
        assert!(matches!(
            rejected(VerifyError::Malformed(standard::TIMESTAMP_HEADER)),
            ApiError::MissingHeader(_)
        ));
        assert!(matches!(
            rejected(VerifyError::MissingHeader(standard::SIGNATURE_HEADER)),
            ApiError::InvalidSignature
        ));
        assert!(matches!(
            rejected(VerifyError::Malformed("openphone-signature")),
            ApiError::InvalidSignature
        ));
        assert!(matches!(
            rejected(VerifyError::Mismatch),
            ApiError::InvalidSignature
        ));
        assert!(matches!(rejected(VerifyError::Stale), ApiError::Stale));
    }
}
