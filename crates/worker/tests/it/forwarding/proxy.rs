//! Proxy variables must not route deliveries: a proxy resolves the host
//! itself, past the sender's resolver that refuses internal addresses.

use super::events::message_received;
use super::receiver::Receiver;
use super::support::Forwarding;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts the connections made to it and closes each at once.
struct CountingListener {
    url: String,
    accepted: Arc<AtomicUsize>,
}

impl CountingListener {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        CountingListener { url, accepted }
    }
}

/// The child process, killed when the test ends (also when it fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // It may have exited already; nothing to do then.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn deliveries_go_to_the_endpoint_directly_whatever_the_proxy_variables_say() {
    let mut f = Forwarding::start().await;
    // Only the child process delivers: it alone has the proxy variables.
    f.stop_forwarder().await;
    let proxy = CountingListener::start().await;
    let receiver = Receiver::start();
    let endpoint = f.endpoint(serde_json::json!({"url": receiver.url})).await;
    let child = f
        .deliver_command()
        .env("HTTP_PROXY", &proxy.url)
        .env("HTTPS_PROXY", &proxy.url)
        .env("ALL_PROXY", &proxy.url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .spawn()
        .expect("inlet-worker deliver starts");
    let child = Killed(child);
    f.publish(&message_received("evt-proxy")).await;

    let detail = f.delivery_with_status(&endpoint, "delivered").await;
    assert_eq!(detail["attempt_count"], 1);
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        0,
        "nothing went through the proxy"
    );
    drop(child);
    f.stop().await;
}
