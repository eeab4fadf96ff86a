//! Creating clients: what `inlet-gateway clients create NAME` runs.

use super::auth::{generate_token, hash_token, RandomUnavailable};
use inlet_domain::repository::forwarding::{insert_client, ForwardClient};
use inlet_domain::repository::{RepoError, Repository};

/// Why a client could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateClientError {
    /// The name is empty.
    #[error("the client name must not be empty")]
    EmptyName,
    /// No randomness for the token.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    /// The database refused or could not be reached.
    #[error("cannot store the client")]
    Repo(#[from] RepoError),
}

/// Creates a client and returns it with its token: the only time the token
/// exists in clear.
pub async fn create_client(
    repo: &Repository,
    name: &str,
) -> Result<(ForwardClient, String), CreateClientError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CreateClientError::EmptyName);
    }
    let token = generate_token()?;
    let client = repo.client().await?;
    let created = insert_client(&client, name, &hash_token(&token)).await?;
    Ok((created, token))
}
