//! A benchmark run that fails or is interrupted deletes the broker
//! namespaces it declared. Its own test binary: the registry is per process,
//! and the chaos tests' namespaces must not be swept from under them.

use inlet_bench::stack::{broker_namespace, delete_live_namespaces, delete_namespace};
use inlet_domain::broker::connect;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

/// Whether `queue` exists: a passive declare, on a channel of its own since
/// a failed one closes the channel.
async fn queue_exists(url: &str, queue: &str) -> bool {
    let connection = connect(url, "inlet-bench-cleanup-test")
        .await
        .expect("broker reachable");
    let channel = connection.create_channel().await.expect("channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let exists = channel
        .queue_declare(queue, passive, FieldTable::default())
        .await
        .is_ok();
    let _ = connection.close(200, "checked").await;
    exists
}

#[tokio::test]
async fn namespaces_left_by_a_run_are_deleted_and_deleted_ones_are_not_counted() {
    let left = broker_namespace("cleanup", vec![1])
        .await
        .expect("declared");
    let finished = broker_namespace("cleanup", vec![1])
        .await
        .expect("declared");
    let url = left.amqp_url.clone();
    let left_queue = left.topology().work_queue();
    assert!(queue_exists(&url, &left_queue).await, "declared first");
    delete_namespace(&finished).await.expect("deleted");

    assert_eq!(
        delete_live_namespaces().await,
        1,
        "only the one left behind"
    );
    assert!(
        !queue_exists(&url, &left_queue).await,
        "its work queue is gone"
    );
    assert!(!queue_exists(&url, &left.topology().dead_queue()).await);
    assert_eq!(delete_live_namespaces().await, 0, "nothing is left twice");
}
