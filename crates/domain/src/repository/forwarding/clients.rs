//! Clients: who may use the management API.

use crate::repository::RepoError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use uuid::Uuid;

const INSERT_CLIENT: &str = "
INSERT INTO forward_clients (id, name, token_hash) VALUES ($1, $2, $3)
RETURNING id, name, created_at";

const CLIENT_BY_TOKEN_HASH: &str = "
SELECT id, token_hash FROM forward_clients WHERE token_hash = $1";

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
