//! Unique, correctly signed webhooks for each sender: what the load generator
//! sends. Signing uses the same `inlet_domain::signature` functions the
//! gateway verifies with, so a 401 in a run is a real finding.

use anyhow::Context;
use inlet_domain::signature::{bridge, meta, openphone, standard};

/// Which sender's webhooks to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Sender {
    /// Meta WhatsApp text messages, `X-Hub-Signature-256`.
    Meta,
    /// OpenPhone legacy `message.received`, `openphone-signature`.
    Openphone,
    /// WhatsApp bridge `message.received`, `X-Webhook-Signature`.
    Bridge,
    /// Standard Webhooks, `webhook-*` headers, to `/webhooks/standard/bench`.
    Standard,
}

/// The secrets a benchmark gateway is configured with (test values, not real ones).
pub mod secrets {
    /// `INLET_META_APP_SECRET`.
    pub const META: &str = "6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b";
    /// `INLET_META_VERIFY_TOKEN`.
    pub const META_VERIFY_TOKEN: &str = "inlet-bench-token";
    /// `INLET_OPENPHONE_SIGNING_KEY` (base64).
    pub const OPENPHONE: &str = "aW5sZXQtYmVuY2gtb3BlbnBob25lLWtleQ==";
    /// `INLET_BRIDGE_SECRET`.
    pub const BRIDGE: &str = "inlet-bridge-secret";
    /// The secret of the `bench` source in `INLET_STANDARD_SOURCES`.
    pub const STANDARD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
}

/// One request: where it goes, its headers and its body.
pub struct SignedRequest {
    /// The path, e.g. `/webhooks/meta`.
    pub path: &'static str,
    /// Headers besides `content-type: application/json`.
    pub headers: Vec<(&'static str, String)>,
    /// The raw body, as signed.
    pub body: Vec<u8>,
}

/// Builds signed requests with ids unique to a run.
pub struct Signer {
    sender: Sender,
    run: String,
    meta: meta::MetaSecret,
    openphone: openphone::OpenPhoneKey,
    bridge: bridge::BridgeSecret,
    standard: standard::StandardSecret,
}

impl Signer {
    /// A signer for `sender`; `run` makes every id of this run unique.
    pub fn new(sender: Sender, run: &str) -> anyhow::Result<Self> {
        Ok(Signer {
            sender,
            run: run.to_owned(),
            meta: meta::MetaSecret::new(secrets::META, None).context("meta secret")?,
            openphone: openphone::OpenPhoneKey::from_base64(secrets::OPENPHONE)
                .context("openphone key")?,
            bridge: bridge::BridgeSecret::new(secrets::BRIDGE).context("bridge secret")?,
            standard: standard::StandardSecret::parse(secrets::STANDARD)
                .context("standard secret")?,
        })
    }

    /// The provider message id request `n` carries (what the worker stores).
    pub fn message_id(&self, n: u64) -> String {
        format!("wamid.{}.{n}", self.run)
    }

    /// The id prefix shared by every message of this run.
    pub fn id_prefix(&self) -> String {
        format!("wamid.{}.", self.run)
    }

    /// Request number `n`: a text message with a unique id.
    pub fn request(&self, n: u64) -> SignedRequest {
        let id = self.message_id(n);
        let now = chrono::Utc::now();
        match self.sender {
            Sender::Meta => {
                let body =
                    meta_text_from(&id, &sender_of(n), "Does it come in blue?", now.timestamp());
                let sig = meta::sign(&self.meta, &body);
                SignedRequest {
                    path: "/webhooks/meta",
                    headers: vec![("x-hub-signature-256", sig)],
                    body,
                }
            }
            Sender::Openphone => {
                let body = serde_json::json!({
                    "id": format!("EV{}", id.replace('.', "")), "object": "event", "apiVersion": "v2",
                    "createdAt": now.to_rfc3339(), "type": "message.received",
                    "data": {"object": {"id": id, "object": "message", "from": "+18005550100",
                        "to": "+18885550101", "direction": "incoming", "body": "Does it come in blue?",
                        "media": [], "status": "received", "createdAt": now.to_rfc3339(),
                        "userId": "USu5AsEHuQ", "phoneNumberId": "PNtoDbDhuz",
                        "conversationId": "CN78ba0373683c48fd8fd96bc836c51f79"}}
                })
                .to_string()
                .into_bytes();
                let sig = openphone::sign(&self.openphone, now.timestamp_millis(), &body);
                SignedRequest {
                    path: "/webhooks/openphone",
                    headers: vec![("openphone-signature", sig)],
                    body,
                }
            }
            Sender::Bridge => {
                let body = serde_json::json!({
                    "event_type": "message.received", "timestamp": now.to_rfc3339(),
                    "data": {"message_id": id, "from": "15550001111", "text": "Does it come in blue?"}
                })
                .to_string()
                .into_bytes();
                let sig = bridge::sign(&self.bridge, &body);
                SignedRequest {
                    path: "/webhooks/bridge",
                    headers: vec![("x-webhook-signature", sig)],
                    body,
                }
            }
            Sender::Standard => {
                let body = serde_json::json!({
                    "type": "message.received", "timestamp": now.to_rfc3339(),
                    "data": {"id": id, "from": "15550001111", "text": "Does it come in blue?"}
                })
                .to_string()
                .into_bytes();
                let msg_id = format!("msg_{}", id.replace('.', "_"));
                let ts = now.timestamp();
                let sig = standard::sign(&self.standard, &msg_id, ts, &body);
                SignedRequest {
                    path: "/webhooks/standard/bench",
                    headers: vec![
                        ("webhook-id", msg_id),
                        ("webhook-timestamp", ts.to_string()),
                        ("webhook-signature", sig),
                    ],
                    body,
                }
            }
        }
    }

    /// A Meta status update for `message_id`, signed.
    pub fn meta_status(&self, message_id: &str, status: &str, timestamp: i64) -> SignedRequest {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "statuses": [{"id": message_id, "status": status, "timestamp": timestamp.to_string(),
                              "recipient_id": "16505551234"}]
            }}]}]
        })
        .to_string()
        .into_bytes();
        let sig = meta::sign(&self.meta, &body);
        SignedRequest {
            path: "/webhooks/meta",
            headers: vec![("x-hub-signature-256", sig)],
            body,
        }
    }

    /// A Meta text message with a given id and timestamp, signed (resends use
    /// another timestamp: Meta does not promise identical bytes).
    pub fn meta_message(&self, message_id: &str, timestamp: i64) -> SignedRequest {
        let body = meta_text(message_id, "hello again", timestamp);
        let sig = meta::sign(&self.meta, &body);
        SignedRequest {
            path: "/webhooks/meta",
            headers: vec![("x-hub-signature-256", sig)],
            body,
        }
    }
}

/// Distinct senders, as real traffic has: one contact per 5,000 requests in
/// turn. (Every message from one contact would measure that contact's row
/// lock, not the pipeline: see docs/benchmarks.md.)
pub fn sender_of(n: u64) -> String {
    format!("1650555{:04}", n % 5_000)
}

/// A Meta text-message webhook (the shape of Meta's own example) from one fixed sender.
pub fn meta_text(wamid: &str, text: &str, timestamp: i64) -> Vec<u8> {
    meta_text_from(wamid, "16505551234", text, timestamp)
}

/// A Meta text-message webhook from `from`.
pub fn meta_text_from(wamid: &str, from: &str, text: &str, timestamp: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": timestamp.to_string(),
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}
