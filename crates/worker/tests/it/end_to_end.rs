//! The whole path: signed HTTP POST → gateway → RabbitMQ → worker → PostgreSQL.

use inlet_domain::settings::Secret;
use inlet_testkit::{eventually, TestBroker, TestDb};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const META_SECRET: &str = "6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b";

/// Gateway and worker on one test database and broker prefix.
struct Pipeline {
    gateway: String,
    http: reqwest::Client,
    db: TestDb,
    broker: TestBroker,
    shutdown: CancellationToken,
}

async fn spawn_pipeline() -> Pipeline {
    inlet_domain::telemetry::init_for_tests();
    let db = TestDb::new().await.expect("database");
    let broker = TestBroker::new().await.expect("broker");
    let shutdown = CancellationToken::new();

    let gateway_settings = inlet_gateway::config::Settings {
        gateway_addr: "127.0.0.1:0".into(),
        broker: broker.settings.clone(),
        meta_app_secret: Secret::new(META_SECRET),
        meta_verify_token: Secret::new("token"),
        // Dedup keys of this test only, short-lived: Redis is shared.
        dedup_prefix: format!("{}dedup:", broker.settings.topology_prefix),
        dedup_ttl_secs: 60,
        ..Default::default()
    };
    let app = inlet_gateway::startup::Application::build(gateway_settings, shutdown.clone())
        .expect("gateway builds");
    let gateway = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let worker_settings = inlet_worker::config::Settings {
        broker: broker.settings.clone(),
        database: db.settings.clone(),
        worker_metrics_addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let worker = inlet_worker::startup::Worker::build(worker_settings, shutdown.clone())
        .await
        .expect("worker builds");
    tokio::spawn(worker.run_until_stopped());

    let http = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(10), || {
        let url = format!("{gateway}/readyz");
        let http = http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        }
    })
    .await;
    assert!(ready.is_some(), "gateway never became ready");
    Pipeline {
        gateway,
        http,
        db,
        broker,
        shutdown,
    }
}

impl Pipeline {
    async fn post_meta(&self, body: &[u8]) -> reqwest::StatusCode {
        let secret =
            inlet_domain::signature::meta::MetaSecret::new(META_SECRET, None).expect("secret");
        self.http
            .post(format!("{}/webhooks/meta", self.gateway))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                inlet_domain::signature::meta::sign(&secret, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .expect("sent")
            .status()
    }

    async fn count(&self, sql: &str) -> i64 {
        let client = self.db.client().await.expect("client");
        client.query_one(sql, &[]).await.expect("query").get(0)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        // Let the worker drain and close before the queues go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.broker.cleanup().await.expect("cleanup");
    }
}

fn meta_text(wamid: &str, text: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
            "messages": [{"from": "16505551234", "id": wamid, "timestamp": "1749416383",
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_signed_text_webhook_becomes_a_stored_message() {
    let p = spawn_pipeline().await;
    assert_eq!(
        p.post_meta(&meta_text("wamid.e2e.1", "Does it come in blue?"))
            .await,
        200
    );

    let row = eventually(Duration::from_secs(10), || async {
        let client = p.db.client().await.ok()?;
        client
            .query_opt(
                "SELECT m.provider, m.line_id, m.direction, m.from_address, m.to_address, m.kind,
                        m.body, m.sent_at IS NOT NULL, c.name, m.raw->>'id'
                 FROM messages m JOIN contacts c ON c.id = m.contact_id
                 WHERE m.provider_message_id = 'wamid.e2e.1'",
                &[],
            )
            .await
            .ok()?
    })
    .await
    .expect("the message is stored");
    assert_eq!(row.get::<_, String>(0), "meta");
    assert_eq!(row.get::<_, String>(1), "106540352242922");
    assert_eq!(row.get::<_, String>(2), "inbound");
    assert_eq!(row.get::<_, String>(3), "16505551234");
    assert_eq!(row.get::<_, String>(4), "15550783881");
    assert_eq!(row.get::<_, String>(5), "text");
    assert_eq!(row.get::<_, String>(6), "Does it come in blue?");
    assert!(row.get::<_, bool>(7));
    assert_eq!(row.get::<_, String>(8), "Sheena Nelson");
    assert_eq!(row.get::<_, String>(9), "wamid.e2e.1");
    p.stop().await;
}

#[tokio::test]
async fn the_same_webhook_sent_twice_leaves_one_row() {
    let p = spawn_pipeline().await;
    let body = meta_text("wamid.e2e.twice", "hello");
    assert_eq!(p.post_meta(&body).await, 200);
    // A resend with another body (Meta does not promise identical bytes) but the same wamid.
    let mut resent: serde_json::Value = serde_json::from_slice(&body).expect("json");
    resent["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1749416999".into();
    assert_eq!(p.post_meta(resent.to_string().as_bytes()).await, 200);
    assert_eq!(p.post_meta(&body).await, 200);

    // Wait until all three deliveries were handled (the audit trail shows two
    // distinct raw bodies), then count the messages.
    let handled = eventually(Duration::from_secs(10), || async {
        let n = p
            .count("SELECT count(*) FROM webhook_events WHERE outcome = 'processed'")
            .await;
        (n == 2).then_some(())
    })
    .await;
    assert!(handled.is_some(), "both bodies were processed");
    let queued = p
        .broker
        .ready(&p.broker.topology().work_queue())
        .await
        .expect("queue");
    assert_eq!(queued, 0);
    assert_eq!(
        p.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.e2e.twice'")
            .await,
        1
    );
    assert_eq!(p.count("SELECT count(*) FROM contacts").await, 1);
    p.stop().await;
}
