//! Request and response bodies of the management API.

use chrono::{DateTime, Utc};
use inlet_domain::repository::forwarding::{Attempt, Delivery, Endpoint};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/endpoints`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where to send events.
    pub url: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Line ids or phone numbers; empty or absent means all.
    #[serde(default)]
    pub lines: Vec<String>,
    /// Event types (`message.received`, `message.*`); empty or absent means all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Attempts per delivery (default 8).
    pub max_attempts: Option<i32>,
    /// Whether it starts enabled (default true).
    pub enabled: Option<bool>,
}

/// `PATCH /v1/endpoints/{id}`: absent fields are left as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New line filter.
    pub lines: Option<Vec<String>>,
    /// New event type filter.
    pub event_types: Option<Vec<String>>,
    /// New attempt limit.
    pub max_attempts: Option<i32>,
    /// `true` re-enables an endpoint Inlet disabled.
    pub enabled: Option<bool>,
}

/// An endpoint as a client sees it (its secret only where [`WithSecret`] adds it).
#[derive(Debug, Serialize)]
pub struct EndpointView {
    /// Its id.
    pub id: Uuid,
    /// Target URL.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Line filter.
    pub lines: Vec<String>,
    /// Event type filter.
    pub event_types: Vec<String>,
    /// Attempts per delivery.
    pub max_attempts: i32,
    /// Whether events are delivered.
    pub enabled: bool,
    /// Why Inlet disabled it.
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// While a rotated-out secret still signs: until when.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        EndpointView {
            id: e.id,
            url: e.url.clone(),
            description: e.description.clone(),
            lines: e.lines.clone(),
            event_types: e.event_types.clone(),
            max_attempts: e.max_attempts,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            disabled_at: e.disabled_at,
            previous_secret_expires_at: e.previous_secret_until.filter(|t| *t > Utc::now()),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: the answer to create and rotate.
#[derive(Debug, Serialize)]
pub struct WithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The `whsec_` secret deliveries are signed with.
    pub secret: String,
}

/// `GET /v1/endpoints`.
#[derive(Debug, Serialize)]
pub struct EndpointList {
    /// The client's endpoints, oldest first.
    pub data: Vec<EndpointView>,
}

/// `GET /v1/endpoints/{id}/deliveries` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    pub status: Option<String>,
    /// Page size (1 to 100, default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// `GET /v1/deliveries/{id}`.
#[derive(Debug, Serialize)]
pub struct DeliveryDetail {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Its attempts, first first.
    pub attempts: Vec<Attempt>,
}
