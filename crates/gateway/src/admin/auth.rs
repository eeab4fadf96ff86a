//! Client tokens: generated at random, shown once, stored as a SHA-256 hash,
//! checked in constant time; the middleware that authenticates a request and
//! the extractor that hands its client to a handler.

use super::error::AdminError;
use super::AdminState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use inlet_domain::repository::forwarding::client_by_token_hash;
use ring::rand::{SecureRandom, SystemRandom};
use std::future::{ready, Ready};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What every token starts with (so that secret scanners can spot a leaked one).
pub const TOKEN_PREFIX: &str = "inlet_";

/// Random bytes in a token: 256 bits, far beyond guessing, which is also why
/// a fast hash is enough to store it.
const TOKEN_BYTES: usize = 32;

/// The random source failed (the operating system could not give entropy).
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct RandomUnavailable;

/// A new token: `inlet_` and 32 random bytes, base64url.
pub fn generate_token() -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomUnavailable)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// The authenticated client of a request, put there by [`authenticate`].
#[derive(Clone, Copy, Debug)]
pub struct ClientId(pub Uuid);

/// Middleware: answers 401 unless the bearer token is a client's, before
/// any handler reads the path, query or body (so a caller without a valid
/// token learns nothing from how a malformed request is answered), and hands
/// the client's id to the handler.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match client_of(req.request()).await {
        Ok(id) => {
            req.extensions_mut().insert(id);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(error) => Ok(req.error_response(error).map_into_right_body()),
    }
}

async fn client_of(req: &HttpRequest) -> Result<ClientId, AdminError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or(AdminError::Unauthorized)?;
    let state = req
        .app_data::<web::Data<AdminState>>()
        .ok_or(AdminError::Unauthorized)?;
    let hash = hash_token(token);
    let client = state.repo.client().await?;
    let Some((id, stored)) = client_by_token_hash(&client, &hash).await? else {
        return Err(AdminError::Unauthorized);
    };
    // The lookup already matched; comparing again in constant time keeps the
    // decision itself free of timing differences.
    if bool::from(stored.ct_eq(&hash)) {
        Ok(ClientId(id))
    } else {
        Err(AdminError::Unauthorized)
    }
}

impl FromRequest for ClientId {
    type Error = AdminError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Absent only on a route registered outside the authenticated scope.
        ready(
            req.extensions()
                .get::<ClientId>()
                .copied()
                .ok_or(AdminError::Unauthorized),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_to_32_bytes() {
        let a = generate_token().expect("token");
        let b = generate_token().expect("token");
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_token(&a).len(), 32);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
