//! `spawn_app()`: a gateway on a free port, publishing under a test-only prefix.

use inlet_domain::settings::Secret;
use inlet_gateway::config::Settings;
use inlet_gateway::startup::Application;
use inlet_testkit::TestBroker;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The Meta app secret of vector M1.
pub const META_SECRET: &str = "6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b";
/// The verify token the test gateway is configured with.
pub const VERIFY_TOKEN: &str = "inlet-verify-token";

/// A running gateway and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The broker namespace it publishes into.
    pub broker: TestBroker,
    /// An HTTP client.
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

/// Settings for a test gateway on `broker`, before any test-specific change.
pub fn test_settings(broker: &TestBroker) -> Settings {
    Settings {
        gateway_addr: "127.0.0.1:0".into(),
        broker: broker.settings.clone(),
        meta_app_secret: Secret::new(META_SECRET),
        meta_verify_token: Secret::new(VERIFY_TOKEN),
        ..Settings::default()
    }
}

/// Starts a gateway with default test settings.
pub async fn spawn_app() -> TestApp {
    let broker = TestBroker::new().await.expect("broker namespace");
    let settings = test_settings(&broker);
    spawn_with(broker, settings).await
}

/// Starts a gateway with the given settings and waits until it can publish.
pub async fn spawn_with(broker: TestBroker, settings: Settings) -> TestApp {
    inlet_domain::telemetry::init_for_tests();
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone()).expect("gateway builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let ready = inlet_testkit::eventually(Duration::from_secs(10), || {
        let http = http.clone();
        let url = format!("{address}/readyz");
        async move {
            let r = http.get(url).send().await.ok()?;
            r.status().is_success().then_some(())
        }
    })
    .await;
    assert!(ready.is_some(), "gateway never became ready");
    TestApp {
        address,
        broker,
        http,
        shutdown,
    }
}

impl TestApp {
    /// POSTs `body` to `path` with JSON content type and the given headers.
    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request sent")
    }

    /// Messages waiting in the work queue.
    pub async fn queued(&self) -> u32 {
        let queue = self.broker.topology().work_queue();
        self.broker.ready(&queue).await.expect("queue exists")
    }

    /// Stops the gateway and deletes the test's queues.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.broker.cleanup().await.expect("cleanup");
    }
}

/// Signs `body` as Meta does with [`META_SECRET`].
pub fn meta_signature(body: &[u8]) -> String {
    let secret = inlet_domain::signature::meta::MetaSecret::new(META_SECRET, None).expect("secret");
    inlet_domain::signature::meta::sign(&secret, body)
}

/// A Meta text-message webhook with a unique message id.
pub fn meta_text(wamid: &str, text: &str) -> Vec<u8> {
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
