//! Endpoints: where a client wants events sent, and which ones.

use crate::repository::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str = "id, client_id, url, description, lines, event_types, max_attempts, \
     enabled, disabled_reason, disabled_at, secret, previous_secret, previous_secret_until, \
     created_at, updated_at";

/// An endpoint as stored (including its secrets: callers decide what to show).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// The owning client.
    pub client_id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Free text for the client.
    pub description: String,
    /// Line ids or phone numbers (without `+`); empty means all.
    pub lines: Vec<String>,
    /// Event types (`message.received`, `message.*`, `*`); empty means all.
    pub event_types: Vec<String>,
    /// Attempts per delivery before it fails.
    pub max_attempts: i32,
    /// Whether new events are delivered.
    pub enabled: bool,
    /// Why Inlet disabled it, if it did.
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// The current `whsec_` signing secret.
    pub secret: String,
    /// The rotated-out secret, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    /// End of the rotation grace period.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    fn from_row(r: &Row) -> Self {
        Endpoint {
            id: r.get(0),
            client_id: r.get(1),
            url: r.get(2),
            description: r.get(3),
            lines: r.get(4),
            event_types: r.get(5),
            max_attempts: r.get(6),
            enabled: r.get(7),
            disabled_reason: r.get(8),
            disabled_at: r.get(9),
            secret: r.get(10),
            previous_secret: r.get(11),
            previous_secret_until: r.get(12),
            created_at: r.get(13),
            updated_at: r.get(14),
        }
    }
}

/// What creating an endpoint needs (already validated).
#[derive(Clone, Debug)]
pub struct NewEndpoint {
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
    /// Whether it starts enabled.
    pub enabled: bool,
    /// The generated signing secret.
    pub secret: String,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    /// New URL (already validated).
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New line filter.
    pub lines: Option<Vec<String>>,
    /// New event type filter.
    pub event_types: Option<Vec<String>>,
    /// New attempt limit.
    pub max_attempts: Option<i32>,
    /// Enable (clearing any disabled reason and failure streak) or disable.
    pub enabled: Option<bool>,
}

/// The client is not revoked, and stays so until this statement's
/// transaction ends: the share lock waits for a revocation being committed
/// (then finds it), or makes the revocation wait, so that its "disable the
/// client's endpoints" sees this statement's endpoint. Without it, a request
/// authenticated before the revocation and slow in between (the URL's DNS
/// lookup) could leave an enabled endpoint nothing disables.
const CLIENT_NOT_REVOKED: &str =
    "EXISTS (SELECT 1 FROM forward_clients c WHERE c.id = $CLIENT AND c.revoked_at IS NULL FOR SHARE)";

/// Stores a new endpoint of `client_id`; `None` if the client has been revoked.
pub async fn insert_endpoint<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    new: &NewEndpoint,
) -> Result<Option<Endpoint>, RepoError> {
    let live = CLIENT_NOT_REVOKED.replace("$CLIENT", "$2");
    let sql = format!(
        "INSERT INTO forward_endpoints (id, client_id, url, description, lines, event_types,
                                        max_attempts, enabled, secret)
         SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::text[], $6::text[], $7::int4,
                $8::bool, $9::text
          WHERE {live}
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &Uuid::now_v7(),
                &client_id,
                &new.url,
                &new.description,
                &new.lines,
                &new.event_types,
                &new.max_attempts,
                &new.enabled,
                &new.secret,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

/// The client's endpoints, oldest first.
pub async fn list_endpoints<C: GenericClient>(
    client: &C,
    client_id: Uuid,
) -> Result<Vec<Endpoint>, RepoError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM forward_endpoints WHERE client_id = $1 ORDER BY created_at, id"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&client_id]).await?;
    Ok(rows.iter().map(Endpoint::from_row).collect())
}

/// One of the client's endpoints.
pub async fn get_endpoint<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Endpoint>, RepoError> {
    let sql = format!("SELECT {COLUMNS} FROM forward_endpoints WHERE client_id = $1 AND id = $2");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&client_id, &id]).await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

/// Applies `patch` to one of the client's endpoints. Re-enabling clears the
/// reason Inlet disabled it and its failure streak. `None` if there is no
/// such endpoint, or if the patch enables it and the client has been revoked.
pub async fn update_endpoint<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
    patch: &EndpointPatch,
) -> Result<Option<Endpoint>, RepoError> {
    let live = CLIENT_NOT_REVOKED.replace("$CLIENT", "$1");
    let sql = format!(
        "UPDATE forward_endpoints SET
            url = COALESCE($3, url),
            description = COALESCE($4, description),
            lines = COALESCE($5, lines),
            event_types = COALESCE($6, event_types),
            max_attempts = COALESCE($7, max_attempts),
            enabled = COALESCE($8, enabled),
            disabled_reason = CASE WHEN $8 IS NULL THEN disabled_reason END,
            disabled_at = CASE WHEN $8 IS NULL THEN disabled_at
                               WHEN NOT $8 THEN COALESCE(disabled_at, now()) END,
            failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END,
            last_failed_at = CASE WHEN $8 THEN NULL ELSE last_failed_at END,
            updated_at = now()
         WHERE client_id = $1 AND id = $2 AND ($8 IS NOT TRUE OR {live})
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &client_id,
                &id,
                &patch.url,
                &patch.description,
                &patch.lines,
                &patch.event_types,
                &patch.max_attempts,
                &patch.enabled,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

/// Deletes one of the client's endpoints and its delivery log; whether it existed.
pub async fn delete_endpoint<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
) -> Result<bool, RepoError> {
    let stmt = client
        .prepare_cached("DELETE FROM forward_endpoints WHERE client_id = $1 AND id = $2")
        .await?;
    Ok(client.execute(&stmt, &[&client_id, &id]).await? == 1)
}

/// Secrets kept signing besides the current one and the previous one: a
/// bound on the signature header a client rotating again and again can grow.
const MAX_OLDER_SECRETS: i64 = 4;

/// Makes `new_secret` the signing secret; the old one keeps signing until
/// `grace_until`, and one rotated out before it until its own grace ends
/// (`older_secrets`, up to [`MAX_OLDER_SECRETS`], the newest kept).
pub async fn rotate_secret<C: GenericClient>(
    client: &C,
    client_id: Uuid,
    id: Uuid,
    new_secret: &str,
    grace_until: DateTime<Utc>,
) -> Result<Option<Endpoint>, RepoError> {
    // In SET, the columns are the row's values before the update.
    let sql = format!(
        "UPDATE forward_endpoints SET
            older_secrets = (
                SELECT COALESCE(jsonb_agg(k ORDER BY (k->>'until')::timestamptz DESC), '[]'::jsonb)
                  FROM (SELECT k FROM jsonb_array_elements(
                            older_secrets || CASE
                                WHEN previous_secret IS NOT NULL AND previous_secret_until > now()
                                THEN jsonb_build_array(jsonb_build_object(
                                         'secret', previous_secret, 'until', previous_secret_until))
                                ELSE '[]'::jsonb END) k
                         WHERE (k->>'until')::timestamptz > now()
                         ORDER BY (k->>'until')::timestamptz DESC
                         LIMIT {MAX_OLDER_SECRETS}) kept),
            previous_secret = secret, previous_secret_until = $4,
            secret = $3, updated_at = now()
         WHERE client_id = $1 AND id = $2
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(&stmt, &[&client_id, &id, &new_secret, &grace_until])
        .await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}
