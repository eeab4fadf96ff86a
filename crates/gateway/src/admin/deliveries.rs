//! Deliveries: an endpoint's log, one delivery with its attempts, manual retry.

use super::auth::ClientId;
use super::error::AdminError;
use super::views::{DeliveryDetail, DeliveryQuery};
use super::AdminState;
use actix_web::{web, HttpResponse};
use inlet_domain::repository::forwarding::{
    get_delivery, get_endpoint, list_attempts, list_deliveries, retry_delivery, RetryOutcome,
};
use uuid::Uuid;

const STATUSES: [&str; 5] = ["pending", "sending", "retrying", "delivered", "failed"];
const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

/// `GET /v1/endpoints/{id}/deliveries?status=&limit=&cursor=`, newest first.
pub async fn list(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    if let Some(status) = &query.status {
        if !STATUSES.contains(&status.as_str()) {
            return Err(AdminError::InvalidRequest(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AdminError::InvalidRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    let db = state.repo.client().await?;
    // Another client's endpoint is a 404, not an empty page.
    get_endpoint(&db, client.0, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let page = list_deliveries(
        &db,
        client.0,
        *id,
        query.status.as_deref(),
        query.cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /v1/deliveries/{id}`, with its attempts.
pub async fn get(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    let delivery = get_delivery(&db, client.0, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let attempts = list_attempts(&db, delivery.id).await?;
    Ok(HttpResponse::Ok().json(DeliveryDetail { delivery, attempts }))
}

/// `POST /v1/deliveries/{id}/retry`: one more attempt, now, for a delivered
/// or failed delivery.
pub async fn retry(
    state: web::Data<AdminState>,
    client: ClientId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let db = state.repo.client().await?;
    match retry_delivery(&db, client.0, *id).await? {
        RetryOutcome::Scheduled(delivery) => Ok(HttpResponse::Accepted().json(delivery)),
        RetryOutcome::InProgress => Err(AdminError::DeliveryInProgress),
        RetryOutcome::NotFound => Err(AdminError::NotFound),
    }
}
