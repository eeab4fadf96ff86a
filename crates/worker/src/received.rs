//! What the consumer hands its handlers: one raw event, and how to settle
//! the broker message it came in.
//!
//! A plain message is one event. A pack ([`inlet_domain::pack`]) becomes one
//! event per webhook in it, each with the headers a plain message of its own
//! would carry, so every later step (decode, store, retry, dead-letter) is
//! the same for both. The pack's message is acked once all its events are
//! settled (stored, retry scheduled or dead-lettered); if any of them had to
//! be requeued, the whole message is requeued instead, and storage absorbs
//! the events that were already stored when it comes back.

use inlet_domain::broker::persistent_properties;
use inlet_domain::pack::{self, PackError};
use lapin::message::Delivery;
use lapin::types::DeliveryTag;
use lapin::BasicProperties;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One raw event, as a plain message of its own would carry it.
pub(crate) struct Received {
    /// The provider's raw body.
    pub(crate) data: Vec<u8>,
    /// Its properties and `x-inlet-*` headers.
    pub(crate) properties: BasicProperties,
    /// Why the message could not be unpacked (it is then dead-lettered whole).
    pub(crate) broken: Option<PackError>,
    tag: DeliveryTag,
    pack: Option<Arc<PackState>>,
}

/// The events of one pack not yet settled.
struct PackState {
    remaining: AtomicUsize,
    requeue: AtomicBool,
}

/// What settling an event asks of the broker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Ack this delivery tag.
    Ack(DeliveryTag),
    /// Requeue this delivery tag.
    Requeue(DeliveryTag),
    /// Nothing yet: other events of the same pack are unsettled.
    Pending,
}

impl Received {
    /// The events of one delivery: itself, or the contents of its pack.
    pub(crate) fn unpack(delivery: Delivery) -> Vec<Received> {
        Received::from_message(delivery.delivery_tag, delivery.data, delivery.properties)
    }

    fn from_message(tag: DeliveryTag, data: Vec<u8>, properties: BasicProperties) -> Vec<Received> {
        let whole = |data, properties, broken| Received {
            tag,
            data,
            properties,
            broken,
            pack: None,
        };
        if !pack::is_pack(&properties) {
            return vec![whole(data, properties, None)];
        }
        let events = match pack::decode(&data) {
            Ok(events) => events,
            Err(error) => return vec![whole(data, properties, Some(error))],
        };
        let state = Arc::new(PackState {
            remaining: AtomicUsize::new(events.len()),
            requeue: AtomicBool::new(false),
        });
        events
            .into_iter()
            .map(|event| Received {
                data: event.body.to_vec(),
                properties: persistent_properties(&event.meta),
                broken: None,
                tag,
                pack: Some(state.clone()),
            })
            .collect()
    }

    /// This event is done with (stored, retried elsewhere or dead-lettered).
    pub(crate) fn settle(&self) -> Settlement {
        self.finish(false)
    }

    /// This event must come back: its message is requeued once its pack
    /// (if any) is settled.
    pub(crate) fn unsettle(&self) -> Settlement {
        self.finish(true)
    }

    fn finish(&self, requeue: bool) -> Settlement {
        let requeue = match &self.pack {
            None => requeue,
            Some(pack) => {
                if requeue {
                    pack.requeue.store(true, Ordering::SeqCst);
                }
                if pack.remaining.fetch_sub(1, Ordering::SeqCst) != 1 {
                    return Settlement::Pending;
                }
                pack.requeue.load(Ordering::SeqCst)
            }
        };
        if requeue {
            Settlement::Requeue(self.tag)
        } else {
            Settlement::Ack(self.tag)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_domain::envelope::EventMeta;
    use inlet_domain::Provider;

    fn message(tag: DeliveryTag, data: Vec<u8>, properties: BasicProperties) -> Vec<Received> {
        Received::from_message(tag, data, properties)
    }

    fn meta(n: u32) -> EventMeta {
        EventMeta {
            provider: Provider::Meta,
            line: None,
            line_unknown: false,
            source: None,
            received_at: chrono::DateTime::from_timestamp_millis(1_767_225_600_000).expect("valid"),
            dedup_key: format!("meta:{n}"),
            correlation_id: format!("c-{n}"),
            attempt: 1,
        }
    }

    fn packed(tag: DeliveryTag, n: u32) -> Vec<Received> {
        let metas: Vec<EventMeta> = (0..n).map(meta).collect();
        let bodies: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("{{\"i\":{i}}}").into_bytes())
            .collect();
        let body = pack::encode(metas.iter().zip(bodies.iter().map(Vec::as_slice)));
        message(tag, body, pack::properties(metas.len(), "c-0"))
    }

    #[test]
    fn a_pack_becomes_events_with_their_own_headers() {
        let events = packed(7, 3);
        assert_eq!(events.len(), 3);
        for (i, event) in events.iter().enumerate() {
            let meta = EventMeta::from_headers(event.properties.headers().as_ref()).expect("meta");
            assert_eq!(meta.correlation_id, format!("c-{i}"));
            assert_eq!(event.data, format!("{{\"i\":{i}}}").into_bytes());
        }
    }

    #[test]
    fn a_pack_is_acked_once_when_its_last_event_settles() {
        let events = packed(7, 3);
        assert_eq!(events[2].settle(), Settlement::Pending);
        assert_eq!(events[0].settle(), Settlement::Pending);
        assert_eq!(events[1].settle(), Settlement::Ack(7));
    }

    #[test]
    fn one_requeued_event_requeues_its_whole_pack() {
        let events = packed(9, 3);
        assert_eq!(events[0].settle(), Settlement::Pending);
        assert_eq!(events[1].unsettle(), Settlement::Pending);
        assert_eq!(events[2].settle(), Settlement::Requeue(9));
    }

    #[test]
    fn a_plain_message_settles_at_once() {
        let props = persistent_properties(&meta(1));
        let events = message(3, b"{}".to_vec(), props);
        assert_eq!(events.len(), 1);
        assert!(events[0].broken.is_none());
        assert_eq!(events[0].settle(), Settlement::Ack(3));
        let events = message(4, b"{}".to_vec(), persistent_properties(&meta(1)));
        assert_eq!(events[0].unsettle(), Settlement::Requeue(4));
    }

    #[test]
    fn a_damaged_pack_stays_whole_and_says_why() {
        let events = message(5, vec![0, 0, 0, 2, 0], pack::properties(2, "c"));
        assert_eq!(events.len(), 1);
        assert!(events[0].broken.is_some());
        assert_eq!(events[0].data, vec![0, 0, 0, 2, 0]);
        assert_eq!(events[0].settle(), Settlement::Ack(5));
    }
}
