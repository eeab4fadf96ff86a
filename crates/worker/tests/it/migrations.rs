//! `inlet-worker migrate`: applies every migration once; a second run is a no-op.

use inlet_testkit::TestDb;
use std::process::Command;

#[tokio::test]
async fn migrating_twice_applies_each_migration_once() {
    // TestDb has already migrated through the library; the binary must find
    // nothing left to do, twice.
    let db = TestDb::new().await.expect("database");
    let client = db.client().await.expect("client");
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .expect("query")
                .get::<_, i64>(0)
        }
    };
    let applied = count("SELECT count(*) FROM refinery_schema_history").await;
    assert!(applied >= 1);
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_inlet-worker"))
            .arg("migrate")
            .env("INLET_DATABASE_URL", &db.settings.database_url)
            .output()
            .expect("binary runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        count("SELECT count(*) FROM refinery_schema_history").await,
        applied
    );
    assert_eq!(
        count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'messages'").await,
        1
    );
}
