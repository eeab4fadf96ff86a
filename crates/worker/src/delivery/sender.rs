//! Sends one delivery: signs it with the endpoint's secret(s), POSTs it, and
//! classifies the answer.

use chrono::{DateTime, Utc};
use inlet_domain::forward::target::{self, is_forbidden, TargetPolicy};
use inlet_domain::repository::forwarding::Claimed;
use inlet_domain::signature::standard::{self, StandardSecret};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most of an answer's body kept in the attempt log.
pub const MAX_LOGGED_BODY: usize = 1024;

/// What an answer means for the delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 2xx.
    Success,
    /// 408, 429, 5xx, a timeout or a connection failure: worth retrying.
    Retryable,
    /// Any other answer, or a URL that may not be called: final.
    Final,
}

/// What one attempt found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How to treat it.
    pub class: Class,
    /// The answer's status code, if one came.
    pub status: Option<u16>,
    /// Up to [`MAX_LOGGED_BODY`] bytes of the answer.
    pub body: Option<String>,
    /// What went wrong, for the log and the API.
    pub error: Option<String>,
    /// The endpoint's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
    /// How long the attempt took.
    pub duration: Duration,
}

/// The HTTP side of delivering: one client, shared by every send.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    policy: TargetPolicy,
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the delivery HTTP client")]
pub struct BuildError(#[from] reqwest::Error);

impl Sender {
    /// A client with the timeout, no redirects (a redirect could lead to an
    /// internal address), no proxy and, unless private targets are allowed, a
    /// resolver that refuses internal addresses at connect time (DNS rebinding).
    pub fn new(timeout: Duration, policy: TargetPolicy) -> Result<Self, BuildError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy from HTTP(S)_PROXY or ALL_PROXY, the proxy would
            // resolve the endpoint's host itself and reach internal addresses
            // the resolver below refuses.
            .no_proxy()
            .user_agent(concat!("Inlet-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Sender {
            http: builder.build()?,
            policy,
        })
    }

    /// Sends `delivery` now.
    #[tracing::instrument(skip_all, fields(delivery_id = %delivery.id, endpoint_id = %delivery.endpoint_id))]
    pub async fn send(&self, delivery: &Claimed, now: DateTime<Utc>) -> Outcome {
        let started = Instant::now();
        let mut outcome = self.attempt(delivery, now).await;
        outcome.duration = started.elapsed();
        outcome
    }

    async fn attempt(&self, delivery: &Claimed, now: DateTime<Utc>) -> Outcome {
        // The URL was checked when it was saved; checked again as the rules
        // (or the configuration) may have changed since.
        let url = match target::parse(&delivery.url, self.policy) {
            Ok(url) => url,
            Err(error) => return failure(Class::Final, format!("endpoint url refused: {error}")),
        };
        let body = match serde_json::to_vec(&delivery.payload) {
            Ok(body) => body,
            Err(error) => return failure(Class::Final, format!("cannot encode the body: {error}")),
        };
        let signature = match signatures(delivery, now.timestamp(), &body) {
            Ok(signature) => signature,
            Err(error) => return failure(Class::Final, error),
        };
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(standard::ID_HEADER, &delivery.event_id)
            .header(standard::TIMESTAMP_HEADER, now.timestamp().to_string())
            .header(standard::SIGNATURE_HEADER, signature)
            .body(body);
        match request.send().await {
            Ok(response) => read_answer(response, now).await,
            // The endpoint now resolves inside: trying again would ask the
            // same resolver, and the URL was only accepted for its outside
            // address, so the delivery fails for good.
            Err(error) if refused_as_private(&error) => failure(Class::Final, describe(&error)),
            Err(error) => failure(Class::Retryable, describe(&error)),
        }
    }
}

/// `v1,<sig>` with the current secret, followed by one with each rotated-out
/// secret whose grace period lasts (the previous one, then older ones).
fn signatures(delivery: &Claimed, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(2 + delivery.older_secrets.len());
    let secrets = std::iter::once(&delivery.secret)
        .chain(delivery.previous_secret.as_ref())
        .chain(&delivery.older_secrets);
    for secret in secrets {
        let key = StandardSecret::parse(secret).map_err(|_| "endpoint secret is invalid")?;
        out.push(standard::sign(&key, &delivery.event_id, timestamp, body));
    }
    Ok(out.join(" "))
}

async fn read_answer(mut response: reqwest::Response, now: DateTime<Utc>) -> Outcome {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| super::backoff::parse_retry_after(v, now));
    let mut kept = Vec::new();
    // Read only what is logged: a huge answer must not cost memory or time.
    while kept.len() < MAX_LOGGED_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(MAX_LOGGED_BODY);
    let body = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
    let code = status.as_u16();
    let class = if status.is_success() {
        Class::Success
    } else if code == 408 || code == 429 || status.is_server_error() {
        Class::Retryable
    } else {
        Class::Final
    };
    let error = (class != Class::Success).then(|| format!("HTTP {status}"));
    Outcome {
        class,
        status: Some(code),
        body,
        error,
        retry_after,
        duration: Duration::ZERO,
    }
}

fn failure(class: Class, error: String) -> Outcome {
    Outcome {
        class,
        status: None,
        body: None,
        error: Some(error),
        retry_after: None,
        duration: Duration::ZERO,
    }
}

/// A short, secret-free description of a transport error.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // The source chain says why (refused, reset, private address), without the URL.
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

/// Whether the resolver below refused the endpoint's host.
fn refused_as_private(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if s.is::<PrivateAddress>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Resolves like the system does, but refuses names with an internal address.
struct PublicOnly;

/// A name resolved to an internal address.
#[derive(Debug, thiserror::Error)]
#[error("host resolves to a private, loopback or link-local address")]
struct PrivateAddress;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            // Port 0: the connector sets the URL's port on each address.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| is_forbidden(a.ip())) {
                return Err(Box::new(PrivateAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
