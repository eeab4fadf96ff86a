//! Meta's WhatsApp Cloud API webhook envelope.
//!
//! `entry[].changes[]` with `field = "messages"` carries messages and statuses
//! for the line `value.metadata.phone_number_id`; every other field is an
//! account event, recorded as it came. Message objects are read loosely
//! (Meta adds types and fields over time): the object named after the
//! message's `type` becomes its structured content, whatever the type.

use super::DecodeError;
use crate::event::{
    unix_seconds, AccountEvent, Contact, DeliveryState, Direction, DomainEvent, EventBody, Message,
    Reaction, StatusUpdate,
};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct Envelope {
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    time: Option<i64>,
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
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<WaContact>,
    #[serde(default)]
    messages: Vec<Map<String, Value>>,
    #[serde(default)]
    statuses: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    display_phone_number: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct WaContact {
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

/// Decodes one webhook body (any number of entries, changes and items).
pub fn decode(body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(Provider::Meta, e))?;
    let mut events = Vec::new();
    for entry in envelope.entry {
        for change in entry.changes {
            if change.field == "messages" {
                decode_messages(change.value, &mut events)?;
            } else {
                events.push(account_event(&entry.id, entry.time, change));
            }
        }
    }
    Ok(events)
}

/// The line a body is for, when it names exactly one (cheap routing hint for the gateway).
pub fn line_of(value: &Value) -> Option<&str> {
    let mut lines = value
        .get("entry")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("changes")?.as_array())
        .flatten()
        .filter_map(|c| c.pointer("/value/metadata/phone_number_id")?.as_str());
    let first = lines.next()?;
    lines.all(|l| l == first).then_some(first)
}

fn decode_messages(value: Value, out: &mut Vec<DomainEvent>) -> Result<(), DecodeError> {
    let value: MessagesValue =
        serde_json::from_value(value).map_err(|e| DecodeError::malformed(Provider::Meta, e))?;
    let line_id = value
        .metadata
        .as_ref()
        .and_then(|m| m.phone_number_id.clone());
    let line_number = value
        .metadata
        .as_ref()
        .and_then(|m| m.display_phone_number.clone());
    for msg in value.messages {
        let body = inbound(msg, &value.contacts, line_number.as_deref())?;
        out.push(DomainEvent {
            provider: Provider::Meta,
            line_id: line_id.clone(),
            body,
        });
    }
    for status in value.statuses {
        out.push(DomainEvent {
            provider: Provider::Meta,
            line_id: line_id.clone(),
            body: EventBody::Status(status_update(status)?),
        });
    }
    Ok(())
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn inbound(
    msg: Map<String, Value>,
    contacts: &[WaContact],
    line_number: Option<&str>,
) -> Result<EventBody, DecodeError> {
    let id = str_field(&msg, "id")
        .ok_or_else(|| DecodeError::malformed(Provider::Meta, "message without an id"))?;
    // A sender with a username may be known only by a business-scoped user id.
    let from = str_field(&msg, "from").or_else(|| str_field(&msg, "from_user_id"));
    let kind = str_field(&msg, "type").unwrap_or_else(|| "unknown".to_owned());
    let sent_at = msg.get("timestamp").and_then(unix_seconds);

    if kind == "reaction" {
        let reaction = msg.get("reaction").cloned().unwrap_or(Value::Null);
        let target = reaction
            .get("message_id")
            .and_then(Value::as_str)
            .ok_or_else(|| DecodeError::malformed(Provider::Meta, "reaction without message_id"))?
            .to_owned();
        return Ok(EventBody::Reaction(Reaction {
            provider_event_id: id,
            target_message_id: target,
            from_address: from.unwrap_or_default(),
            emoji: reaction
                .get("emoji")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            occurred_at: sent_at.unwrap_or_else(Utc::now),
            raw: Value::Object(msg),
        }));
    }

    let contact = from.as_ref().map(|addr| {
        let known = contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(addr) || c.user_id.as_deref() == Some(addr));
        Contact {
            address: addr.clone(),
            name: known.and_then(|c| c.profile.as_ref()?.name.clone()),
            user_id: known
                .and_then(|c| c.user_id.clone())
                .or_else(|| str_field(&msg, "from_user_id")),
        }
    });
    let mut content = msg.get(&kind).cloned().unwrap_or(Value::Object(Map::new()));
    if let (Value::Object(c), Some(errors)) = (&mut content, msg.get("errors")) {
        c.insert("errors".into(), errors.clone());
    }
    let context = context_of(&msg);
    Ok(EventBody::Message(Message {
        provider_message_id: id,
        direction: Direction::Inbound,
        from_address: from,
        to_address: line_number.map(str::to_owned),
        contact,
        body: body_of(&kind, &content),
        kind,
        content,
        context,
        status: None,
        sent_at,
        raw: Value::Object(msg),
    }))
}

