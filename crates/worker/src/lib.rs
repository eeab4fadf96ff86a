//! Inlet's worker: turns raw provider events into stored effects, exactly once.
//!
//! - [`config`]: the settings struct, read once.
//! - [`startup`]: builds the worker (pool, migrations, consumer, probes).
//! - [`consumer`]: consumes, acks after commit, retries or dead-letters.
//! - [`router`]: decode, route to handlers, audit, commit.
//! - [`handlers`]: one per event kind.
//! - [`retry`]: delay queues and the dead-letter queue.
//! - [`error`]: the transient/permanent failure classes.
//! - [`delivery`]: forwarding domain events to customers' endpoints.
//! - [`metrics`], [`server`]: what SREs watch.

pub mod config;
pub mod consumer;
pub mod delivery;
pub mod error;
pub mod handlers;
pub mod metrics;
pub mod retry;
pub mod router;
pub mod server;
pub mod startup;
