//! Managing clients: what `inlet-gateway clients create|list|rotate|revoke` runs.

use super::auth::{generate_token, hash_token, RandomUnavailable};
use inlet_domain::repository::forwarding::{
    insert_client, list_clients as list_stored, revoke_client as revoke_stored,
    rotate_client_token, ClientChange, ClientSummary, ForwardClient,
};
use inlet_domain::repository::{RepoError, Repository};
use uuid::Uuid;

/// Why a client could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The name is empty.
    #[error("the client name must not be empty")]
    EmptyName,
    /// No client has that id.
    #[error("no client has the id {0}")]
    Unknown(Uuid),
    /// The client is revoked; revocation is final (create a new client).
    #[error("the client {0} is revoked")]
    Revoked(Uuid),
    /// No randomness for the token.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    /// The database refused or could not be reached.
    #[error("cannot reach or update the clients")]
    Repo(#[from] RepoError),
}

/// Creates a client and returns it with its token: the only time the token
/// exists in clear.
pub async fn create_client(
    repo: &Repository,
    name: &str,
) -> Result<(ForwardClient, String), ClientError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ClientError::EmptyName);
    }
    let token = generate_token()?;
    let client = repo.client().await?;
    let created = insert_client(&client, name, &hash_token(&token)).await?;
    Ok((created, token))
}

/// Every client, revoked ones included, oldest first.
pub async fn list_clients(repo: &Repository) -> Result<Vec<ClientSummary>, ClientError> {
    let client = repo.client().await?;
    Ok(list_stored(&client).await?)
}

/// Gives the client a new token and returns it (shown once); the old token
/// stops working at once. Endpoints, secrets and deliveries are untouched.
pub async fn rotate_token(repo: &Repository, id: Uuid) -> Result<String, ClientError> {
    let token = generate_token()?;
    let client = repo.client().await?;
    match rotate_client_token(&client, id, &hash_token(&token)).await? {
        ClientChange::Changed => Ok(token),
        ClientChange::Unknown => Err(ClientError::Unknown(id)),
        ClientChange::Revoked => Err(ClientError::Revoked(id)),
    }
}

/// Revokes the client: its token stops working and its endpoints are
/// disabled, so nothing more is delivered to them; what was stored is kept.
/// Returns how many endpoints were disabled.
pub async fn revoke_client(repo: &Repository, id: Uuid) -> Result<u64, ClientError> {
    let mut client = repo.client().await?;
    let tx = client.transaction().await.map_err(RepoError::from)?;
    let (change, disabled) = revoke_stored(&tx, id).await?;
    match change {
        ClientChange::Changed => {
            tx.commit().await.map_err(RepoError::from)?;
            Ok(disabled)
        }
        ClientChange::Unknown => Err(ClientError::Unknown(id)),
        ClientChange::Revoked => Err(ClientError::Revoked(id)),
    }
}