/// Reply, forward, product and ad-referral context, kept together.
fn context_of(msg: &Map<String, Value>) -> Option<Value> {
    let mut ctx = Map::new();
    for key in ["context", "referral", "group_id"] {
        if let Some(v) = msg.get(key) {
            ctx.insert(key.to_owned(), v.clone());
        }
    }
    (!ctx.is_empty()).then_some(Value::Object(ctx))
}

/// The human-readable text of a message, whatever its kind.
fn body_of(kind: &str, content: &Value) -> Option<String> {
    let pointer = match kind {
        "text" => "/body",
        "image" | "video" | "document" => "/caption",
        "button" => "/text",
        "location" => "/name",
        "order" => "/text",
        "system" => "/body",
        "contacts" => "/0/name/formatted_name",
        "interactive" => match content.get("type").and_then(Value::as_str) {
            Some("button_reply") => "/button_reply/title",
            Some("list_reply") => "/list_reply/title",
            Some("nfm_reply") => "/nfm_reply/body",
            _ => return None,
        },
        _ => "/errors/0/title",
    };
    content
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn status_update(status: Map<String, Value>) -> Result<StatusUpdate, DecodeError> {
    let id = str_field(&status, "id")
        .ok_or_else(|| DecodeError::malformed(Provider::Meta, "status without an id"))?;
    let word = str_field(&status, "status").unwrap_or_default();
    let state = DeliveryState::parse(&word).ok_or_else(|| {
        DecodeError::malformed(Provider::Meta, format!("unknown status {word:?}"))
    })?;
    let mut billing = Map::new();
    for key in ["conversation", "pricing", "biz_opaque_callback_data"] {
        if let Some(v) = status.get(key) {
            billing.insert(key.to_owned(), v.clone());
        }
    }
    Ok(StatusUpdate {
        provider_message_id: id,
        state,
        occurred_at: status
            .get("timestamp")
            .and_then(unix_seconds)
            .unwrap_or_else(Utc::now),
        recipient: str_field(&status, "recipient_id")
            .or_else(|| str_field(&status, "recipient_user_id")),
        errors: status.get("errors").cloned(),
        billing: (!billing.is_empty()).then_some(Value::Object(billing)),
        raw: Value::Object(status),
    })
}

fn account_event(waba: &Option<String>, time: Option<i64>, change: Change) -> DomainEvent {
    let occurred_at = time
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(Utc::now);
    let event = change
        .value
        .get("event")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // No id is given for these: the content itself identifies the event, so a
    // redelivery maps to the same key.
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{waba:?}|{time:?}|{}|{}", change.field, change.value).as_bytes(),
    );
    DomainEvent {
        provider: Provider::Meta,
        line_id: None,
        body: EventBody::Account(AccountEvent {
            field: change.field,
            event,
            event_key: hex::encode(digest.as_ref()),
            occurred_at,
            data: change.value,
        }),
    }
}
