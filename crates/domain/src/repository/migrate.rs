//! Schema migrations: the plain SQL files in `migrations/`, embedded at build time.

use super::RepoError;

refinery::embed_migrations!("../../migrations");

/// Arbitrary but fixed key of the advisory lock that serialises migrations
/// when several workers start at once.
const MIGRATION_LOCK: i64 = 0x1e7_1e7;

/// Applies every pending migration, recording each in `refinery_schema_history`;
/// a second run is a no-op.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), RepoError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrations::runner().run_async(client).await;
    // Unlock whatever happened; the session ending would release it too.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result?;
    Ok(())
}
