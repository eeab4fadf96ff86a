//! The RabbitMQ topology, declared in one place by whichever binary starts first.
//!
//! ```text
//! gateway ──► {p}inlet.ingest (direct) ──"event"──► {p}inlet.events (work queue)
//!                    ▲                                   │ worker
//!                    │ dead-letter on TTL expiry         ├─ transient failure ──► {p}inlet.retry (direct)
//!                    └──────── {p}inlet.delay.N ◄────────┘       "delay.N" (per-tier delay queues)
//!                                                        ├─ permanent failure ──► {p}inlet.dead (queue)
//!                                                        └─ stored ──► {p}inlet.domain (topic)
//! ```
//!
//! Every name carries a prefix (empty in production) so that tests can run in
//! parallel on one broker without seeing each other's messages.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Routing key of raw events on the ingest exchange.
pub const EVENT_ROUTING_KEY: &str = "event";
/// Routing key of events on the dead-letter exchange.
pub const DEAD_ROUTING_KEY: &str = "dead";

/// Which RabbitMQ queue type holds the work and dead-letter queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// Replicated Raft queue; on this machine also faster for confirmed publishes.
    #[default]
    Quorum,
    /// Classic durable queue, for brokers without quorum support.
    Classic,
}

/// Names and options of every exchange and queue Inlet uses.
#[derive(Clone, Debug)]
pub struct Topology {
    prefix: String,
    queue_type: QueueType,
    retry_delays: Vec<Duration>,
    delivery_limit: u32,
}

impl Topology {
    /// A topology whose names all start with `prefix` (empty in production).
    ///
    /// `retry_delays` has one entry per retry tier: the wait before attempt
    /// `n + 2` is `retry_delays[n]`. `delivery_limit` caps broker-side
    /// redeliveries of one message (quorum queues only).
    pub fn new(
        prefix: impl Into<String>,
        queue_type: QueueType,
        retry_delays: Vec<Duration>,
        delivery_limit: u32,
    ) -> Self {
        Topology {
            prefix: prefix.into(),
            queue_type,
            retry_delays,
            delivery_limit,
        }
    }

