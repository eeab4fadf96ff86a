//! Publishes stored events downstream as [`PublishedEvent`] JSON on the
//! `inlet.domain` topic exchange, routing key = event type, and a batch's
//! events together, as one message, to the forwarding deliveries queue.
//!
//! Called by the consumer after the commit and before the ack: if a publish
//! fails the delivery is requeued, storage absorbs the redelivery and the
//! events are published again under the same ids (at least once).

use futures::future::join_all;
use inlet_domain::broker::{publish_confirmed, PublishError};
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{DomainEvent, PublishedEvent};
use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel};
use std::time::Duration;

/// Wraps a stored event with its id and the raw event's facts.
pub fn published(meta: &EventMeta, event: &DomainEvent) -> PublishedEvent {
    PublishedEvent {
        id: event.stable_id(),
        event_type: event.event_type().to_owned(),
        provider: event.provider,
        line_id: event.line_id.clone(),
        received_at: meta.received_at,
        correlation_id: meta.correlation_id.clone(),
        data: event.clone(),
    }
}

/// Publishes every event and waits for all the confirms (publishing them all
/// first, so a batch of 1000 costs one confirm wait, not 1000).
///
/// Not mandatory: nobody may be bound to a routing key, and an unrouted domain
/// event is not a failure.
pub async fn domain_events(
    channel: &Channel,
    exchange: &str,
    events: &[PublishedEvent],
    timeout: Duration,
) -> Result<(), PublishError> {
    if events.is_empty() {
        return Ok(());
    }
    let publish_all = async {
        let mut confirms = Vec::with_capacity(events.len());
        for message in events {
            let body = serde_json::to_vec(message).map_err(|_| PublishError::Nacked)?;
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(message.id.as_str().into())
                .with_correlation_id(message.correlation_id.as_str().into())
                .with_type(message.event_type.as_str().into());
            let confirm = channel
                .basic_publish(
                    exchange,
                    &message.event_type,
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await?;
            confirms.push(confirm);
        }
        for confirmation in join_all(confirms).await {
            match confirmation? {
                Confirmation::Ack(_) => {}
                Confirmation::Nack(_) | Confirmation::NotRequested => {
                    return Err(PublishError::Nacked)
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(timeout, publish_all)
        .await
        .map_err(|_| PublishError::Timeout)?
}

/// Sends the domain events of a batch of raw events to the forwarding
/// deliveries queue as one persistent message (a JSON array), and waits for
/// the confirm.
///
/// Not mandatory: when forwarding was never set up the queue does not exist,
/// and there is nothing to forward to.
pub async fn for_forwarding(
    channel: &Channel,
    queue: &str,
    events: &[&PublishedEvent],
    timeout: Duration,
) -> Result<(), PublishError> {
    if events.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(events).map_err(|_| PublishError::Nacked)?;
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    publish_confirmed(channel, "", queue, &body, properties, false, timeout).await
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use inlet_domain::event::{DomainEvent, EventBody};
    use inlet_domain::Provider;
    use serde_json::json;

    #[test]
    fn a_published_message_reads_back_as_it_was_written() {
        use super::published;
        use inlet_domain::event::{Direction, Message};
        let event = DomainEvent {
            provider: Provider::Meta,
            line_id: Some("L1".into()),
            body: EventBody::Message(Message {
                provider_message_id: "wamid.1".into(),
                direction: Direction::Inbound,
                from_address: Some("1".into()),
                to_address: None,
                contact: None,
                kind: "text".into(),
                body: Some("hi".into()),
                content: json!({"body": "hi"}),
                context: None,
                status: None,
                sent_at: None,
                raw: json!({}),
            }),
        };
        let meta = inlet_domain::envelope::EventMeta {
            provider: Provider::Meta,
            line: None,
            line_unknown: false,
            source: None,
            received_at: DateTime::<Utc>::from_timestamp(0, 0).expect("valid"),
            dedup_key: "d".into(),
            correlation_id: "c".into(),
            attempt: 1,
        };
        let message = published(&meta, &event);
        let json = serde_json::to_vec(&message).expect("serialises");
        let back: inlet_domain::event::PublishedEvent =
            serde_json::from_slice(&json).expect("deserialises");
        assert_eq!(back, message);
    }
}
