//! The worker's probes and metrics, on the real services.

use inlet_testkit::{eventually, TestBroker, TestDb, ToggleProxy};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    Some(http.get(url).send().await.ok()?.status().as_u16())
}

#[tokio::test]
async fn readiness_follows_the_broker_and_recovers_by_itself() {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker");
    let proxy = ToggleProxy::start("127.0.0.1:5672".parse().expect("addr"))
        .await
        .expect("proxy");
    let mut broker_settings = broker.settings.clone();
    broker_settings.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    let settings = inlet_worker::config::Settings {
        broker: broker_settings,
        database: db.settings.clone(),
        worker_metrics_addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let worker = inlet_worker::startup::Worker::build(settings, shutdown.clone())
        .await
        .expect("worker builds");
    let base = format!("http://127.0.0.1:{}", worker.port());
    tokio::spawn(worker.run_until_stopped());
    let http = reqwest::Client::new();
    let ready_url = format!("{base}/readyz");

    let wait_for = |want: u16| {
        let http = http.clone();
        let url = ready_url.clone();
        async move {
            eventually(Duration::from_secs(15), || {
                let http = http.clone();
                let url = url.clone();
                async move { (status(&http, &url).await? == want).then_some(()) }
            })
            .await
        }
    };
    assert!(wait_for(200).await.is_some(), "ready once consuming");
    assert_eq!(status(&http, &format!("{base}/healthz")).await, Some(200));

    proxy.cut();
    assert!(
        wait_for(503).await.is_some(),
        "not ready while the broker is away"
    );
    assert_eq!(
        status(&http, &format!("{base}/healthz")).await,
        Some(200),
        "still alive"
    );

    proxy.restore();
    assert!(
        wait_for(200).await.is_some(),
        "ready again without a restart"
    );

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("inlet_worker_broker_connected 1"));
    assert!(metrics.contains("inlet_worker_db_pool_in_use"));
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    broker.cleanup().await.expect("cleanup");
}
