//! Inlet's gateway: the one trusted front door for provider webhooks.
//!
//! A request is checked (content type, size, signature over the raw body,
//! JSON), published to RabbitMQ as a persistent message, and answered 200
//! only once the broker has confirmed it.
//!
//! - [`admin`]: the management API for forwarding (own listener, own database).
//! - [`config`]: the settings struct, read once.
//! - [`senders`]: every configured sender and line, keys parsed once.
//! - [`peek`]: the line and dedup key a verified body names (read in one pass by `inlet_domain::pick`).
//! - [`dedup`]: the two-phase Redis claim (fails open).
//! - [`intake`]: group commit: the webhooks waiting together are claimed, published and marked done together.
//! - [`throttle`]: 429 for addresses that keep failing signature checks.
//! - [`startup`]: builds the app and binds its listener.
//! - [`publisher`]: the self-healing confirm-mode channel pool.
//! - [`routes`]: webhooks per provider, health, metrics.
//! - [`error`]: the error type handlers answer with.
//! - [`metrics`]: every metric the gateway exports.

pub mod admin;
pub mod body_budget;
pub mod config;
pub mod dedup;
pub mod error;
pub mod intake;
pub mod metrics;
pub mod peek;
pub mod publisher;
pub mod routes;
pub mod senders;
pub mod throttle;

pub mod startup;
