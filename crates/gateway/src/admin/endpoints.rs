//! `/v1/endpoints`: create, list, read, change, delete, rotate, test.

use super::auth::ClientId;
use super::error::AdminError;
use super::views::{CreateEndpoint, EndpointList, EndpointView, PatchEndpoint, WithSecret};
use super::AdminState;
use actix_web::{web, HttpResponse};
use inlet_domain::forward::body::{is_type_filter, normalise_line, test_body, TEST_EVENT_TYPE};
use inlet_domain::forward::target;
use inlet_domain::repository::forwarding::{
    delete_endpoint, get_delivery, get_endpoint, insert_endpoint, insert_test_delivery,
    list_endpoints, rotate_secret, update_endpoint, EndpointPatch, NewEndpoint,
};
use inlet_domain::signature::standard::generate_secret;
use uuid::Uuid;

/// Attempts per delivery when the client does not say.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;
const MAX_FILTER_ITEMS: usize = 100;
const MAX_DESCRIPTION: usize = 1_000;

/// `POST /v1/endpoints`.
#[tracing::instrument(skip_all, fields(client_id = %client.0))]
pub async fn create(
    state: web::Data<AdminState>,
    client: ClientId,
    body: web::Json<CreateEndpoint>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let url = target::check(&body.url, state.policy).await?;
    let new = NewEndpoint {
        url: url.to_string(),
        description: description(body.description)?,
        lines: lines(body.lines)?,
        event_types: event_types(body.event_types)?,
        max_attempts: max_attempts(body.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS))?,
        enabled: body.enabled.unwrap_or(true),
        secret: generate_secret(),
    };
    let db = state.repo.client().await?;
    // None: the client was revoked since its token was checked.
    let endpoint = insert_endpoint(&db, client.0, &new)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    Ok(HttpResponse::Created().json(WithSecret {
        endpoint: EndpointView::from(&endpoint),
        secret: endpoint.secret,
    }))
}

/// `GET /v1/endpoints`.
pub async fn list(
    state: web::Data<AdminState>,
    client: ClientId,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    let endpoints = list_endpoints(&db, client.0).await?;
    Ok(HttpResponse::Ok().json(EndpointList {
        data: endpoints.iter().map(EndpointView::from).collect(),
    }))
}

/// `GET /v1/endpoints/{id}`.
pub async fn get(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    let endpoint = get_endpoint(&db, client.0, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

/// `PATCH /v1/endpoints/{id}`.
#[tracing::instrument(skip_all, fields(client_id = %client.0, endpoint_id = %id))]
pub async fn patch(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
    body: web::Json<PatchEndpoint>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let url = match body.url {
        Some(url) => Some(target::check(&url, state.policy).await?.to_string()),
        None => None,
    };
    let patch = EndpointPatch {
        url,
        description: body.description.map(description).transpose()?,
        lines: body.lines.map(lines).transpose()?,
        event_types: body.event_types.map(event_types).transpose()?,
        max_attempts: body.max_attempts.map(max_attempts).transpose()?,
        enabled: body.enabled,
    };
    let db = state.repo.client().await?;
    let endpoint = update_endpoint(&db, client.0, *id, &patch)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

/// `DELETE /v1/endpoints/{id}`: the endpoint and its delivery log.
pub async fn delete(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    if delete_endpoint(&db, client.0, *id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AdminError::NotFound)
    }
}

/// `POST /v1/endpoints/{id}/rotate-secret`: a new secret; the old one keeps
/// signing (second signature) for the grace period.
#[tracing::instrument(skip_all, fields(client_id = %client.0, endpoint_id = %id))]
pub async fn rotate(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let grace_until = chrono::Utc::now() + state.secret_grace;
    let db = state.repo.client().await?;
    let endpoint = rotate_secret(&db, client.0, *id, &generate_secret(), grace_until)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Ok().json(WithSecret {
        endpoint: EndpointView::from(&endpoint),
        secret: endpoint.secret,
    }))
}

/// `POST /v1/endpoints/{id}/test`: queues a test event for this endpoint only.
pub async fn test(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    let endpoint = get_endpoint(&db, client.0, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let event_id = format!("evt_test_{}", Uuid::now_v7().simple());
    let payload = test_body(&event_id, chrono::Utc::now());
    let delivery_id =
        insert_test_delivery(&db, endpoint.id, &event_id, TEST_EVENT_TYPE, &payload).await?;
    let delivery = get_delivery(&db, client.0, delivery_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Accepted().json(delivery))
}

fn description(text: String) -> Result<String, AdminError> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(AdminError::InvalidField {
            field: "description",
            reason: "at most 1000 characters",
        });
    }
    no_nul("description", &text)?;
    Ok(text)
}

/// PostgreSQL `text` cannot hold U+0000: refused here (422), not at the insert (500).
fn no_nul(field: &'static str, text: &str) -> Result<(), AdminError> {
    if text.contains('\0') {
        return Err(AdminError::InvalidField {
            field,
            reason: "must not contain U+0000",
        });
    }
    Ok(())
}

fn lines(values: Vec<String>) -> Result<Vec<String>, AdminError> {
    filter("lines", values).map(|v| v.iter().map(|l| normalise_line(l)).collect())
}

/// Each value trimmed, and one that some event could match: an unknown type
/// (`Message.Received`, `message`) would silently select nothing.
fn event_types(values: Vec<String>) -> Result<Vec<String>, AdminError> {
    let values: Vec<String> = filter("event_types", values)?
        .into_iter()
        .map(|t| t.trim().to_owned())
        .collect();
    if !values.iter().all(|t| is_type_filter(t)) {
        return Err(AdminError::InvalidField {
            field: "event_types",
            reason: "each must be an event type (message.received, message.status, …), a family (message.*) or *",
        });
    }
    Ok(values)
}

fn filter(field: &'static str, values: Vec<String>) -> Result<Vec<String>, AdminError> {
    if values.len() > MAX_FILTER_ITEMS {
        return Err(AdminError::InvalidField {
            field,
            reason: "at most 100 values",
        });
    }
    if values.iter().any(|v| v.trim().is_empty()) {
        return Err(AdminError::InvalidField {
            field,
            reason: "values must not be empty",
        });
    }
    for value in &values {
        no_nul(field, value)?;
    }
    Ok(values)
}

fn max_attempts(n: i32) -> Result<i32, AdminError> {
    if (1..=50).contains(&n) {
        Ok(n)
    } else {
        Err(AdminError::InvalidField {
            field: "max_attempts",
            reason: "must be between 1 and 50",
        })
    }
}
