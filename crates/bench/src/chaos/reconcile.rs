//! Reconciliation: every request the gateway answered 200 against the rows
//! the worker stored. Each must be there exactly once.

use inlet_testkit::TestDb;
use std::collections::{BTreeMap, BTreeSet};

/// Per-message-id facts gathered from the database.
pub struct Stored {
    /// Rows per provider message id (the unique key makes >1 impossible; still counted).
    pub rows: BTreeMap<String, i64>,
    /// Final status per message id (`None` when no status was applied).
    pub status: BTreeMap<String, Option<String>>,
}

/// Reads every message whose id starts with `prefix`.
pub async fn stored(db: &TestDb, prefix: &str) -> anyhow::Result<Stored> {
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT provider_message_id, count(*), max(status) FROM messages
             WHERE provider_message_id LIKE $1 || '%' GROUP BY provider_message_id",
            &[&prefix],
        )
        .await?;
    let mut stored = Stored {
        rows: BTreeMap::new(),
        status: BTreeMap::new(),
    };
    for row in rows {
        let id: String = row.get(0);
        stored.rows.insert(id.clone(), row.get(1));
        stored.status.insert(id, row.get(2));
    }
    Ok(stored)
}

/// The comparison.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Distinct ids answered 200 at least once.
    pub accepted: usize,
    /// Rows stored for this run.
    pub rows: i64,
    /// Accepted ids with no row.
    pub missing: Vec<String>,
    /// Ids with more than one row.
    pub doubled: Vec<String>,
    /// Rows whose id was never answered 200 (published, then the answer was lost): allowed.
    pub extra: usize,
}

/// Compares the accepted ids with what is stored.
pub fn tally(accepted: &BTreeSet<String>, stored: &Stored) -> Tally {
    Tally {
        accepted: accepted.len(),
        rows: stored.rows.values().sum(),
        missing: accepted
            .iter()
            .filter(|id| !stored.rows.contains_key(*id))
            .cloned()
            .collect(),
        doubled: stored
            .rows
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| id.clone())
            .collect(),
        extra: stored
            .rows
            .keys()
            .filter(|id| !accepted.contains(*id))
            .count(),
    }
}
