//! Meta's WhatsApp Cloud API webhook envelope.
//!
//! `entry[].changes[]` with `field = "messages"` carries messages
//! ([`meta_message`](super::meta_message)), statuses and out-of-band errors
//! for the line `value.metadata.phone_number_id`; every other field is an
//! account event, recorded as it came. A body may batch many entries, changes
//! and items: every one becomes an event, in body order.
//!
//! Decisions:
//! - A status with a word Inlet does not know becomes an account event with
//!   field `status.<word>` (kept raw, never failing the batch).
//! - `value.errors[]` becomes an account event with field `messages.errors`.
//! - A message or status without an `id` cannot be stored idempotently: the
//!   body is malformed.

use super::json::{digest, pick, str_of};
use super::meta_message::{self, MessageCtx};
use super::DecodeError;
use crate::envelope::EventMeta;
use crate::event::{
    unix_seconds, AccountEvent, DeliveryState, DomainEvent, EventBody, StatusUpdate,
};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Envelope {
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    time: Value,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize, Default)]
struct MessagesValue {
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    contacts: Vec<Value>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
    #[serde(default)]
    errors: Option<Value>,
}

/// Decodes one webhook body (any number of entries, changes and items).
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(Provider::Meta, e))?;
    let mut events = Vec::new();
    for entry in envelope.entry {
        let time = unix_seconds(&entry.time);
        for change in entry.changes {
            if change.field == "messages" {
                decode_messages(meta, change.value, &mut events)?;
            } else {
                events.push(account_event(meta, &entry.id, time, change));
            }
        }
    }
    Ok(events)
}

fn decode_messages(
    meta: &EventMeta,
    value: Value,
    out: &mut Vec<DomainEvent>,
) -> Result<(), DecodeError> {
    let value: MessagesValue =
        serde_json::from_value(value).map_err(|e| DecodeError::malformed(Provider::Meta, e))?;
    let line_id = str_of(&value.metadata, "phone_number_id").or_else(|| meta.line.clone());
    let line_number = str_of(&value.metadata, "display_phone_number");
    let event = |body| DomainEvent {
        provider: Provider::Meta,
        line_id: line_id.clone(),
        body,
    };
    let ctx = MessageCtx {
        contacts: &value.contacts,
        line_number: line_number.as_deref(),
        fallback_time: meta.received_at,
    };
    for msg in value.messages {
        out.push(event(meta_message::decode(msg, &ctx)?));
    }
    for status in value.statuses {
        out.push(event(status_event(status, meta.received_at)?));
    }
    if let Some(errors) = value.errors {
        let key = digest(&[
            "messages.errors",
            line_id.as_deref().unwrap_or(""),
            &errors.to_string(),
        ]);
        out.push(event(EventBody::Account(AccountEvent {
            field: "messages.errors".to_owned(),
            event: None,
            event_key: key,
            occurred_at: meta.received_at,
            data: errors,
        })));
    }
    Ok(())
}

/// A status update, or an account event when the status word is unknown.
fn status_event(status: Value, fallback_time: DateTime<Utc>) -> Result<EventBody, DecodeError> {
    let id = str_of(&status, "id")
        .ok_or_else(|| DecodeError::malformed(Provider::Meta, "status without an id"))?;
    let word = str_of(&status, "status").unwrap_or_default();
    let occurred_at = status
        .get("timestamp")
        .and_then(unix_seconds)
        .unwrap_or(fallback_time);
    let Some(state) = DeliveryState::parse(&word) else {
        return Ok(EventBody::Account(AccountEvent {
            field: format!("status.{word}"),
            event: Some(word.clone()),
            event_key: digest(&["status", &id, &word]),
            occurred_at,
            data: status,
        }));
    };
    Ok(EventBody::Status(StatusUpdate {
        provider_message_id: id,
        state,
        occurred_at,
        // Users with a username may be addressed by business-scoped id only.
        recipient: str_of(&status, "recipient_id").or_else(|| str_of(&status, "recipient_user_id")),
        errors: status.get("errors").filter(|e| !e.is_null()).cloned(),
        billing: pick(
            &status,
            &["conversation", "pricing", "biz_opaque_callback_data"],
        ),
        raw: status,
    }))
}

fn account_event(
    meta: &EventMeta,
    waba: &Value,
    time: Option<DateTime<Utc>>,
    change: Change,
) -> DomainEvent {
    let event = str_of(&change.value, "event");
    // No id is given for these: the content itself identifies the event, so a
    // redelivery maps to the same key.
    let time_part = time.map(|t| t.timestamp().to_string()).unwrap_or_default();
    let key = digest(&[
        &waba.to_string(),
        &time_part,
        &change.field,
        &change.value.to_string(),
    ]);
    DomainEvent {
        provider: Provider::Meta,
        line_id: None,
        body: EventBody::Account(AccountEvent {
            field: change.field,
            event,
            event_key: key,
            occurred_at: time.unwrap_or(meta.received_at),
            data: change.value,
        }),
    }
}
