//! OpenPhone (Quo) webhook envelopes, both generations.
//!
//! - Legacy (`apiVersion` v2/v3/v4): `{id, object: "event", createdAt, type,
//!   data: {object: {...}}}`.
//! - 2026-03-30: `{id, createdAt, type, data: {resource, context, links}}`,
//!   sender and recipients in `data.context`.
//!
//! The decoder branches on `data.object` vs `data.resource` and reads each
//! field from wherever the generation puts it. Decisions:
//! - `message.received`: an inbound message, kind `mms` when media is
//!   attached, else `text`; every recipient is kept in `content.recipients`.
//! - `message.delivered`, `message.failed`, `message.undelivered`: the outbound
//!   message itself (so it is stored when Inlet did not send it) followed by a
//!   status update (`delivered` or `failed`) for it. Both are idempotent, so
//!   the pair is safe to apply however often it comes.
//! - `call.*`, `callSummary`, `callTranscript`: call events (see
//!   [`openphone_call`](super::openphone_call)).
//! - `contact.updated`, `contact.deleted`: contact changes.
//! - Anything else (`task.*`, ...): an account event with field = type, keyed
//!   on the event id (`EV…`). Never an error.
//!
//! The line is the first `phoneNumberId` at [`LINE_PATHS`], else the line the
//! gateway saw.

use super::json::{addresses, digest, first_at, first_str, pick, str_of};
use super::{openphone_call, DecodeError};
use crate::envelope::EventMeta;
use crate::event::{
    rfc3339, AccountEvent, Contact, ContactChange, DeliveryState, Direction, DomainEvent,
    EventBody, Message, StatusUpdate,
};
use crate::pick::{Path, Step::Key};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Where a body may name its line, in the order the decoder reads them
/// (legacy resource, 2026-03-30 resource, its context, `data` itself). The
/// gateway checks the signature against every configured line named at any
/// of them, so this one list is what both read.
pub const LINE_PATHS: [Path; 4] = [
    &[Key("data"), Key("object"), Key("phoneNumberId")],
    &[Key("data"), Key("resource"), Key("phoneNumberId")],
    &[Key("data"), Key("context"), Key("phoneNumberId")],
    &[Key("data"), Key("phoneNumberId")],
];

/// One event's envelope facts and its resource, whatever the generation.
pub(crate) struct Parts<'a> {
    /// The event type (`message.received`, ...).
    pub kind: &'a str,
    /// The event id (`EV…`), when present.
    pub event_id: Option<String>,
    /// When the event happened (`createdAt`), else the gateway's receive time.
    pub occurred_at: DateTime<Utc>,
    /// `data.object` (legacy) or `data.resource` (2026-03-30).
    pub resource: &'a Value,
    /// `data.context` (2026-03-30 only; `null` for legacy).
    pub context: &'a Value,
    /// The whole `data`.
    pub data: &'a Value,
}

impl Parts<'_> {
    /// A string field of the resource, else of the context.
    pub fn field(&self, keys: &[&str]) -> Option<String> {
        first_str(self.resource, keys).or_else(|| first_str(self.context, keys))
    }

    /// The sender.
    pub fn from(&self) -> Option<String> {
        str_of(self.resource, "from").or_else(|| str_of(self.context, "senderIdentifier"))
    }

    /// Every recipient, in order.
    pub fn recipients(&self) -> Vec<String> {
        let mut to = addresses(self.resource.get("to"));
        if to.is_empty() {
            to = addresses(self.context.get("recipientIdentifiers"));
        }
        to
    }

    /// `incoming`/`outgoing` as a direction.
    pub fn direction(&self) -> Option<Direction> {
        match self.field(&["direction"]).as_deref() {
            Some("incoming" | "inbound") => Some(Direction::Inbound),
            Some("outgoing" | "outbound") => Some(Direction::Outbound),
            _ => None,
        }
    }

    /// A timestamp field of the resource.
    pub fn time(&self, key: &str) -> Option<DateTime<Utc>> {
        self.resource.get(key).and_then(rfc3339)
    }
}

