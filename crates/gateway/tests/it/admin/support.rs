//! `spawn_admin()`: a management API on a free port over a database of its own.

use inlet_domain::forward::settings::ForwardSettings;
use inlet_domain::settings::DatabaseSettings;
use inlet_gateway::admin::clients::create_client;
use inlet_gateway::admin::AdminApp;
use inlet_gateway::config::Settings;
use inlet_gateway::metrics::Metrics;
use inlet_testkit::TestDb;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A running management API.
pub struct TestAdmin {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Its database.
    pub db: TestDb,
    /// An HTTP client.
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

/// Lets tests reach a loopback receiver (and use http).
pub fn lax() -> ForwardSettings {
    ForwardSettings {
        forward_allow_http: true,
        forward_allow_private: true,
        ..ForwardSettings::default()
    }
}

/// A management API with the given forwarding policy.
pub async fn spawn_admin(forward: ForwardSettings) -> TestAdmin {
    let db = TestDb::new().await.expect("test database");
    let settings = db.settings.clone();
    spawn_on(db, settings, forward)
}

/// A management API whose database settings may differ from `db` (to test outages).
pub fn spawn_on(db: TestDb, database: DatabaseSettings, forward: ForwardSettings) -> TestAdmin {
    inlet_domain::telemetry::init_for_tests();
    let settings = Settings {
        admin_addr: "127.0.0.1:0".into(),
        database: database.clone(),
        forward,
        ..Settings::default()
    };
    let shutdown = CancellationToken::new();
    let repo = inlet_domain::repository::Repository::new(database.pool().expect("pool"));
    let metrics = Metrics::new().expect("metrics");
    let app = AdminApp::build(&settings, repo, metrics, shutdown.clone()).expect("admin builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestAdmin {
        address,
        db,
        http: reqwest::Client::new(),
        shutdown,
    }
}

impl TestAdmin {
    /// Creates a client the way `inlet-gateway clients create` does; returns its token.
    pub async fn client(&self, name: &str) -> String {
        let (_, token) = create_client(&self.db.repo, name)
            .await
            .expect("client created");
        token
    }

    /// Sends `method path` with `token` and an optional JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON answer")
        };
        (status, json)
    }

    /// Creates an endpoint for `token` and returns its JSON (with the secret).
    pub async fn endpoint(&self, token: &str, body: Value) -> Value {
        let (status, json) = self
            .call(reqwest::Method::POST, "/v1/endpoints", token, Some(body))
            .await;
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Stops the server.
    pub fn stop(self) {
        self.shutdown.cancel();
    }
}
