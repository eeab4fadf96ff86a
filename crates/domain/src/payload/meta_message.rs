//! One Meta inbound message (`value.messages[]`), of any type, as an event.
//!
//! The object named after the message's `type` becomes its structured content
//! (the message's `errors` are added to it), so types Meta adds later are kept
//! whole. Reactions are the one type with their own event.

use super::json::{first_str, str_at, str_of};
use super::DecodeError;
use crate::event::{unix_seconds, Contact, Direction, EventBody, Message, Reaction};
use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// What a message needs from the change that carries it.
pub(crate) struct MessageCtx<'a> {
    /// `value.contacts[]`: the senders' profiles.
    pub contacts: &'a [Value],
    /// The line's display number (the inbound message's recipient).
    pub line_number: Option<&'a str>,
    /// When no timestamp is given (the gateway's receive time, stable on redelivery).
    pub fallback_time: DateTime<Utc>,
}

/// Decodes one message object.
pub(crate) fn decode(msg: Value, ctx: &MessageCtx<'_>) -> Result<EventBody, DecodeError> {
    let id = str_of(&msg, "id")
        .ok_or_else(|| DecodeError::malformed(Provider::Meta, "message without an id"))?;
    // A sender with a username may be known only by a business-scoped user id.
    let user_id = str_of(&msg, "from_user_id");
    let from = str_of(&msg, "from").or_else(|| user_id.clone());
    let kind = str_of(&msg, "type").unwrap_or_else(|| "unknown".to_owned());
    let sent_at = msg.get("timestamp").and_then(unix_seconds);

    if kind == "reaction" {
        if let Some(target) = str_at(&msg, "/reaction/message_id") {
            return Ok(EventBody::Reaction(Reaction {
                provider_event_id: id,
                target_message_id: target,
                from_address: from.unwrap_or_default(),
                // Absent (or empty) when the user removed the reaction.
                emoji: str_at(&msg, "/reaction/emoji"),
                occurred_at: sent_at.unwrap_or(ctx.fallback_time),
                raw: msg,
            }));
        }
        // A reaction naming no message cannot be applied; keep it as a message.
    }

    let contact = from.as_ref().map(|address| {
        let known = ctx.contacts.iter().find(|c| {
            str_of(c, "wa_id").as_ref() == Some(address)
                || str_of(c, "user_id")
                    .is_some_and(|u| Some(&u) == user_id.as_ref() || &u == address)
        });
        Contact {
            address: address.clone(),
            name: known.and_then(|c| str_at(c, "/profile/name")),
            user_id: user_id
                .clone()
                .or_else(|| known.and_then(|c| str_of(c, "user_id"))),
        }
    });
    let content = content_of(&msg, &kind);
    Ok(EventBody::Message(Message {
        provider_message_id: id,
        direction: Direction::Inbound,
        from_address: from,
        to_address: ctx.line_number.map(str::to_owned),
        contact,
        body: body_of(&kind, &content),
        kind,
        content,
        context: super::json::pick(&msg, &["context", "referral", "group_id"]),
        status: None,
        sent_at,
        raw: msg,
    }))
}

/// The type's object (an object, or the `contacts` array wrapped as
/// `{cards: [...]}`), with the message's `errors` and, for Flow replies, the
/// parsed `response_json`.
fn content_of(msg: &Value, kind: &str) -> Value {
    let mut content = match msg.get(kind) {
        Some(Value::Object(o)) => o.clone(),
        Some(Value::Array(cards)) => {
            let mut o = Map::new();
            o.insert("cards".into(), Value::Array(cards.clone()));
            o
        }
        Some(other) if !other.is_null() => {
            let mut o = Map::new();
            o.insert("value".into(), other.clone());
            o
        }
        _ => Map::new(),
    };
    if let Some(errors) = msg.get("errors") {
        content.insert("errors".into(), errors.clone());
    }
    // `response_json` is JSON inside a JSON string: parse it once here so
    // consumers get the form's answers as data.
    if let Some(Value::Object(nfm)) = content.get_mut("nfm_reply") {
        let parsed = nfm
            .get("response_json")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        if let Some(parsed) = parsed {
            nfm.insert("response".into(), parsed);
        }
    }
    Value::Object(content)
}

/// The human-readable text of a message, whatever its kind.
pub(crate) fn body_of(kind: &str, content: &Value) -> Option<String> {
    match kind {
        "text" => str_of(content, "body"),
        "image" | "video" | "audio" | "sticker" => str_of(content, "caption"),
        "document" => first_str(content, &["caption", "filename"]),
        "location" => first_str(content, &["name", "address"]),
        "contacts" => {
            let names: Vec<String> = content
                .get("cards")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|card| str_at(card, "/name/formatted_name"))
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        "interactive" => match content.get("type").and_then(Value::as_str) {
            Some("button_reply") => str_at(content, "/button_reply/title"),
            Some("list_reply") => str_at(content, "/list_reply/title"),
            Some("nfm_reply") => str_at(content, "/nfm_reply/body"),
            Some("call_permission_reply") => str_at(content, "/call_permission_reply/response"),
            _ => None,
        },
        "button" => str_of(content, "text"),
        "order" => str_of(content, "text"),
        "system" => str_of(content, "body"),
        "reaction" => str_of(content, "emoji"),
        // unsupported, unknown, request_welcome and types Meta adds later.
        _ => str_at(content, "/errors/0/title")
            .or_else(|| first_str(content, &["body", "text", "caption"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_without_a_caption_reads_as_its_filename() {
        let content = json!({"filename": "invoice.pdf", "id": "1"});
        assert_eq!(
            body_of("document", &content).as_deref(),
            Some("invoice.pdf")
        );
    }

    #[test]
    fn a_flow_reply_keeps_its_response_json_parsed() {
        let msg = json!({"interactive": {"type": "nfm_reply", "nfm_reply":
            {"name": "flow", "body": "Sent", "response_json": "{\"a\":1}"}}});
        let content = content_of(&msg, "interactive");
        assert_eq!(content.pointer("/nfm_reply/response/a"), Some(&json!(1)));
    }
}
