//! Stopping the gateway: a request already in flight is still published and
//! answered 200, then the gateway ends by itself.

use crate::helpers::{
    dedup_value, delete_keys, meta_signature, meta_text, read_until_closed, test_settings, unique,
    wait_ready,
};
use inlet_gateway::peek::meta_key;
use inlet_gateway::startup::Application;
use inlet_testkit::TestBroker;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_request_in_flight_when_the_gateway_stops_is_published_and_answered_200() {
    inlet_domain::telemetry::init_for_tests();
    let broker = TestBroker::new().await.expect("broker");
    let settings = test_settings(&broker);
    let prefix = settings.dedup_prefix.clone();
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).expect("gateway builds");
    let addr = format!("127.0.0.1:{}", app.port());
    let running = tokio::spawn(app.run_until_stopped());
    wait_ready(&reqwest::Client::new(), &format!("http://{addr}")).await;

    // Half a request: the gateway has taken it in when the stop comes.
    let body = meta_text(&unique("wamid.stopping."), "goodbye");
    let head = format!(
        "POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        meta_signature(&body),
        body.len()
    );
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(&body[..20]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    // Time for a stop that closed the broker connection at once to do so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream.write_all(&body[20..]).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "a request in flight at the stop should get 200; got: {answer}"
    );

    let ended = tokio::time::timeout(Duration::from_secs(10), running).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the gateway did not end cleanly: {ended:?}"
    );
    let queue = broker.topology().work_queue();
    assert_eq!(broker.ready(&queue).await.expect("queue"), 1);
    assert_eq!(
        dedup_value(&prefix, &meta_key(&body)).await.as_deref(),
        Some("done"),
        "the event's done mark landed before the gateway ended"
    );
    delete_keys(&prefix).await;
    broker.cleanup().await.expect("cleanup");
}
