//! Provider-side contact records (OpenPhone contact events).

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::ContactChange;
use inlet_domain::repository::upsert_provider_contacts;
use inlet_domain::Provider;

/// Stores a batch of contact changes (one statement); only newer changes apply.
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    contacts: &[&ContactChange],
) -> Result<usize, HandleError> {
    if contacts.is_empty() {
        return Ok(0);
    }
    upsert_provider_contacts(tx, provider, contacts).await?;
    Ok(contacts.len())
}
