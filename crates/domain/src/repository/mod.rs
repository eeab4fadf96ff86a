//! The message repository: every SQL statement Inlet runs against PostgreSQL.
//!
//! Functions take a `&Transaction` (or a pooled client) so that the worker can
//! store everything one event causes, plus its audit row, atomically.

pub mod audit;
mod calls;
mod contacts;
pub mod dead_letters;
mod error;
pub mod forwarding;
mod lines;
mod messages;
mod migrate;
mod reactions;
mod statuses;
pub(crate) mod text;

pub use calls::{call_status_rank, store_calls};
pub use contacts::{apply_consents, upsert_provider_contacts};
pub use deadpool_postgres::Client;
pub use error::RepoError;
pub use lines::{insert_account_events, upsert_line_status};
pub use messages::{insert_messages, lock_messages, upsert_contacts, Dated, StoredMessage};
pub use migrate::migrate;
pub use reactions::upsert_reactions;
pub use statuses::store_statuses;

use deadpool_postgres::Pool;

/// A handle on the database: a small struct over the pool.
#[derive(Clone)]
pub struct Repository {
    pool: Pool,
}

impl Repository {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
        Repository { pool }
    }

    /// The pool, for callers that open their own transaction.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Takes a pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Client, RepoError> {
        Ok(self.pool.get().await?)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), RepoError> {
        let mut client = self.client().await?;
        migrate(&mut client).await
    }

    /// Cheap liveness check for readiness probes.
    pub async fn ping(&self) -> Result<(), RepoError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}
