//! Inlet's worker: turns raw provider events into stored effects, exactly once.
//!
//! - [`config`]: the settings struct, read once.
//! - [`startup`]: builds the worker (pool, migrations, consumer, probes).
//! - [`consumer`]: consumes, acks after commit, retries or dead-letters
//!   (its failure paths in `failure.rs`, micro-batching in `batch.rs`,
//!   coalesced acks in `acks.rs`).
//! - `received`: a plain message or a pack's events, and settling the message they came in.
//! - [`router`]: decode, route to handlers, audit, commit.
//! - [`handlers`]: one per event kind.
//! - [`consent`]: opt-out and opt-in keywords.
//! - [`publish`]: stored events published downstream on `inlet.domain`.
//! - [`retry`]: delay queues and the dead-letter queue.
//! - [`dead_letters`]: the dead-letter table and the operator's replay.
//! - [`headers`]: AMQP headers to JSON and back (dead-letter rows).
//! - [`queue_depth`]: the queue-depth gauges.
//! - [`error`]: the transient/permanent failure classes.
//! - [`delivery`]: forwarding domain events to customers' endpoints.
//! - [`metrics`], [`server`]: what SREs watch.

mod acks;
mod batch;
pub mod config;
pub mod consent;
pub mod consumer;
pub mod dead_letters;
pub mod delivery;
pub mod error;
mod failure;
pub mod handlers;
pub mod headers;
pub mod metrics;
pub mod publish;
pub mod queue_depth;
mod received;
pub mod retry;
pub mod router;
pub mod server;
pub mod startup;