    /// The prefix every name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue type of the durable queues (work, dead letters, deliveries).
    pub fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    /// The `x-queue-type` argument for a durable queue of this topology.
    pub fn durable_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        let kind = match self.queue_type {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        };
        args.insert("x-queue-type".into(), text(kind));
        args
    }

    /// Exchange the gateway publishes raw events to.
    pub fn ingest_exchange(&self) -> String {
        format!("{}inlet.ingest", self.prefix)
    }

    /// Queue the workers consume raw events from.
    pub fn work_queue(&self) -> String {
        format!("{}inlet.events", self.prefix)
    }

    /// Exchange that routes an event to its retry tier.
    pub fn retry_exchange(&self) -> String {
        format!("{}inlet.retry", self.prefix)
    }

    /// The delay queue of retry tier `tier` (0-based).
    ///
    /// Named `delay`, not `retry` as before: the earlier tiers were classic
    /// queues, and a queue cannot be declared again with another type, so
    /// these are new queues with routing keys of their own while the old
    /// ones drain (docs/operations.md, "Upgrading").
    pub fn retry_queue(&self, tier: usize) -> String {
        format!("{}inlet.delay.{tier}", self.prefix)
    }

    /// Routing key of retry tier `tier` on the retry exchange.
    pub fn retry_routing_key(tier: usize) -> String {
        format!("delay.{tier}")
    }

    /// The configured wait of each retry tier.
    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// Exchange for events that will never succeed.
    pub fn dead_exchange(&self) -> String {
        format!("{}inlet.dlx", self.prefix)
    }

    /// Queue holding dead-lettered events for operators.
    pub fn dead_queue(&self) -> String {
        format!("{}inlet.dead", self.prefix)
    }

    /// Topic exchange of normalised domain events.
    pub fn domain_exchange(&self) -> String {
        format!("{}inlet.domain", self.prefix)
    }

    /// Declares every exchange, queue and binding. Idempotent: declaring the
    /// same topology again changes nothing, so any binary may run it at start.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for (name, kind) in [
            (self.ingest_exchange(), ExchangeKind::Direct),
            (self.retry_exchange(), ExchangeKind::Direct),
            (self.dead_exchange(), ExchangeKind::Direct),
            (self.domain_exchange(), ExchangeKind::Topic),
        ] {
            channel
                .exchange_declare(&name, kind, durable, FieldTable::default())
                .await?;
        }

        // The dead-letter queue: operators read it; nothing consumes it automatically.
        self.declare_queue(channel, &self.dead_queue(), self.durable_args())
            .await?;
        self.bind(
            channel,
            &self.dead_queue(),
            &self.dead_exchange(),
            DEAD_ROUTING_KEY,
        )
        .await?;

        let mut work_args = self.durable_args();
        if self.queue_type == QueueType::Quorum {
            // Last guard against a poison message that crashes workers before
            // they can ack: after this many redeliveries the broker dead-letters it.
            work_args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongUInt(self.delivery_limit),
            );
        }
        work_args.insert("x-dead-letter-exchange".into(), text(&self.dead_exchange()));
        work_args.insert("x-dead-letter-routing-key".into(), text(DEAD_ROUTING_KEY));
        self.declare_queue(channel, &self.work_queue(), work_args)
            .await?;
        self.bind(
            channel,
            &self.work_queue(),
            &self.ingest_exchange(),
            EVENT_ROUTING_KEY,
        )
        .await?;

        for tier in 0..self.retry_delays.len() {
            // Delay queues: nobody consumes them. Each message carries its own
            // jittered expiration; on expiry the broker dead-letters it back to
            // the work queue, so a waiting retry holds no consumer and survives
            // worker restarts. That move back is the only copy of an event
            // already acked: a classic queue makes it at most once (dropped if
            // the work queue cannot take it then: no leader, no binding), so a
            // quorum topology uses quorum delay queues that keep the message
            // until the work queue has confirmed it (at-least-once
            // dead-lettering, which needs reject-publish overflow).
            let mut args = self.durable_args();
            if self.queue_type == QueueType::Quorum {
                args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
                args.insert("x-overflow".into(), text("reject-publish"));
            }
            args.insert(
                "x-dead-letter-exchange".into(),
                text(&self.ingest_exchange()),
            );
            args.insert("x-dead-letter-routing-key".into(), text(EVENT_ROUTING_KEY));
            let queue = self.retry_queue(tier);
            self.declare_queue(channel, &queue, args).await?;
            self.bind(
                channel,
                &queue,
                &self.retry_exchange(),
                &Self::retry_routing_key(tier),
            )
            .await?;
        }
        Ok(())
    }

    async fn declare_queue(
        &self,
        channel: &Channel,
        name: &str,
        args: FieldTable,
    ) -> Result<(), lapin::Error> {
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel.queue_declare(name, options, args).await.map(drop)
    }

    async fn bind(
        &self,
        channel: &Channel,
        queue: &str,
        exchange: &str,
        key: &str,
    ) -> Result<(), lapin::Error> {
        channel
            .queue_bind(
                queue,
                exchange,
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    /// Deletes every queue and exchange of this topology (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let mut queues = vec![self.work_queue(), self.dead_queue()];
        queues.extend((0..self.retry_delays.len()).map(|t| self.retry_queue(t)));
        for q in queues {
            channel
                .queue_delete(&q, lapin::options::QueueDeleteOptions::default())
                .await?;
        }
        for e in [
            self.ingest_exchange(),
            self.retry_exchange(),
            self.dead_exchange(),
            self.domain_exchange(),
        ] {
            channel
                .exchange_delete(&e, lapin::options::ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// The heartbeat asked for when the URL names none (`?heartbeat=` wins).
/// A connection whose peer vanished (its host died, a partition) fails only
/// once two heartbeats are missed: with RabbitMQ's default of 60 s that is two
/// minutes of a worker consuming nothing and a gateway's idle connection
/// looking fine. RabbitMQ's guide suggests 5 to 20 s.
pub const DEFAULT_HEARTBEAT_SECS: u16 = 10;

/// Opens a named AMQP connection driven by the current tokio runtime.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let uri = with_default_heartbeat(url)
        .map_err(|reason| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason))?;
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    Connection::connect_uri(uri, props).await
}

/// Parses an AMQP URL, asking for [`DEFAULT_HEARTBEAT_SECS`] unless it names a heartbeat.
fn with_default_heartbeat(url: &str) -> Result<lapin::uri::AMQPUri, String> {
    let mut uri: lapin::uri::AMQPUri = url.parse()?;
    uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT_SECS);
    Ok(uri)
}

/// Why a confirmed publish did not make the message safe.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No open channel to publish on.
    #[error("broker unavailable")]
    Unavailable,
    /// The broker refused to take responsibility for the message.
    #[error("broker nacked the message")]
    Nacked,
    /// No queue is bound to take it (the topology is missing).
    #[error("message was returned as unroutable")]
    Unroutable,
    /// The confirm did not arrive in time.
    #[error("publisher confirm timed out")]
    Timeout,
    /// The channel or connection failed.
    #[error("broker error")]
    Broker(#[from] lapin::Error),
}

/// Publishes a persistent message and waits for the broker's confirm: only an
/// `Ok` means the broker has it safe. `mandatory` turns a missing binding into
/// [`PublishError::Unroutable`] instead of a silent drop.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: lapin::BasicProperties,
    mandatory: bool,
    timeout: Duration,
) -> Result<(), PublishError> {
    use lapin::options::BasicPublishOptions;
    use lapin::publisher_confirm::Confirmation;
    let options = BasicPublishOptions {
        mandatory,
        ..BasicPublishOptions::default()
    };
    let confirm = async {
        channel
            .basic_publish(exchange, routing_key, options, body, properties)
            .await?
            .await
    };
    match tokio::time::timeout(timeout, confirm).await {
        Err(_) => Err(PublishError::Timeout),
        Ok(Err(e)) => Err(PublishError::Broker(e)),
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable),
        Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nacked),
        // Only possible on a channel not in confirm mode: a programming error,
        // reported as a nack so the event is never taken as safe.
        Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Nacked),
    }
}

