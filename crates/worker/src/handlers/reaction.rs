//! Reactions: stored against the message they react to; a removal clears the emoji.

use crate::error::HandleError;
use deadpool_postgres::Transaction;
use inlet_domain::event::Reaction;
use inlet_domain::repository::upsert_reactions;
use inlet_domain::Provider;

/// Stores a batch of reactions (one statement).
pub async fn store(
    tx: &Transaction<'_>,
    provider: Provider,
    reactions: &[&Reaction],
) -> Result<usize, HandleError> {
    if reactions.is_empty() {
        return Ok(0);
    }
    if reactions.iter().any(|r| r.from_address.is_empty()) {
        // The reactor is part of the key: without it the row cannot be placed.
        return Err(HandleError::Permanent("reaction without a reactor".into()));
    }
    upsert_reactions(tx, provider, reactions).await?;
    Ok(reactions.len())
}
