//! Publishes stored events downstream as [`PublishedEvent`] JSON on the
//! `inlet.domain` topic exchange, routing key = event type (one message per
//! event, or per event type and batch when packed), and a batch's events
//! together, as one message (a few, when large), to the forwarding
//! deliveries queue.
//!
//! Called by the consumer after the commit and before the ack: if a publish
//! fails the delivery is requeued, storage absorbs the redelivery and the
//! events are published again under the same ids (at least once).

use crate::config::DomainEvents;
use futures::future::{join_all, try_join_all};
use inlet_domain::broker::PublishError;
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{DomainEvent, PublishedEvent};
use inlet_domain::pack::H_EVENTS;
use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use std::borrow::Cow;
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

/// Events as one message: a JSON array, the same bytes as serialising their
/// [`PublishedEvent`]s as a list.
pub fn json_list<'a>(events: impl IntoIterator<Item = &'a Outgoing> + Clone) -> Vec<u8> {
    let len = events
        .clone()
        .into_iter()
        .map(|e| e.body.len() + 1)
        .sum::<usize>()
        + 1;
    let mut body = Vec::with_capacity(len);
    body.push(b'[');
    for (i, event) in events.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.body);
    }
    body.push(b']');
    body
}

/// Most bytes in one list message (forwarding, packed domain events). RabbitMQ
/// closes the channel of a publish larger than its `max_message_size` (16 MiB
/// by default since 4.0), which would requeue the batch again and again; a
/// batch of large webhooks can hold far more. An event larger than this
/// still goes, alone.
pub const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;

/// Splits events, in their order, into runs whose [`json_list`] stays within
/// `max` bytes (an event too large for any run gets one of its own).
pub fn runs<'a>(
    events: impl IntoIterator<Item = &'a Outgoing>,
    max: usize,
) -> Vec<Vec<&'a Outgoing>> {
    let mut runs: Vec<Vec<&Outgoing>> = Vec::new();
    // A list is `[`, then each event followed by `,` or the closing `]`.
    let mut bytes = 0;
    for event in events {
        let size = event.body.len() + 1;
        match runs.last_mut() {
            Some(run) if bytes + size <= max => {
                run.push(event);
                bytes += size;
            }
            _ => {
                runs.push(vec![event]);
                bytes = 1 + size;
            }
        }
    }
    runs
}

/// A batch's events grouped by type, each group in the batch's order, the
/// groups in the order their first event came.
pub fn by_type(events: &[Outgoing]) -> Vec<(&str, Vec<&Outgoing>)> {
    let mut groups: Vec<(&str, Vec<&Outgoing>)> = Vec::new();
    for event in events {
        // A batch holds a handful of types at most: a scan beats a map.
        match groups.iter_mut().find(|(t, _)| *t == event.event_type) {
            Some((_, group)) => group.push(event),
            None => groups.push((&event.event_type, vec![event])),
        }
    }
    groups
}

/// A domain message ready to publish: its routing key, body and properties.
struct DomainMessage<'a> {
    routing_key: &'a str,
    body: Cow<'a, [u8]>,
    properties: BasicProperties,
}

/// What goes to the domain exchange for a batch under `mode`.
fn domain_messages<'a>(
    mode: DomainEvents,
    events: &'a [Outgoing],
    persistent_json: &BasicProperties,
) -> Vec<DomainMessage<'a>> {
    match mode {
        DomainEvents::Off => Vec::new(),
        DomainEvents::Each => events
            .iter()
            .map(|event| DomainMessage {
                routing_key: &event.event_type,
                body: Cow::Borrowed(&event.body),
                properties: persistent_json
                    .clone()
                    .with_message_id(event.id.as_str().into())
                    .with_correlation_id(event.correlation_id.as_str().into())
                    .with_type(event.event_type.as_str().into()),
            })
            .collect(),
        // No message id: a requeued batch may be stored again with other
        // events beside it, so a pack is not the same message twice.
        // Consumers deduplicate on each event's `id`, as they do unpacked.
        DomainEvents::Packed => by_type(events)
            .into_iter()
            .flat_map(|(event_type, group)| {
                runs(group, MAX_LIST_BYTES)
                    .into_iter()
                    .map(move |run| (event_type, run))
            })
            .map(|(event_type, run)| {
                let mut headers = FieldTable::default();
                let count = u32::try_from(run.len()).unwrap_or(u32::MAX);
                headers.insert(H_EVENTS.into(), AMQPValue::LongUInt(count));
                DomainMessage {
                    routing_key: event_type,
                    body: Cow::Owned(json_list(run.iter().copied())),
                    properties: persistent_json
                        .clone()
                        .with_type(event_type.into())
                        .with_headers(headers),
                }
            })
            .collect(),
    }
}

