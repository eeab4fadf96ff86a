//! A self-hosted WhatsApp bridge's webhook envelope (project-defined):
//! `{event_type, timestamp (RFC 3339), data}`.
//!
//! Bridges differ (Baileys, whatsmeow, ...), so fields are read leniently and
//! `data` is kept whole. Decisions:
//! - `message.received`: an inbound message (`data.message_id` or `data.id`;
//!   text from `text`, `body` or `caption`; kind from `data.type`, else
//!   `media` when media is attached, else `text`; `push_name` names the contact).
//! - `message.sent`: an outbound message with status `sent`.
//! - `message.failed`: a `failed` status update for `data.message_id`, with
//!   `data.error` as its errors (a failure report carries no message to store).
//! - `connection.status`: the line's status (`data.status`, else `data.state`).
//! - Anything else: an account event with field = `event_type`.
//!
//! The line is `data.line`/`data.session`/`data.line_id` ([`LINE_PATHS`])
//! when the body names one, else the line from the webhook URL
//! ([`EventMeta::line`]).

use super::json::{addresses, digest, first_at, first_str, pick, str_of};
use super::DecodeError;
use crate::envelope::EventMeta;
use crate::event::{
    rfc3339, unix_seconds, AccountEvent, Contact, DeliveryState, Direction, DomainEvent, EventBody,
    LineStatus, Message, StatusUpdate,
};
use crate::pick::{Path, Step::Key};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Where a body may name its line (session), in the order the decoder reads
/// them. The gateway checks the signature against every configured line
/// named at any of them, so this one list is what both read.
pub const LINE_PATHS: [Path; 3] = [
    &[Key("data"), Key("line")],
    &[Key("data"), Key("session")],
    &[Key("data"), Key("line_id")],
];

/// Decodes one webhook body.
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(Provider::Bridge, e))?;
    let kind = root
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::malformed(Provider::Bridge, "event without an event_type"))?;
    let data = root.get("data").cloned().unwrap_or(Value::Null);
    let occurred_at = root
        .get("timestamp")
        .and_then(rfc3339)
        .unwrap_or(meta.received_at);
    let line_id = first_at(&root, &LINE_PATHS).or_else(|| meta.line.clone());
    let body = match kind {
        "message.received" => EventBody::Message(message(data, Direction::Inbound, occurred_at)?),
        "message.sent" => EventBody::Message(message(data, Direction::Outbound, occurred_at)?),
        "message.failed" => failed(data, occurred_at)?,
        "connection.status" => EventBody::LineStatus(LineStatus {
            status: first_str(&data, &["status", "state"]).unwrap_or_else(|| "unknown".to_owned()),
            occurred_at,
            data,
        }),
        other => EventBody::Account(AccountEvent {
            field: other.to_owned(),
            event: None,
            event_key: digest(&[other, &occurred_at.to_rfc3339(), &data.to_string()]),
            occurred_at,
            data,
        }),
    };
    Ok(vec![DomainEvent {
        provider: Provider::Bridge,
        line_id,
        body,
    }])
}

fn message_id(data: &Value, kind: &str) -> Result<String, DecodeError> {
    first_str(data, &["message_id", "id"]).ok_or_else(|| {
        DecodeError::malformed(Provider::Bridge, format!("{kind} without a message_id"))
    })
}

fn message(
    data: Value,
    direction: Direction,
    occurred_at: DateTime<Utc>,
) -> Result<Message, DecodeError> {
    let id = message_id(&data, "message")?;
    let from = str_of(&data, "from");
    let to = addresses(data.get("to")).into_iter().next();
    let has_media = data.get("media").is_some_and(|m| !m.is_null());
    let kind = str_of(&data, "type")
        .unwrap_or_else(|| if has_media { "media" } else { "text" }.to_owned());
    let contact = match direction {
        Direction::Inbound => from.clone().map(|address| Contact {
            address,
            name: str_of(&data, "push_name"),
            user_id: None,
        }),
        Direction::Outbound => to.clone().map(|address| Contact {
            address,
            name: None,
            user_id: None,
        }),
    };
    Ok(Message {
        provider_message_id: id,
        direction,
        from_address: from,
        to_address: to,
        contact,
        kind,
        body: first_str(&data, &["text", "body", "caption"]),
        content: data.clone(),
        context: pick(&data, &["quoted", "context", "reply_to"]),
        status: (direction == Direction::Outbound).then_some(DeliveryState::Sent),
        // The bridge may stamp the message itself (Unix seconds or RFC 3339).
        sent_at: data
            .get("timestamp")
            .and_then(|t| unix_seconds(t).or_else(|| rfc3339(t)))
            .or(Some(occurred_at)),
        raw: data,
    })
}

fn failed(data: Value, occurred_at: DateTime<Utc>) -> Result<EventBody, DecodeError> {
    Ok(EventBody::Status(StatusUpdate {
        provider_message_id: message_id(&data, "message.failed")?,
        state: DeliveryState::Failed,
        occurred_at,
        recipient: addresses(data.get("to")).into_iter().next(),
        errors: pick(&data, &["error", "errors", "reason"]),
        billing: None,
        raw: data,
    }))
}
