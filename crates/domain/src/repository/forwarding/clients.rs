//! Clients: who may use the management API.

use crate::repository::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use serde::Serialize;
use uuid::Uuid;

const INSERT_CLIENT: &str = "
INSERT INTO forward_clients (id, name, token_hash) VALUES ($1, $2, $3)
RETURNING id, name, created_at";

const CLIENT_BY_TOKEN_HASH: &str = "
SELECT id, token_hash FROM forward_clients WHERE token_hash = $1 AND revoked_at IS NULL";

const LIST_CLIENTS: &str = "
SELECT c.id, c.name, c.created_at, c.revoked_at,
       (SELECT count(*) FROM forward_endpoints e WHERE e.client_id = c.id)
  FROM forward_clients c
 ORDER BY c.created_at, c.id";

const ROTATE_TOKEN: &str = "
UPDATE forward_clients SET token_hash = $2 WHERE id = $1 AND revoked_at IS NULL";

const REVOKE_CLIENT: &str = "
UPDATE forward_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL";

const DISABLE_CLIENT_ENDPOINTS: &str = "
UPDATE forward_endpoints
   SET enabled = false, disabled_at = now(), updated_at = now(),
       disabled_reason = 'client revoked'
 WHERE client_id = $1 AND enabled";

const CLIENT_EXISTS: &str = "
SELECT 1 FROM forward_clients WHERE id = $1";

/// A client of the management API.
#[derive(Clone, Debug, Serialize)]
pub struct ForwardClient {
    /// Its id.
    pub id: Uuid,
    /// A name for humans.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Stores a new client with the hash of its token.
pub async fn insert_client<C: GenericClient>(
    client: &C,
    name: &str,
    token_hash: &[u8],
) -> Result<ForwardClient, RepoError> {
    let stmt = client.prepare_cached(INSERT_CLIENT).await?;
    let row = client
        .query_one(&stmt, &[&Uuid::now_v7(), &name, &token_hash])
        .await?;
    Ok(ForwardClient {
        id: row.get(0),
        name: row.get(1),
        created_at: row.get(2),
    })
}

/// The client whose token hashes to `token_hash`, with the stored hash (for
/// the caller's constant-time comparison).
pub async fn client_by_token_hash<C: GenericClient>(
    client: &C,
    token_hash: &[u8],
) -> Result<Option<(Uuid, Vec<u8>)>, RepoError> {
    let stmt = client.prepare_cached(CLIENT_BY_TOKEN_HASH).await?;
    let row = client.query_opt(&stmt, &[&token_hash]).await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// A client as operators list it.
#[derive(Clone, Debug, Serialize)]
pub struct ClientSummary {
    /// Its id.
    pub id: Uuid,
    /// A name for humans.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How many endpoints it has (disabled ones included).
    pub endpoints: i64,
}

/// Every client, revoked ones included, oldest first.
pub async fn list_clients<C: GenericClient>(client: &C) -> Result<Vec<ClientSummary>, RepoError> {
    let stmt = client.prepare_cached(LIST_CLIENTS).await?;
    let rows = client.query(&stmt, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| ClientSummary {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
            revoked_at: r.get(3),
            endpoints: r.get(4),
        })
        .collect())
}

/// What a change to a client found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientChange {
    /// Done.
    Changed,
    /// No client has that id.
    Unknown,
    /// The client was revoked before.
    Revoked,
}

/// Replaces the client's token hash: the old token stops working at once.
/// A revoked client keeps its revocation.
pub async fn rotate_client_token<C: GenericClient>(
    client: &C,
    id: Uuid,
    token_hash: &[u8],
) -> Result<ClientChange, RepoError> {
    let stmt = client.prepare_cached(ROTATE_TOKEN).await?;
    if client.execute(&stmt, &[&id, &token_hash]).await? == 1 {
        return Ok(ClientChange::Changed);
    }
    why_unchanged(client, id).await
}

/// Revokes the client and disables its endpoints, both in `tx`, so that the
/// scheduler (which claims only enabled endpoints' deliveries) sends nothing
/// more for a client once its revocation commits.
/// Returns how many endpoints were disabled.
pub async fn revoke_client(
    tx: &Transaction<'_>,
    id: Uuid,
) -> Result<(ClientChange, u64), RepoError> {
    let stmt = tx.prepare_cached(REVOKE_CLIENT).await?;
    if tx.execute(&stmt, &[&id]).await? == 0 {
        return Ok((why_unchanged(tx, id).await?, 0));
    }
    let stmt = tx.prepare_cached(DISABLE_CLIENT_ENDPOINTS).await?;
    let disabled = tx.execute(&stmt, &[&id]).await?;
    Ok((ClientChange::Changed, disabled))
}

/// Why an update that skips revoked clients changed nothing.
async fn why_unchanged<C: GenericClient>(client: &C, id: Uuid) -> Result<ClientChange, RepoError> {
    let stmt = client.prepare_cached(CLIENT_EXISTS).await?;
    Ok(match client.query_opt(&stmt, &[&id]).await? {
        None => ClientChange::Unknown,
        Some(_) => ClientChange::Revoked,
    })
}