/// Publishes the batch's events on the domain exchange `exchange` as `mode`
/// says, and the batch as one message to the forwarding queue (more, when it
/// is larger than [`MAX_LIST_BYTES`]), then waits
/// for all the confirms at once (one confirm wait per batch, not one per
/// event).
///
/// Neither is mandatory: nobody may be bound to a routing key, and when
/// forwarding was never set up its queue does not exist; an unrouted event
/// is not a failure.
pub async fn announce(
    channel: &Channel,
    exchange: &str,
    mode: DomainEvents,
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
        let forwarding: Vec<Vec<u8>> = runs(events, MAX_LIST_BYTES)
            .into_iter()
            .map(|run| json_list(run.iter().copied()))
            .collect();
        let mut domain = domain_messages(mode, events, &persistent_json);
        // Started together: each publish resolves only once lapin's I/O loop
        // has written it, so awaiting them one by one would cost a hand-off
        // to that thread per event, and mostly a socket write each.
        let to_forwarding = forwarding.iter().map(|list| {
            channel.basic_publish(
                "",
                forwarding_queue,
                BasicPublishOptions::default(),
                list,
                persistent_json.clone(),
            )
        });
        // Each message's properties move into its publish (the body stays
        // here, borrowed until the publish is written): no copy per event.
        let to_domain = domain.iter_mut().map(|message| {
            let DomainMessage {
                routing_key,
                body,
                properties,
            } = message;
            channel.basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions::default(),
                body,
                std::mem::take(properties),
            )
        });
        let confirms = try_join_all(to_forwarding.chain(to_domain)).await?;
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
    use super::{by_type, json_list, published, runs, Outgoing};
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
            json_list(&outgoing),
            serde_json::to_vec(&as_list).expect("serialises")
        );
        assert_eq!(outgoing[1].id, as_list[1].id);
        assert_eq!(outgoing[1].correlation_id, "c");
        assert_eq!(outgoing[1].event_type, "message.received");
    }

    #[test]
    fn large_batches_split_into_lists_within_the_limit_in_their_order() {
        let meta = meta();
        let events: Vec<Outgoing> = (0..10)
            .map(|i| {
                let body = "x".repeat(if i == 4 { 3_000 } else { 200 });
                Outgoing::encode(&meta, &text(&format!("wamid.{i}"), &body)).expect("encodes")
            })
            .collect();
        let max = 1_500;
        let split = runs(&events, max);
        // Every event, once, in order; every list within the limit but the
        // one event larger than it, which travels alone.
        let ids: Vec<&str> = split.iter().flatten().map(|e| e.id.as_str()).collect();
        let want: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, want);
        for run in &split {
            let list = json_list(run.iter().copied());
            let parsed: Vec<serde_json::Value> =
                serde_json::from_slice(&list).expect("a JSON list");
            assert_eq!(parsed.len(), run.len());
            assert!(list.len() <= max || run.len() == 1, "{} bytes", list.len());
        }
        assert!(split
            .iter()
            .any(|r| r.len() == 1 && r[0].id == events[4].id));
        assert!(split.len() > 2, "{} lists", split.len());
        // Under the limit, one list.
        assert_eq!(runs(&events, usize::MAX).len(), 1);
        // A list exactly at the limit is kept whole.
        let exact = json_list(&events[..2]).len();
        assert_eq!(runs(&events[..2], exact).len(), 1);
        assert_eq!(runs(&events[..2], exact - 1).len(), 2);
    }

    #[test]
    fn a_batch_packs_by_type_in_the_order_its_events_came() {
        let meta = meta();
        let mut reaction = text("wamid.r", "ignored");
        reaction.body = EventBody::Reaction(inlet_domain::event::Reaction {
            provider_event_id: "wamid.r".into(),
            target_message_id: "wamid.1".into(),
            from_address: "1".into(),
            emoji: Some("👍".into()),
            occurred_at: DateTime::<Utc>::from_timestamp(0, 0).expect("valid"),
            raw: json!({}),
        });
        let events = [
            text("wamid.1", "a"),
            reaction,
            text("wamid.2", "b"),
            text("wamid.3", "c"),
        ];
        let outgoing: Vec<Outgoing> = events
            .iter()
            .map(|e| Outgoing::encode(&meta, e).expect("encodes"))
            .collect();
        let groups = by_type(&outgoing);
        let shape: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|(t, g)| (*t, g.iter().map(|e| e.id.as_str()).collect()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    "message.received",
                    vec![
                        outgoing[0].id.as_str(),
                        outgoing[2].id.as_str(),
                        outgoing[3].id.as_str()
                    ]
                ),
                ("reaction", vec![outgoing[1].id.as_str()]),
            ]
        );
        let texts: Vec<PublishedEvent> =
            serde_json::from_slice(&json_list(groups[0].1.iter().copied())).expect("a list");
        let bodies: Vec<_> = texts
            .iter()
            .map(|e| match &e.data.body {
                EventBody::Message(m) => m.body.clone(),
                other => panic!("not a message: {other:?}"),
            })
            .collect();
        assert_eq!(
            bodies,
            [Some("a".into()), Some("b".into()), Some("c".into())]
        );
    }
}