/// Properties of a persistent JSON message carrying an event's meta.
pub fn persistent_properties(meta: &crate::envelope::EventMeta) -> lapin::BasicProperties {
    lapin::BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(meta.correlation_id.as_str().into())
        .with_timestamp(u64::try_from(meta.received_at.timestamp()).unwrap_or_default())
        .with_headers(meta.to_headers())
}

#[cfg(test)]
mod tests {
    use super::{with_default_heartbeat, DEFAULT_HEARTBEAT_SECS};

    #[test]
    fn a_url_without_a_heartbeat_asks_for_the_default_and_one_with_keeps_its_own() {
        let plain = with_default_heartbeat("amqp://guest:guest@127.0.0.1:5672/%2f").expect("url");
        assert_eq!(plain.query.heartbeat, Some(DEFAULT_HEARTBEAT_SECS));
        let own = with_default_heartbeat("amqp://127.0.0.1/%2f?heartbeat=30").expect("url");
        assert_eq!(own.query.heartbeat, Some(30));
        let off = with_default_heartbeat("amqp://127.0.0.1/%2f?heartbeat=0").expect("url");
        assert_eq!(
            off.query.heartbeat,
            Some(0),
            "0 turns heartbeats off, as asked"
        );
        assert!(with_default_heartbeat("http://nope").is_err());
    }
}
