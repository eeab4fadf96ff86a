//! How the repository classes real PostgreSQL failures: what is retried
//! later, and what counts as the database being away (the batch then goes to
//! its delay queues at once, and the fan-out waits in place for as long as it
//! takes) rather than something the data itself may cause.

use inlet_domain::repository::{RepoError, Repository};
use inlet_domain::settings::DatabaseSettings;
use inlet_testkit::TestDb;

#[tokio::test]
async fn a_statement_timeout_is_passing_but_not_the_database_being_away() {
    let db = TestDb::new().await.expect("database");
    let client = db.client().await.expect("client");
    let timed_out = client
        .batch_execute("SET statement_timeout = 50; SELECT pg_sleep(1)")
        .await
        .expect_err("the statement is cancelled");
    let _ = client.batch_execute("RESET statement_timeout").await;
    let error = RepoError::from(timed_out);
    assert!(error.is_transient(), "{error:?}");
    assert!(!error.is_database_away(), "{error:?}");
}

#[tokio::test]
async fn no_connection_to_be_had_is_the_database_being_away() {
    let port = inlet_testkit::free_port().expect("port");
    let settings = DatabaseSettings {
        database_url: format!("postgres://postgres@127.0.0.1:{port}/nowhere"),
        database_timeout_ms: 500,
        ..DatabaseSettings::default()
    };
    let repo = Repository::new(settings.pool().expect("pool"));
    let error = repo.ping().await.expect_err("nothing listens there");
    assert!(error.is_transient(), "{error:?}");
    assert!(error.is_database_away(), "{error:?}");
}
