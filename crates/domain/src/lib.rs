//! Inlet's shared domain: everything both binaries agree on.
//!
//! - [`provider`]: the senders Inlet accepts.
//! - [`signature`]: each sender's signing scheme (sign and verify), shared by the gateway,
//!   the forwarder and the load generator.
//! - [`envelope`]: how a raw webhook travels over AMQP (body untouched, facts in headers).
//! - [`broker`]: the RabbitMQ topology, declared idempotently by either binary.
//! - [`pack`]: several raw events in one broker message, when the gateway has them at once.
//! - [`pick`]: one pass over a body that checks it is JSON and picks out a few strings.
//! - [`payload`]: each provider's envelope, decoded into [`event`] types.
//! - [`event`]: normalised domain events (messages, statuses, reactions, calls, ...), with
//!   `DomainEvent::stable_id` (in `event_id.rs`).
//! - [`consent`]: opt-out/opt-in keyword recognition.
//! - [`repository`]: every SQL statement, and the migrations.
//! - [`settings`]: settings sections shared by the binaries and the one loader.
//! - [`telemetry`]: logging set-up.
//! - [`forward`]: forwarding events to customers' endpoints (URL policy, body, queue).
//! - [`shutdown`]: SIGTERM/SIGINT turned into a cancellation token.
//! - [`supervise`]: the reconnect loop of long-lived broker sessions.

pub mod broker;
pub mod consent;
pub mod envelope;
pub mod event;
mod event_id;
pub mod forward;
pub mod pack;
pub mod payload;
pub mod pick;
pub mod provider;
pub mod repository;
pub mod settings;
pub mod shutdown;
pub mod signature;
pub mod supervise;
pub mod telemetry;

pub use provider::Provider;
