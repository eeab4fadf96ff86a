//! Opt-out keywords: STOP opts a contact out, START opts it back in, and the
//! opt-out survives a failure of the rest of the handling.

use crate::fixtures::meta_text;
use crate::helpers::{spawn_with_messages_locked, spawn_worker};
use inlet_testkit::TestBroker;

const CONSENT: &str = "SELECT opted_out, consent_keyword, consent_message_id FROM contacts \
                       WHERE address = '16505551234'";

#[tokio::test]
async fn stop_opts_the_contact_out_and_start_opts_it_back_in() {
    let worker = spawn_worker().await;
    worker
        .publish_meta(&meta_text(
            "wamid.stop",
            "16505551234",
            "  stop ",
            1_749_416_000,
        ))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM contacts WHERE opted_out", 1)
        .await;
    let client = worker.db.client().await.expect("client");
    let row = client.query_one(CONSENT, &[]).await.expect("contact");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "STOP");
    assert_eq!(row.get::<_, String>(2), "wamid.stop");

    worker
        .publish_meta(&meta_text(
            "wamid.start",
            "16505551234",
            "START",
            1_749_416_100,
        ))
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM contacts WHERE NOT opted_out AND consent_keyword = 'START'",
            1,
        )
        .await;
    // An ordinary message changes nothing.
    worker
        .publish_meta(&meta_text(
            "wamid.chat",
            "16505551234",
            "stop by later?",
            1_749_416_200,
        ))
        .await;
    worker
        .wait_for_count("SELECT count(*) FROM messages", 3)
        .await;
    let row = client.query_one(CONSENT, &[]).await.expect("contact");
    assert!(!row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(2), "wamid.start");
    worker.finish().await;
}

#[tokio::test]
async fn an_opt_out_is_recorded_even_when_storing_the_message_fails() {
    let broker = TestBroker::with_retry_delays(vec![30])
        .await
        .expect("broker");
    let (worker, lock) = spawn_with_messages_locked(broker).await;

    worker
        .publish_meta(&meta_text(
            "wamid.stop.fail",
            "16505551234",
            "STOP",
            1_749_416_000,
        ))
        .await;
    worker
        .wait_for_count(
            "SELECT count(*) FROM webhook_events WHERE outcome = 'retrying'",
            1,
        )
        .await;
    assert_eq!(
        worker
            .count("SELECT count(*) FROM contacts WHERE opted_out")
            .await,
        1
    );
    // Released only now: reading `messages` would wait on the lock. The
    // retry is 30 s away, so the message is still not stored.
    lock.release().await;
    assert_eq!(worker.count("SELECT count(*) FROM messages").await, 0);
    worker.finish().await;
}