/// Decodes one webhook body.
pub fn decode(meta: &EventMeta, body: &[u8]) -> Result<Vec<DomainEvent>, DecodeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(Provider::OpenPhone, e))?;
    let kind = root
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::malformed(Provider::OpenPhone, "event without a type"))?;
    let data = root.get("data").unwrap_or(&Value::Null);
    let resource = data
        .get("object")
        .or_else(|| data.get("resource"))
        .unwrap_or(data);
    let parts = Parts {
        kind,
        event_id: str_of(&root, "id"),
        occurred_at: root
            .get("createdAt")
            .and_then(rfc3339)
            .unwrap_or(meta.received_at),
        resource,
        context: data.get("context").unwrap_or(&Value::Null),
        data,
    };
    let line_id = first_at(&root, &LINE_PATHS).or_else(|| meta.line.clone());
    let bodies = match kind {
        "message.received" => vec![EventBody::Message(message(
            &parts,
            Direction::Inbound,
            None,
        )?)],
        "message.delivered" => outbound_with_status(&parts, DeliveryState::Delivered)?,
        "message.failed" | "message.undelivered" => {
            outbound_with_status(&parts, DeliveryState::Failed)?
        }
        "contact.updated" | "contact.deleted" => vec![contact_change(&parts)?],
        k if openphone_call::is_call_event(k) => vec![openphone_call::decode(&parts)?],
        _ => vec![account_event(&parts)],
    };
    Ok(bodies
        .into_iter()
        .map(|body| DomainEvent {
            provider: Provider::OpenPhone,
            line_id: line_id.clone(),
            body,
        })
        .collect())
}

fn message(
    parts: &Parts<'_>,
    direction: Direction,
    status: Option<DeliveryState>,
) -> Result<Message, DecodeError> {
    let id = str_of(parts.resource, "id").ok_or_else(|| {
        DecodeError::malformed(
            Provider::OpenPhone,
            format!("{} without a message id", parts.kind),
        )
    })?;
    let from = parts.from();
    let recipients = parts.recipients();
    let to = recipients.first().cloned();
    let text = first_str(parts.resource, &["body", "text"]);
    let media = parts
        .resource
        .get("media")
        .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
        .cloned();
    // The customer is the sender of an inbound message, the recipient of an outbound one.
    let customer = match direction {
        Direction::Inbound => from.clone(),
        Direction::Outbound => to.clone(),
    };
    let mut content = json!({ "text": text, "recipients": recipients });
    if let (Some(media), Value::Object(c)) = (&media, &mut content) {
        c.insert("media".into(), media.clone());
    }
    Ok(Message {
        provider_message_id: id,
        direction,
        from_address: from,
        to_address: to,
        contact: customer.map(|address| Contact {
            address,
            name: None,
            user_id: None,
        }),
        kind: if media.is_some() { "mms" } else { "text" }.to_owned(),
        body: text,
        content,
        context: pick(
            parts.resource,
            &["conversationId", "userId", "contactIds", "phoneNumberId"],
        ),
        status,
        // The 2026-03-30 resource may carry no time: the event's is the best left.
        sent_at: parts.time("createdAt").or(Some(parts.occurred_at)),
        raw: parts.resource.clone(),
    })
}

/// The outbound message followed by its status update (see the module docs).
fn outbound_with_status(
    parts: &Parts<'_>,
    state: DeliveryState,
) -> Result<Vec<EventBody>, DecodeError> {
    let msg = message(parts, Direction::Outbound, Some(state))?;
    let errors = pick(
        parts.resource,
        &["error", "errors", "errorCode", "errorMessage", "reason"],
    );
    let status = StatusUpdate {
        provider_message_id: msg.provider_message_id.clone(),
        state,
        occurred_at: parts.occurred_at,
        recipient: msg.to_address.clone(),
        errors,
        billing: None,
        raw: parts.resource.clone(),
    };
    Ok(vec![EventBody::Message(msg), EventBody::Status(status)])
}

fn contact_change(parts: &Parts<'_>) -> Result<EventBody, DecodeError> {
    let id = str_of(parts.resource, "id").ok_or_else(|| {
        DecodeError::malformed(
            Provider::OpenPhone,
            format!("{} without a contact id", parts.kind),
        )
    })?;
    Ok(EventBody::Contact(ContactChange {
        provider_contact_id: id,
        action: parts
            .kind
            .strip_prefix("contact.")
            .unwrap_or(parts.kind)
            .to_owned(),
        occurred_at: parts.occurred_at,
        data: parts.resource.clone(),
    }))
}

fn account_event(parts: &Parts<'_>) -> EventBody {
    let key = parts
        .event_id
        .clone()
        .unwrap_or_else(|| digest(&[parts.kind, &parts.data.to_string()]));
    EventBody::Account(AccountEvent {
        field: parts.kind.to_owned(),
        event: None,
        event_key: key,
        occurred_at: parts.occurred_at,
        data: parts.data.clone(),
    })
}
