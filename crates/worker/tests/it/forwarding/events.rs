//! Domain events as the worker publishes them on `inlet.domain`.

use chrono::Utc;
use inlet_domain::event::{
    DeliveryState, Direction, DomainEvent, EventBody, Message, PublishedEvent, StatusUpdate,
};
use inlet_domain::Provider;
use serde_json::json;

/// The line every test event arrives on.
pub const LINE: &str = "106540352242922";

fn published(id: &str, data: DomainEvent) -> PublishedEvent {
    PublishedEvent {
        id: id.to_owned(),
        event_type: data.event_type().to_owned(),
        provider: Provider::Meta,
        line_id: data.line_id.clone(),
        received_at: Utc::now(),
        correlation_id: format!("corr-{id}"),
        data,
    }
}

/// An inbound text message (`message.received`).
pub fn message_received(id: &str) -> PublishedEvent {
    published(
        id,
        DomainEvent {
            provider: Provider::Meta,
            line_id: Some(LINE.into()),
            body: EventBody::Message(Message {
                provider_message_id: format!("wamid.{id}"),
                direction: Direction::Inbound,
                from_address: Some("16505551234".into()),
                to_address: Some("15550783881".into()),
                contact: None,
                kind: "text".into(),
                body: Some("hello".into()),
                content: json!({"text": "hello"}),
                context: None,
                status: None,
                sent_at: None,
                raw: json!({}),
            }),
        },
    )
}

/// A delivery-status change (`message.status`).
pub fn message_status(id: &str) -> PublishedEvent {
    published(
        id,
        DomainEvent {
            provider: Provider::Meta,
            line_id: Some(LINE.into()),
            body: EventBody::Status(StatusUpdate {
                provider_message_id: format!("wamid.{id}"),
                state: DeliveryState::Delivered,
                occurred_at: Utc::now(),
                recipient: Some("16505551234".into()),
                errors: None,
                billing: None,
                raw: json!({}),
            }),
        },
    )
}
