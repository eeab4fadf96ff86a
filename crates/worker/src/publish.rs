//! Publishes stored events downstream as [`PublishedEvent`] JSON on the
//! `inlet.domain` topic exchange, routing key = event type, and a batch's
//! events together, as one message, to the forwarding deliveries queue.
//!
//! Called by the consumer after the commit and before the ack: if a publish
//! fails the delivery is requeued, storage absorbs the redelivery and the
//! events are published again under the same ids (at least once).

use futures::future::{join_all, try_join_all};
use inlet_domain::broker::PublishError;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{DomainEvent, PublishedEvent};
use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel};
use std::time::Duration;

/// Wraps a stored event with its id and the raw event's facts.
pub fn published<'a>(meta: &EventMeta, event: &'a DomainEvent) -> PublishedEvent<&'a DomainEvent> {
    PublishedEvent {
        id: event.stable_id(),
        event_type: event.event_type().to_owned(),
        provider: event.provider,
        line_id: event.line_id.clone(),
        received_at: meta.received_at,
        correlation_id: meta.correlation_id.clone(),
        data: event,
    }
}

/// A domain event encoded once, for both places it goes.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The event's stable id (the message id).
    pub id: String,
    /// Its type (the routing key).
    pub event_type: String,
    /// The raw event's correlation id.
    pub correlation_id: String,
    /// The [`PublishedEvent`] as JSON.
    pub body: Vec<u8>,
}

impl Outgoing {
    /// Encodes a stored event as it is published.
    pub fn encode(meta: &EventMeta, event: &DomainEvent) -> Result<Self, PublishError> {
        let message = published(meta, event);
        let body = serde_json::to_vec(&message).map_err(|_| PublishError::Nacked)?;
        Ok(Outgoing {
            id: message.id,
            event_type: message.event_type,
            correlation_id: message.correlation_id,
            body,
        })
    }
}

/// The events of a batch as one forwarding message: a JSON array, the same
/// bytes as serialising the [`PublishedEvent`]s as a list.
pub fn forwarding_body(events: &[Outgoing]) -> Vec<u8> {
    let len = events.iter().map(|e| e.body.len() + 1).sum::<usize>() + 1;
    let mut body = Vec::with_capacity(len);
    body.push(b'[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.body);
    }
    body.push(b']');
    body
}

/// Publishes every event on the domain exchange (unless there is none:
/// `INLET_DOMAIN_EVENTS=false`) and the batch as one message to the
/// forwarding queue, then waits for all the confirms at once (one confirm
/// wait per batch, not one per event).
///
/// Neither is mandatory: nobody may be bound to a routing key, and when
/// forwarding was never set up its queue does not exist; an unrouted event
/// is not a failure.
pub async fn announce(
    channel: &Channel,
    exchange: Option<&str>,
    forwarding_queue: &str,
    events: &[Outgoing],
    timeout: Duration,
) -> Result<(), PublishError> {
    if events.is_empty() {
        return Ok(());
    }
    let publish_all = async {
        let persistent_json = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        let forwarding = forwarding_body(events);
        // Started together: each publish resolves only once lapin's I/O loop
        // has written it, so awaiting them one by one would cost a hand-off
        // to that thread per event, and mostly a socket write each.
        let to_forwarding = channel.basic_publish(
            "",
            forwarding_queue,
            BasicPublishOptions::default(),
            &forwarding,
            persistent_json.clone(),
        );
        let properties = &persistent_json;
        let to_domain = exchange.into_iter().flat_map(|exchange| {
            events.iter().map(move |event| {
                let properties = properties
                    .clone()
                    .with_message_id(event.id.as_str().into())
                    .with_correlation_id(event.correlation_id.as_str().into())
                    .with_type(event.event_type.as_str().into());
                channel.basic_publish(
                    exchange,
                    &event.event_type,
                    BasicPublishOptions::default(),
                    &event.body,
                    properties,
                )
            })
        });
        let confirms = try_join_all(std::iter::once(to_forwarding).chain(to_domain)).await?;
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

#[cfg(test)]
mod tests {
    use super::{forwarding_body, published, Outgoing};
    use chrono::{DateTime, Utc};
    use inlet_domain::envelope::EventMeta;
    use inlet_domain::event::{Direction, DomainEvent, EventBody, Message, PublishedEvent};
    use inlet_domain::Provider;
    use serde_json::json;

    fn text(id: &str, body: &str) -> DomainEvent {
        DomainEvent {
            provider: Provider::Meta,
            line_id: Some("L1".into()),
            body: EventBody::Message(Message {
                provider_message_id: id.into(),
                direction: Direction::Inbound,
                from_address: Some("1".into()),
                to_address: None,
                contact: None,
                kind: "text".into(),
                body: Some(body.into()),
                content: json!({ "body": body }),
                context: None,
                status: None,
                sent_at: None,
                raw: json!({}),
            }),
        }
    }

    fn meta() -> EventMeta {
        EventMeta {
            provider: Provider::Meta,
            line: None,
            line_unknown: false,
            source: None,
            received_at: DateTime::<Utc>::from_timestamp(0, 0).expect("valid"),
            dedup_key: "d".into(),
            correlation_id: "c".into(),
            attempt: 1,
        }
    }

    #[test]
    fn a_published_message_reads_back_as_it_was_written() {
        let event = text("wamid.1", "hi");
        let message = published(&meta(), &event);
        let json = serde_json::to_vec(&message).expect("serialises");
        let back: PublishedEvent = serde_json::from_slice(&json).expect("deserialises");
        assert_eq!(&back.data, message.data);
        assert_eq!(serde_json::to_vec(&back).expect("serialises"), json);
    }

    #[test]
    fn the_forwarding_body_is_the_list_of_the_published_events() {
        let meta = meta();
        let events = [text("wamid.1", "hi"), text("wamid.2", "there \"you\"")];
        let outgoing: Vec<Outgoing> = events
            .iter()
            .map(|e| Outgoing::encode(&meta, e).expect("encodes"))
            .collect();
        let as_list: Vec<PublishedEvent<&DomainEvent>> =
            events.iter().map(|e| published(&meta, e)).collect();
        assert_eq!(
            forwarding_body(&outgoing),
            serde_json::to_vec(&as_list).expect("serialises")
        );
        assert_eq!(outgoing[1].id, as_list[1].id);
        assert_eq!(outgoing[1].correlation_id, "c");
        assert_eq!(outgoing[1].event_type, "message.received");
    }
}
